// synth-fg: ladybird-like beetles (one category: a shaded, spotted shell plus a dark head, in
// varied colour, size and orientation) pasted on procedural backgrounds or on patches of given
// photos, with exact masks, written in the fg layout (images/, masks/, boxes.csv) with a
// train / held-out split and a background pool. Deterministic from the seed.
import Foundation
import Tensor

/// A synthetic fg scene: the image, its exact 0/1 mask and the annotation box around the beetle.
public struct SynthFgSample: Sendable {
    /// RGB scene, S × S.
    public var image: Image
    /// 1 × S × S, exactly 0 or 1.
    public var mask: Image
    /// The annotation box: the mask's tight box plus a random margin, clipped to the scene.
    public var box: Box
}

/// What `carve data synth-fg` records in `dataset.json`.
public struct SynthFgInfo: Codable, Sendable, Equatable {
    /// Always "synth-fg".
    public var kind: String
    public var seed: UInt64
    public var sceneSize: Int
    public var trainCount: Int
    public var heldOutCount: Int
    public var backgroundCount: Int
    /// True when backgrounds came from photos rather than procedural textures.
    public var photoBackgrounds: Bool
}

/// Generator of beetle-on-background scenes (synth-fg).
///
/// ```swift
/// let scene = SynthFg.scene(seed: 3, index: 0)
/// try SynthFg.write(to: "data/beetles", count: 200, seed: 3)   // train/, heldout/, backgrounds/
/// let train = try FgDataset.load(folder: "data/beetles/train")
/// ```
public enum SynthFg {
    /// Shell colours (jittered per beetle): red, orange, yellow, crimson.
    static let shellPalette: [RGB] = [RGB(0.85, 0.12, 0.08), RGB(0.95, 0.45, 0.05),
                                      RGB(0.95, 0.78, 0.10), RGB(0.70, 0.05, 0.15)]

    /// A procedural S × S background: two-colour fractal noise in muted natural tones
    /// (foliage, soil, sky, stone), from CounterRNG(seed, purpose, index).
    public static func proceduralBackground(seed: UInt64, purpose: String = "synth-fg-background", index: Int, size: Int) -> Image {
        var rng = CounterRNG(seed: seed, purpose: purpose, index: index)
        let tones: [RGB] = [RGB(0.22, 0.42, 0.18), RGB(0.45, 0.36, 0.24), RGB(0.45, 0.60, 0.75),
                            RGB(0.50, 0.50, 0.48), RGB(0.30, 0.50, 0.30), RGB(0.62, 0.56, 0.40)]
        func tone(_ rng: inout CounterRNG) -> RGB {
            clamp01(tones[rng.int(below: tones.count)] * rng.uniform(0.7, 1.2))
        }
        let a = tone(&rng), b = tone(&rng)
        let cell = rng.uniform(Float(size) / 8, Float(size) / 2)
        let noiseSeed = rng.nextUInt32()
        let grainSeed = rng.nextUInt32()
        let n = size * size
        var pixels = [Float](repeating: 0, count: 3 * n)
        pixels.withUnsafeMutableBufferPointer { px in
            for y in 0..<size {
                for x in 0..<size {
                    let t = fractalNoise(seed: noiseSeed, x: Float(x), y: Float(y), cell: cell, octaves: 4)
                    let s = min(max((t - 0.5) * 2.2 + 0.5, 0), 1)
                    let grain = (valueNoise(seed: grainSeed, x: Float(x), y: Float(y), cell: 2) - 0.5) * 0.08
                    let c = clamp01(a * (1 - s) + b * s + RGB(repeating: grain))
                    let i = y * size + x
                    px[i] = c.x
                    px[n + i] = c.y
                    px[2 * n + i] = c.z
                }
            }
        }
        return Image(channels: 3, height: size, width: size, pixels: pixels)
    }

