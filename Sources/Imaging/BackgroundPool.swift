// The background provider's pool (paper, fg "Background Provider"): natural images from which
// random patches are sampled. A patch is a pure function of (seed, step, global sample index).
import Foundation
import Tensor

/// A folder of background images from which random S × S patches are drawn.
///
/// Patch for global sample g at step t: CounterRNG(seed, "background", t, g) picks an image, a
/// square window of side uniform in [S/2 … shorter side] (clamped ≥ 8), its position and a
/// left ↔ right flip; the window is resized to S × S. Images shorter than S are used whole.
///
/// ```swift
/// let pool = try BackgroundPool.load(folder: "backgrounds", size: 128)
/// bg.withUnsafeMutableBufferPointer { pool.fill($0, seed: 1, step: t, samples: slice) }  // N × 3 × 128 × 128
/// ```
public struct BackgroundPool: Sendable {
    /// The images, RGB.
    public let images: [Image]
    /// The patch side S.
    public let size: Int

    /// A pool of in-memory images (converted to RGB).
    public init(images: [Image], size: Int) {
        precondition(!images.isEmpty, "BackgroundPool: no images")
        precondition(size >= 1, "BackgroundPool: size \(size) must be positive")
        self.images = images.map { $0.rgb() }
        self.size = size
    }

    /// Loads every image in `folder` (PNG or JPEG: `Image.imageNames(inFolder:)`).
    /// - Throws: `DatasetError.noImages` or `ImageError` naming the file.
    public static func load(folder: String, size: Int = 128) throws -> BackgroundPool {
        let names = try Image.imageNames(inFolder: folder)
        guard !names.isEmpty else { throw DatasetError.noImages(path: folder) }
        return BackgroundPool(images: try names.map { try Image.read(path: (folder as NSString).appendingPathComponent($0)) },
                              size: size)
    }

    /// The background patch (3 × S × S) for global sample `sample` at `step`.
    public func patch(seed: UInt64, step: Int, sample: Int) -> Image {
        var rng = CounterRNG(seed: seed, purpose: "background", step: step, index: sample)
        let image = images[rng.int(below: images.count)]
        let shorter = min(image.height, image.width)
        let lo = min(shorter, max(8, size / 2))
        let side = lo + rng.int(below: shorter - lo + 1)
        let x = rng.int(below: image.width - side + 1), y = rng.int(below: image.height - side + 1)
        let flip = rng.uniform() < 0.5
        let out = image.region(x: x, y: y, width: side, height: side, resizedTo: size, size)
        return flip ? out.flippedHorizontally() : out
    }

    /// Fills `out` (N × 3 × S × S, N = samples.count) with the patches of global samples `samples`.
    public func fill(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, step: Int, samples: [Int]) {
        let n = 3 * size * size
        precondition(out.count == samples.count * n,
                     "BackgroundPool.fill: buffer of \(out.count) floats for \(samples.count) × 3 × \(size) × \(size)")
        for (k, g) in samples.enumerated() {
            patch(seed: seed, step: step, sample: g).copy(into: out.baseAddress! + k * n)
        }
    }
}
