// synth-hoc: a dense, structure-free cluster of overlapping beans covering the whole image
// (the paper's "DSF-HOC" case, Figure 5 right), with exact ground truth: a 16-bit instance label
// map and every bean's full (unoccluded) area. Deterministic from (seed, image index).
import Foundation
import Tensor

/// One bean of a synthetic hoc image, in painting order (later beans lie on top).
public struct SynthHocObject: Codable, Sendable, Equatable {
    /// The instance id in the label map (1-based painting order).
    public var id: Int
    /// The centre in pixels (may lie outside the image near its border).
    public var centerX: Double
    public var centerY: Double
    /// Semi-axes in pixels and orientation of the major axis in radians.
    public var semiMajor: Double
    public var semiMinor: Double
    public var angle: Double
    /// The base colour (RGB in [0, 1]).
    public var color: [Double]
    /// Pixels of the whole ellipse on an unbounded raster: the unoccluded, unclipped area.
    public var fullArea: Int
    /// Pixels of the ellipse inside the image (unoccluded, clipped by the border).
    public var areaInImage: Int
    /// Pixels where this bean is the top-most one (its count in the label map).
    public var visibleArea: Int
}

/// What `carve data synth-hoc` records about a data set in `dataset.json`.
public struct SynthHocInfo: Codable, Sendable, Equatable {
    /// Always "synth-hoc".
    public var kind: String
    public var seed: UInt64
    public var count: Int
    public var height: Int
    public var width: Int
    /// The largest bean's extent (2 × the largest semi-major axis allowed), pixels.
    public var largestInstance: Int
    /// The suggested patch window, ~1.5 × largestInstance (paper, hoc Data Preparation).
    public var window: Int

    /// Reads `folder/dataset.json`.
    public static func read(folder: String) throws -> SynthHocInfo {
        let path = (folder as NSString).appendingPathComponent("dataset.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageError.cannotOpen(path: path, reason: "no such file")
        }
        do {
            return try JSONDecoder().decode(SynthHocInfo.self, from: data)
        } catch {
            throw DatasetError.badLine(path: path, line: 1, reason: "not a synth-hoc dataset.json (\(error))")
        }
    }
}

/// A synthetic hoc image with its ground truth.
public struct SynthHocSample: Sendable {
    /// RGB, values in [0, 1].
    public var image: Image
    /// The id of the top-most bean at each pixel (0 only where no bean covers it).
    public var labels: LabelMap
    /// Every bean, in painting order (`objects[i].id == i + 1`).
    public var objects: [SynthHocObject]
    /// Size, seed and suggested window.
    public var info: SynthHocInfo
}

/// Generator of dense bean clusters (synth-hoc).
///
/// ```swift
/// let sample = SynthHoc.generate(seed: 7, height: 256, width: 256)
/// try SynthHoc.write(to: "data/beans", count: 1, seed: 7)   // image-000.png, instances-000.png, objects-000.json
/// ```
public enum SynthHoc {
    /// The range of semi-major axes (pixels) of the beans.
    public static let semiMajorRange: ClosedRange<Double> = 10...15
    /// Beans are placed until less than this fraction of the image is uncovered.
    public static let uncoveredFraction = 0.002

    /// Base colours of the bean varieties (jittered per bean).
    static let palette: [RGB] = [
        RGB(0.58, 0.20, 0.14), // kidney red
        RGB(0.80, 0.63, 0.40), // tan
        RGB(0.40, 0.24, 0.13), // brown
        RGB(0.88, 0.80, 0.62), // cream
        RGB(0.66, 0.38, 0.20), // pinto orange-brown
    ]

