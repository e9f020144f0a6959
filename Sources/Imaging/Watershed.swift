// The classical instance baseline of hoc evaluation: Otsu's threshold, the Euclidean distance
// transform, its local maxima as markers and a marker-controlled watershed on −distance
// (what scikit-image's "separating touching objects" example does). Carve computes it itself
// so that a user sees, on their own image, whether the learned model beats it.

/// Classical segmentation pieces: Otsu's threshold, the exact Euclidean distance transform,
/// connected components and a marker watershed, and `instances(of:)` combining them.
///
/// ```swift
/// let labels = ClassicalSegmentation.instances(of: try Image.read(path: "nuclei.png"))
/// print(Set(labels.labels).count - 1, "objects")
/// ```
public enum ClassicalSegmentation {
    /// Otsu's threshold of values in [0, 1] (256 bins): the bin edge that maximises the
    /// between-class variance; pixels > the threshold are one class.
    public static func otsu(_ values: [Float]) -> Float {
        var histogram = [Double](repeating: 0, count: 256)
        for v in values { histogram[min(max(Int(v * 255 + 0.5), 0), 255)] += 1 }
        let total = Double(values.count)
        var sumAll = 0.0
        for (i, h) in histogram.enumerated() { sumAll += Double(i) * h }
        var weightBelow = 0.0, sumBelow = 0.0, best = -1.0, threshold = 0
        for i in 0..<255 {
            weightBelow += histogram[i]
            sumBelow += Double(i) * histogram[i]
            let weightAbove = total - weightBelow
            guard weightBelow > 0 && weightAbove > 0 else { continue }
            let meanBelow = sumBelow / weightBelow, meanAbove = (sumAll - sumBelow) / weightAbove
            let between = weightBelow * weightAbove * (meanBelow - meanAbove) * (meanBelow - meanAbove)
            if between > best { best = between; threshold = i }
        }
        return (Float(threshold) + 0.5) / 255
    }

    /// Where Otsu's threshold puts a gray image's objects (`threshold(of:)`).
    public struct Threshold: Sendable, Equatable {
        /// The threshold: objects lie above it (`brightObjects`) or at or below it.
        public var value: Float
        /// Whether the objects are brighter than the background.
        public var brightObjects: Bool
        /// The intensities the threshold was computed on were clipped to this range (Note
        /// [Outlier tail]); nil where they were not.
        public var clip: ClosedRange<Float>?

        /// Whether intensity `v` is on the objects' side.
        public func isObject(_ v: Float) -> Bool { brightObjects ? v > value : v <= value }
    }

    /// The foreground of a gray image by Otsu's threshold (`threshold(of:)`).
    public static func foreground(of gray: Image) -> [Bool] {
        let t = threshold(of: gray)
        return gray.pixels.map(t.isObject)
    }

    /// Otsu's threshold of a gray image. Objects are the class the image border is not in (the
    /// border is mostly background), so bright nuclei on black and dark seeds on a light tray
    /// both work.
    ///
    /// Note [Outlier tail]: when the objects' side of Otsu's threshold holds at most 1 % of the
    /// pixels, the threshold has split off a rare tail — a few saturated nuclei among many dim
    /// ones (../shared/data/hoc/nuclei_fluor.png: 0.7 % of the image above it, every dim nucleus
    /// below) — so Otsu runs again on the intensities clipped at the 99th percentile on that side
    /// (there: 20 % foreground, the nuclei), and `clip` says so: what is measured on the objects
    /// afterwards (their colour, `HocDataset.plates`) is measured clipped alike. The images where
    /// the first threshold leaves more than 1 % are thresholded as before (the labelled nuclei
    /// sets, the coins: 5–42 %).
    public static func threshold(of gray: Image) -> Threshold {
        precondition(gray.channels == 1, "threshold: a gray image, got \(gray.channels) channels")
        var t = otsu(gray.pixels)
        let h = gray.height, w = gray.width
        var border = 0.0, count = 0.0
        for y in 0..<h { for x in 0..<w where y == 0 || x == 0 || y == h - 1 || x == w - 1 { border += Double(gray.pixels[y * w + x]); count += 1 } }
        let brightObjects = border / max(count, 1) <= Double(t)
        let first = Threshold(value: t, brightObjects: brightObjects, clip: nil)
        var clip: ClosedRange<Float>?
        if gray.pixels.filter(first.isObject).count * 100 <= gray.pixels.count, gray.pixels.count > 1 {
            let sorted = gray.pixels.sorted(), n = sorted.count
            // The objects' side clipped at its percentile, the range stretched back to [0, 1].
            let lo = brightObjects ? sorted[0] : sorted[(n - 1) / 100], hi = brightObjects ? sorted[(n - 1) * 99 / 100] : sorted[n - 1]
            if hi > lo {
                let clipped = gray.pixels.map { (min(max($0, lo), hi) - lo) / (hi - lo) }
                t = lo + otsu(clipped) * (hi - lo)
                clip = lo...hi
            }
        }
        return Threshold(value: t, brightObjects: brightObjects, clip: clip)
    }

