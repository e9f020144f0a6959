// Note [Stitching windows]
// hoc's segmenter sees one window (the training patch) at a time; a user's image is larger.
// Windows overlap by half and every pixel's maps are the weighted mean of the windows that see
// it, weight = tent(y)·tent(x) with tent(i) = min(i + 1, P − i) / (P/2): a window trusts its
// centre, where it saw the most context, and barely its border, where an object was cut. The
// instances are then decoded once from the stitched maps (`CentreMaps.decode`), never per
// window, so an object that straddles a window border is one instance by construction (its
// centre lies well inside some window, whose prediction dominates there), and there are no
// per-window ids to merge. The windows tile the image exactly: 0, s, 2s, … and one flush with
// the far border, so every pixel is seen by at least one window; an image smaller than a window
// is padded by repeating its edge first.

/// Overlapping `window` × `window` windows over a `height` × `width` image and the weighted
/// stitching of per-window maps (Note [Stitching windows]).
///
/// ```swift
/// let windows = SlidingWindows(height: 300, width: 500, window: 64)
/// let maps = windows.stitch(channels: 2) { batch in predict(windows.origins[batch]) }
/// ```
public struct SlidingWindows: Sendable {
    public let height: Int
    public let width: Int
    public let window: Int
    public let stride: Int
    /// Top-left corners, row-major.
    public let origins: [(y: Int, x: Int)]

    /// - Precondition: the image is at least one window in each direction (pad it first).
    public init(height: Int, width: Int, window: Int, stride: Int? = nil) {
        precondition(window >= 2 && height >= window && width >= window,
                     "SlidingWindows: a \(window)-pixel window over \(height) × \(width)")
        self.height = height
        self.width = width
        self.window = window
        self.stride = max(1, stride ?? window / 2)
        let ys = Self.starts(length: height, window: window, stride: self.stride)
        let xs = Self.starts(length: width, window: window, stride: self.stride)
        origins = ys.flatMap { y in xs.map { x in (y: y, x: x) } }
    }

    /// 0, s, 2s, … below length − window, then length − window.
    static func starts(length: Int, window: Int, stride: Int) -> [Int] {
        var out: [Int] = []
        var s = 0
        while s + window < length { out.append(s); s += stride }
        out.append(length - window)
        return out
    }

    /// The weight of each window pixel (row-major P·P): tent(y)·tent(x).
    public static func weights(window p: Int) -> [Float] {
        let tent = (0..<p).map { Float(min($0 + 1, p - $0)) / Float(p / 2) }
        return (0..<(p * p)).map { tent[$0 / p] * tent[$0 % p] }
    }

    /// The stitched maps [channels, height, width] (row-major): `predict(range)` returns the maps
    /// of windows `origins[range]`, [range.count, channels, P, P] flattened; it is called with
    /// consecutive ranges of at most `batch` windows.
    public func stitch(channels: Int, batch: Int = 16, predict: (Range<Int>) throws -> [Float]) rethrows -> [Float] {
        let p = window, pp = p * p, hw = height * width
        let w = Self.weights(window: p)
        var sum = [Float](repeating: 0, count: channels * hw), total = [Float](repeating: 0, count: hw)
        var start = 0
        while start < origins.count {
            let range = start..<min(start + max(batch, 1), origins.count)
            let maps = try predict(range)
            precondition(maps.count == range.count * channels * pp,
                         "SlidingWindows.stitch: \(maps.count) values for \(range.count) windows × \(channels) × \(p)²")
            for (k, n) in range.enumerated() {
                let (oy, ox) = origins[n]
                for y in 0..<p {
                    for x in 0..<p {
                        let weight = w[y * p + x], i = (oy + y) * width + ox + x
                        total[i] += weight
                        for c in 0..<channels { sum[c * hw + i] += weight * maps[((k * channels + c) * p + y) * p + x] }
                    }
                }
            }
            start = range.upperBound
        }
        for c in 0..<channels { for i in 0..<hw { sum[c * hw + i] /= total[i] } }
        return sum
    }
}