    /// Scene `index` of data set `seed`: one beetle drawn from CounterRNG(seed, "synth-fg", index)
    /// over `background` (or a procedural background when nil), with its exact mask and box.
    public static func scene(seed: UInt64, index: Int, size: Int = 160, background: Image? = nil) -> SynthFgSample {
        precondition(size >= 48, "SynthFg.scene: size \(size) is too small (≥ 48)")
        var image = background.map { $0.rgb().resized(height: size, width: size) }
            ?? proceduralBackground(seed: seed, purpose: "synth-fg-scene-background", index: index, size: size)
        var mask = Image(channels: 1, height: size, width: size)
        var rng = CounterRNG(seed: seed, purpose: "synth-fg", index: index)
        let a = rng.uniform(0.17, 0.27) * Float(size)           // shell semi-major axis
        let b = a * rng.uniform(0.72, 0.86)                      // shell semi-minor axis
        let theta = rng.uniform(0, 2 * Float.pi)
        let headRadius = b * rng.uniform(0.42, 0.52)
        let reach = a + headRadius * 1.6
        let cx = rng.uniform(reach + 2, Float(size) - reach - 2)
        let cy = rng.uniform(reach + 2, Float(size) - reach - 2)
        let shell = clamp01(shellPalette[rng.int(below: shellPalette.count)] * rng.uniform(0.85, 1.1))
        let spotCount = 2 + rng.int(below: 6)
        var spots = [(p: Float, q: Float, r: Float)]()
        for _ in 0..<spotCount {
            spots.append((rng.uniform(-0.6, 0.55), rng.uniform(-0.7, 0.7), rng.uniform(0.12, 0.22)))
        }
        let cosT = cos(theta), sinT = sin(theta)
        let light = SIMD3<Float>(-0.4, -0.5, 0.77) / (SIMD3<Float>(-0.4, -0.5, 0.77) * SIMD3<Float>(-0.4, -0.5, 0.77)).sum().squareRoot()
        let n = size * size
        var minX = size, minY = size, maxX = -1, maxY = -1
        image.pixels.withUnsafeMutableBufferPointer { px in
            mask.pixels.withUnsafeMutableBufferPointer { m in
                for y in 0..<size {
                    for x in 0..<size {
                        let dx = Float(x) + 0.5 - cx, dy = Float(y) + 0.5 - cy
                        let u = dx * cosT + dy * sinT, v = -dx * sinT + dy * cosT   // u along the body
                        let p = u / a, q = v / b
                        let r2 = p * p + q * q
                        let hu = u - a * 0.92, hr2 = (hu * hu + v * v) / (headRadius * headRadius)
                        var color: RGB
                        if r2 <= 1 {
                            // Shell: shaded dome, dark centre seam, black spots, a white sheen.
                            let z = (1 - r2).squareRoot()
                            let normal = SIMD3<Float>(p * cosT - q * sinT, p * sinT + q * cosT, z)
                            let diffuse = max(0, (normal * light).sum())
                            color = shell * (0.35 + 0.75 * diffuse)
                            if abs(q) < 0.05 && p < 0.85 { color = RGB(0.05, 0.04, 0.04) }
                            for s in spots where (p - s.p) * (p - s.p) + (q - s.q) * (q - s.q) * 0.8 < s.r * s.r {
                                color = RGB(0.06, 0.05, 0.05) * (0.6 + 0.6 * diffuse)
                            }
                            color += RGB(repeating: pow(diffuse, 30) * 0.5)
                        } else if hr2 <= 1 && hu > 0 {
                            // Head: a dark disk with two pale eye spots.
                            color = RGB(0.08, 0.07, 0.07)
                            let eye1 = (hu - headRadius * 0.45) * (hu - headRadius * 0.45) + (v - headRadius * 0.45) * (v - headRadius * 0.45)
                            let eye2 = (hu - headRadius * 0.45) * (hu - headRadius * 0.45) + (v + headRadius * 0.45) * (v + headRadius * 0.45)
                            let eyeR = headRadius * 0.2
                            if eye1 < eyeR * eyeR || eye2 < eyeR * eyeR { color = RGB(0.9, 0.9, 0.85) }
                        } else {
                            continue
                        }
                        let c = clamp01(color)
                        let i = y * size + x
                        px[i] = c.x
                        px[n + i] = c.y
                        px[2 * n + i] = c.z
                        m[i] = 1
                        minX = min(minX, x); maxX = max(maxX, x)
                        minY = min(minY, y); maxY = max(maxY, y)
                    }
                }
            }
        }
        // Annotation box: tight box plus 5–25 % margins, clipped to the scene.
        let bw = Float(maxX - minX + 1), bh = Float(maxY - minY + 1)
        let left = max(0, Float(minX) - bw * rng.uniform(0.05, 0.25))
        let top = max(0, Float(minY) - bh * rng.uniform(0.05, 0.25))
        let right = min(Float(size), Float(maxX + 1) + bw * rng.uniform(0.05, 0.25))
        let bottom = min(Float(size), Float(maxY + 1) + bh * rng.uniform(0.05, 0.25))
        let box = Box(x: Double(left.rounded(.down)), y: Double(top.rounded(.down)),
                      w: Double(right.rounded(.up) - left.rounded(.down)), h: Double(bottom.rounded(.up) - top.rounded(.down)))
        return SynthFgSample(image: image, mask: mask, box: box)
    }