    /// The exact Euclidean distance of every pixel to the nearest background pixel (0 on the
    /// background; pixels beyond the image border count as background), by Felzenszwalb and
    /// Huttenlocher's two passes of 1-D squared distance transforms.
    public static func distanceTransform(_ mask: [Bool], height h: Int, width w: Int) -> [Float] {
        let inf = Float(h * h + w * w + 1)
        var f = [Float](repeating: 0, count: h * w)
        // Columns: 1-D transform with the image border as background.
        var column = [Float](repeating: 0, count: h + 2), out = [Float](repeating: 0, count: h + 2)
        for x in 0..<w {
            column[0] = 0; column[h + 1] = 0
            for y in 0..<h { column[y + 1] = mask[y * w + x] ? inf : 0 }
            squared1D(column, into: &out)
            for y in 0..<h { f[y * w + x] = out[y + 1] }
        }
        var row = [Float](repeating: 0, count: w + 2), rowOut = [Float](repeating: 0, count: w + 2)
        for y in 0..<h {
            row[0] = 0; row[w + 1] = 0
            for x in 0..<w { row[x + 1] = f[y * w + x] }
            squared1D(row, into: &rowOut)
            for x in 0..<w { f[y * w + x] = rowOut[x + 1].squareRoot() }
        }
        return f
    }

    /// d(q) = min_p (q − p)² + f(p): the lower envelope of parabolas.
    static func squared1D(_ f: [Float], into d: inout [Float]) {
        let n = f.count
        var v = [Int](repeating: 0, count: n), z = [Float](repeating: 0, count: n + 1)
        var k = 0
        z[0] = -.infinity; z[1] = .infinity
        func intersection(_ q: Int, _ p: Int) -> Float {
            ((f[q] + Float(q * q)) - (f[p] + Float(p * p))) / Float(2 * q - 2 * p)
        }
        for q in 1..<n {
            var s = intersection(q, v[k])
            while s <= z[k] {  // z[0] = −∞ stops this at k = 0
                k -= 1
                s = intersection(q, v[k])
            }
            k += 1
            v[k] = q; z[k] = s; z[k + 1] = .infinity
        }
        k = 0
        for q in 0..<n {
            while z[k + 1] < Float(q) { k += 1 }
            let p = v[k]
            d[q] = Float((q - p) * (q - p)) + f[p]
        }
    }