    /// Renders image `index` of the data set `seed`: a `height` × `width` cluster of beans.
    ///
    /// Each bean i draws its shape, colour and position from CounterRNG(seed, "synth-hoc",
    /// step: index, index: i); beans are added until the image is covered.
    public static func generate(seed: UInt64, index: Int = 0, height: Int = 256, width: Int = 256) -> SynthHocSample {
        precondition(height >= 32 && width >= 32, "SynthHoc.generate: \(height) × \(width) is too small (≥ 32)")
        let n = height * width
        var pixels = [Float](repeating: 0.04, count: 3 * n)
        var labels = [UInt16](repeating: 0, count: n)
        var objects = [SynthHocObject]()
        var uncovered = n
        let lightRaw = SIMD3<Float>(-0.45, -0.55, 0.70)
        let light = lightRaw / (lightRaw * lightRaw).sum().squareRoot()
        let textureSeed = UInt32(truncatingIfNeeded: seed ^ (seed >> 32)) &+ UInt32(index) &* 0x85eb_ca6b
        let maxObjects = 65535
        pixels.withUnsafeMutableBufferPointer { px in
            labels.withUnsafeMutableBufferPointer { lab in
                while Double(uncovered) > uncoveredFraction * Double(n) && objects.count < maxObjects {
                    let id = objects.count + 1
                    var rng = CounterRNG(seed: seed, purpose: "synth-hoc", step: index, index: id)
                    let a = Double(rng.uniform(Float(semiMajorRange.lowerBound), Float(semiMajorRange.upperBound)))
                    let b = a * Double(rng.uniform(0.55, 0.72))
                    let theta = Double(rng.uniform(0, Float.pi))
                    let cx = Double(rng.uniform(-Float(a) * 0.5, Float(width) + Float(a) * 0.5))
                    let cy = Double(rng.uniform(-Float(a) * 0.5, Float(height) + Float(a) * 0.5))
                    var color = palette[rng.int(below: palette.count)]
                    color = clamp01(color * rng.uniform(0.85, 1.15) + RGB(rng.uniform(-0.05, 0.05),
                                                                          rng.uniform(-0.05, 0.05),
                                                                          rng.uniform(-0.05, 0.05)))
                    let speckleSeed = textureSeed &+ UInt32(id) &* 0x2545_f491
                    let cosT = Float(cos(theta)), sinT = Float(sin(theta))
                    let extent = Int(a.rounded(.up)) + 1
                    var full = 0, inImage = 0
                    for y in (Int(cy) - extent)...(Int(cy) + extent) {
                        for x in (Int(cx) - extent)...(Int(cx) + extent) {
                            let dx = Float(Double(x) + 0.5 - cx), dy = Float(Double(y) + 0.5 - cy)
                            let p = (dx * cosT + dy * sinT) / Float(a)   // along the major axis
                            let q = (-dx * sinT + dy * cosT) / Float(b)  // along the minor axis
                            let r2 = p * p + q * q
                            guard r2 <= 1 else { continue }
                            full += 1
                            guard x >= 0 && x < width && y >= 0 && y < height else { continue }
                            inImage += 1
                            // A shaded ellipsoid lit from the upper left, with speckles and a
                            // darker hilum near one end of the major axis.
                            let z = (1 - r2).squareRoot()
                            let normal = SIMD3<Float>(p * cosT - q * sinT, p * sinT + q * cosT, z)
                            let diffuse = max(0, (normal * light).sum())
                            let specular = pow(max(0, diffuse), 24) * 0.25
                            let speckle = (fractalNoise(seed: speckleSeed, x: Float(x), y: Float(y), cell: 4, octaves: 2) - 0.5) * 0.18
                            let hilum: Float = (abs(q) < 0.18 && p > 0.45 && p < 0.75) ? 0.55 : 1
                            let shade = (0.30 + 0.75 * diffuse) * hilum
                            let rgb = clamp01(color * shade + RGB(repeating: speckle + specular))
                            let i = y * width + x
                            if lab[i] == 0 { uncovered -= 1 }
                            lab[i] = UInt16(id)
                            px[i] = rgb.x
                            px[n + i] = rgb.y
                            px[2 * n + i] = rgb.z
                        }
                    }
                    objects.append(SynthHocObject(
                        id: id, centerX: cx, centerY: cy, semiMajor: a, semiMinor: b, angle: theta,
                        color: [Double(color.x), Double(color.y), Double(color.z)],
                        fullArea: full, areaInImage: inImage, visibleArea: 0))
                }
                for i in 0..<n where lab[i] != 0 { objects[Int(lab[i]) - 1].visibleArea += 1 }
            }
        }
        let largest = Int((2 * semiMajorRange.upperBound).rounded(.up))
        let info = SynthHocInfo(kind: "synth-hoc", seed: seed, count: 1, height: height, width: width,
                                largestInstance: largest, window: Int((1.5 * Double(largest)).rounded()))
        return SynthHocSample(image: Image(channels: 3, height: height, width: width, pixels: pixels),
                              labels: LabelMap(height: height, width: width, labels: labels),
                              objects: objects, info: info)
    }

    /// Writes `count` images to `folder`: `image-NNN.png` (RGB), `instances-NNN.png` (16-bit
    /// labels), `objects-NNN.json` (every bean, with `fullArea`/`visibleArea`), and `dataset.json`.
    /// - Throws: `ImageError` naming the file that could not be written.
    public static func write(to folder: String, count: Int = 1, seed: UInt64 = 0,
                             height: Int = 256, width: Int = 256) throws {
        precondition(count >= 1, "SynthHoc.write: count \(count) must be positive")
        try createFolder(folder)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var info: SynthHocInfo? = nil
        for index in 0..<count {
            let sample = generate(seed: seed, index: index, height: height, width: width)
            let stem = String(format: "%03d", index)
            try sample.image.write(path: (folder as NSString).appendingPathComponent("image-\(stem).png"))
            try sample.labels.write(path: (folder as NSString).appendingPathComponent("instances-\(stem).png"))
            try writeAtomically(encoder.encode(sample.objects),
                                to: (folder as NSString).appendingPathComponent("objects-\(stem).json"))
            info = sample.info
        }
        info!.count = count
        try writeAtomically(encoder.encode(info!), to: (folder as NSString).appendingPathComponent("dataset.json"))
    }
}

// MARK: - Small file helpers

/// Creates `folder` (and its parents) if needed; the error names it.
func createFolder(_ folder: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
        throw ImageError.writeFailed(path: folder, reason: "cannot create the folder")
    }
}

/// Writes `data` to a temporary file next to `path` and renames it over `path`.
func writeAtomically(_ data: Data, to path: String) throws {
    do {
        try AtomicFile.write(data, to: URL(fileURLWithPath: path))
    } catch {
        throw ImageError.writeFailed(path: path, reason: error.localizedDescription)
    }
}