    /// Writes `count` scenes to `folder` in the fg layout, plus a background pool and dataset.json:
    ///
    ///     folder/train/{images/NNNNN.png, masks/NNNNN.png, boxes.csv}     (~90 %)
    ///     folder/heldout/{images/NNNNN.png, masks/NNNNN.png, boxes.csv}   (~10 %, at least 1)
    ///     folder/backgrounds/bg-NNN.png                                   (the background pool)
    ///
    /// - Parameters:
    ///   - backgroundPhotos: optional photos; scenes and pool then use random patches of them.
    /// - Throws: `ImageError` naming the file that could not be written.
    public static func write(to folder: String, count: Int = 200, seed: UInt64 = 0, sceneSize: Int = 160,
                             backgroundPhotos: BackgroundPool? = nil) throws {
        precondition(count >= 2, "SynthFg.write: count \(count) must be at least 2 (train + held-out)")
        let heldOut = max(1, count / 10)
        let train = count - heldOut
        let poolCount = max(8, count / 4)
        for (split, range) in [("train", 0..<train), ("heldout", train..<count)] {
            let root = (folder as NSString).appendingPathComponent(split)
            try createFolder((root as NSString).appendingPathComponent("images"))
            try createFolder((root as NSString).appendingPathComponent("masks"))
            var csv = "file,x,y,w,h\n"
            for index in range {
                let background = backgroundPhotos.map {
                    BackgroundPool(images: $0.images, size: sceneSize).patch(seed: seed, step: 0, sample: index)
                }
                let sample = scene(seed: seed, index: index, size: sceneSize, background: background)
                let name = String(format: "%05d.png", index)
                try sample.image.write(path: (root as NSString).appendingPathComponent("images/" + name))
                try sample.mask.write(path: (root as NSString).appendingPathComponent("masks/" + name))
                csv += "images/\(name),\(Int(sample.box.x)),\(Int(sample.box.y)),\(Int(sample.box.w)),\(Int(sample.box.h))\n"
            }
            try writeAtomically(Data(csv.utf8), to: (root as NSString).appendingPathComponent("boxes.csv"))
        }
        let pool = (folder as NSString).appendingPathComponent("backgrounds")
        try createFolder(pool)
        for index in 0..<poolCount {
            let image = backgroundPhotos.map {
                BackgroundPool(images: $0.images, size: 2 * sceneSize).patch(seed: seed, step: 1, sample: index)
            } ?? proceduralBackground(seed: seed, index: index, size: 2 * sceneSize)
            try image.write(path: (pool as NSString).appendingPathComponent(String(format: "bg-%03d.png", index)))
        }
        let info = SynthFgInfo(kind: "synth-fg", seed: seed, sceneSize: sceneSize, trainCount: train,
                               heldOutCount: heldOut, backgroundCount: poolCount,
                               photoBackgrounds: backgroundPhotos != nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(encoder.encode(info), to: (folder as NSString).appendingPathComponent("dataset.json"))
    }
}