    /// 4-connected components of `mask`: ids 1, 2, … in raster order of their first pixel.
    public static func components(_ mask: [Bool], height h: Int, width w: Int) -> (labels: [Int32], count: Int) {
        var labels = [Int32](repeating: 0, count: h * w)
        var next: Int32 = 0
        var stack: [Int] = []
        for start in 0..<(h * w) where mask[start] && labels[start] == 0 {
            next += 1
            labels[start] = next
            stack.append(start)
            while let i = stack.popLast() {
                let y = i / w, x = i % w
                for (dy, dx) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    let yy = y + dy, xx = x + dx
                    guard yy >= 0 && yy < h && xx >= 0 && xx < w else { continue }
                    let j = yy * w + xx
                    if mask[j] && labels[j] == 0 { labels[j] = next; stack.append(j) }
                }
            }
        }
        return (labels, Int(next))
    }

    /// Marker-controlled watershed: floods `mask` from the labelled `markers` in order of
    /// increasing `height` (8-connected, ties in raster order, so the result is deterministic).
    /// Pixels of `mask` no marker reaches stay 0.
    public static func watershed(height values: [Float], markers: [Int32], mask: [Bool], height h: Int, width w: Int) -> [Int32] {
        var labels = markers
        var heap = PixelHeap()
        for i in 0..<(h * w) where labels[i] != 0 { heap.push(values[i], i) }
        while let (_, i) = heap.pop() {
            let y = i / w, x = i % w
            for dy in -1...1 {
                for dx in -1...1 where dy != 0 || dx != 0 {
                    let yy = y + dy, xx = x + dx
                    guard yy >= 0 && yy < h && xx >= 0 && xx < w else { continue }
                    let j = yy * w + xx
                    guard mask[j] && labels[j] == 0 else { continue }
                    labels[j] = labels[i]
                    heap.push(values[j], j)
                }
            }
        }
        return labels
    }

    /// Markers: plateaus of the distance map that are maxima over a (2r + 1)² window and at
    /// least 1 pixel deep, each one connected plateau one marker.
    public static func peaks(_ distance: [Float], height h: Int, width w: Int, radius r: Int) -> [Int32] {
        var isPeak = [Bool](repeating: false, count: h * w)
        for y in 0..<h {
            for x in 0..<w {
                let v = distance[y * w + x]
                guard v >= 1 else { continue }
                var top = true
                search: for yy in max(y - r, 0)...min(y + r, h - 1) {
                    for xx in max(x - r, 0)...min(x + r, w - 1) where distance[yy * w + xx] > v { top = false; break search }
                }
                isPeak[y * w + x] = top
            }
        }
        return components(isPeak, height: h, width: w).labels
    }

    /// Otsu + distance transform + watershed on an image (RGB or gray): the instance labels.
    ///
    /// - Parameter radius: the peak window; nil = half the median largest inscribed radius of
    ///   the foreground's connected components (about an object's radius when most are single).
    ///
    /// Before the threshold the image is smoothed with a 5-tap binomial filter (σ ≈ 1 pixel), and
    /// foreground components smaller than an eighth of the median component (at least 4 pixels)
    /// are dropped: camera noise would otherwise be hundreds of one-pixel "objects" (as
    /// scikit-image's recipe also smooths and removes small objects first).
    public static func instances(of image: Image, radius: Int? = nil) -> LabelMap {
        let h = image.height, w = image.width
        let fg = withoutSpeckle(smoothedForeground(of: image), height: h, width: w)
        let distance = distanceTransform(fg, height: h, width: w)
        let r = radius ?? {
            let (comp, n) = components(fg, height: h, width: w)
            guard n > 0 else { return 2 }
            var deepest = [Float](repeating: 0, count: n + 1)
            for i in 0..<(h * w) where comp[i] > 0 { deepest[Int(comp[i])] = max(deepest[Int(comp[i])], distance[i]) }
            let sorted = deepest.dropFirst().sorted()
            return max(2, Int(sorted[sorted.count / 2] / 2))
        }()
        let markers = peaks(distance, height: h, width: w, radius: r)
        let labels = watershed(height: distance.map { -$0 }, markers: markers, mask: fg, height: h, width: w)
        return LabelMap(height: h, width: w, labels: labels.map { UInt16(clamping: $0) })
    }
}

extension ClassicalSegmentation {
    /// The baseline's threshold of an image (gray or colour): smoothed (`smoothed`), then
    /// `foreground` by Otsu's threshold; specks are kept (`withoutSpeckle` drops them).
    public static func smoothedForeground(of image: Image) -> [Bool] {
        let (gray, threshold) = smoothedThreshold(of: image)
        return gray.pixels.map(threshold.isObject)
    }

    /// `threshold(of:)` of the smoothed image, as `smoothedForeground` thresholds it.
    public static func smoothedThreshold(of image: Image) -> (smoothed: Image, threshold: Threshold) {
        let gray = smoothed(image.channels == 1 ? image : image.gray())
        return (gray, threshold(of: gray))
    }

    /// A gray image filtered with the binomial kernel [1, 4, 6, 4, 1] / 16 along rows, then
    /// columns (edges replicated).
    public static func smoothed(_ gray: Image) -> Image {
        let h = gray.height, w = gray.width, k: [Float] = [1, 4, 6, 4, 1]
        var rows = gray.pixels, out = gray.pixels
        for y in 0..<h {
            for x in 0..<w {
                var s: Float = 0
                for (i, c) in k.enumerated() { s += c * gray.pixels[y * w + min(max(x + i - 2, 0), w - 1)] }
                rows[y * w + x] = s / 16
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                var s: Float = 0
                for (i, c) in k.enumerated() { s += c * rows[min(max(y + i - 2, 0), h - 1) * w + x] }
                out[y * w + x] = s / 16
            }
        }
        return Image(channels: 1, height: h, width: w, pixels: out)
    }

    /// `mask` without the components smaller than max(4, median component area / 8).
    public static func withoutSpeckle(_ mask: [Bool], height h: Int, width w: Int) -> [Bool] {
        let (labels, n) = components(mask, height: h, width: w)
        guard n > 0 else { return mask }
        var areas = [Int](repeating: 0, count: n + 1)
        for l in labels where l > 0 { areas[Int(l)] += 1 }
        let sorted = areas.dropFirst().sorted()
        let least = max(4, sorted[sorted.count / 2] / 8)
        return labels.map { $0 > 0 && areas[Int($0)] >= least }
    }

    /// `mask` eroded (`erode`) or dilated by the 4-neighbour cross; outside the image counts as
    /// background, as scipy's binary_erosion and binary_dilation have it.
    public static func morphed(_ mask: [Bool], height h: Int, width w: Int, erode: Bool) -> [Bool] {
        let cross = [(-1, 0), (1, 0), (0, -1), (0, 1)]
        var out = mask
        for y in 0..<h {
            for x in 0..<w {
                var v = mask[y * w + x]
                for (dy, dx) in cross {
                    let yy = y + dy, xx = x + dx
                    let n = yy >= 0 && yy < h && xx >= 0 && xx < w ? mask[yy * w + xx] : false
                    v = erode ? v && n : v || n
                }
                out[y * w + x] = v
            }
        }
        return out
    }

    /// `mask` with its holes filled: the components of its complement that do not touch the
    /// image border and have fewer than `maxArea` pixels.
    public static func withoutHoles(_ mask: [Bool], height h: Int, width w: Int, maxArea: Int) -> [Bool] {
        let (labels, n) = components(mask.map { !$0 }, height: h, width: w)
        guard n > 0 else { return mask }
        var areas = [Int](repeating: 0, count: n + 1), border = [Bool](repeating: false, count: n + 1)
        for y in 0..<h {
            for x in 0..<w {
                let l = Int(labels[y * w + x])
                guard l > 0 else { continue }
                areas[l] += 1
                if y == 0 || x == 0 || y == h - 1 || x == w - 1 { border[l] = true }
            }
        }
        return (0..<(h * w)).map { i in
            let l = Int(labels[i])
            return mask[i] || (!border[l] && areas[l] < maxArea)
        }
    }
}

/// A binary min-heap of (value, pixel index), ties broken by the index.
struct PixelHeap {
    private var items: [(Float, Int)] = []

    private static func less(_ a: (Float, Int), _ b: (Float, Int)) -> Bool { a.0 < b.0 || (a.0 == b.0 && a.1 < b.1) }

    mutating func push(_ value: Float, _ index: Int) {
        items.append((value, index))
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard Self.less(items[c], items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> (Float, Int)? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return first
    }
}
