// The shape measure of hoc evaluation: does a sampled instance mask have the outline of a real
// object? A square blob of the right area passes a size test; it does not pass this one.

/// The IoU of a binary mask with the best-matching real object after aligning centroids.
///
/// Both the sample and the objects are binary masks at the same scale (the patch scale of
/// training). Each object is shifted so that its centroid (rounded to a pixel) falls on the
/// sample's, and the best IoU over the objects is the score. A perfect disc of a round object's
/// area scores about 0.95 against real coins; a square of the same area about 0.83.
///
/// ```swift
/// let objects = ShapeMatching.objects(from: labels, scale: 64.0 / 90.0)
/// let score = ShapeMatching.bestIoU(sample, height: 64, width: 64, objects: objects)
/// ```
public enum ShapeMatching {
    /// An object as the offsets (dy, dx) of its pixels from its centroid.
    public struct Object: Sendable, Equatable {
        public var offsets: [(dy: Int, dx: Int)]
        public static func == (a: Object, b: Object) -> Bool {
            a.offsets.count == b.offsets.count && zip(a.offsets, b.offsets).allSatisfy { $0.dy == $1.dy && $0.dx == $1.dx }
        }
    }

    /// The centroid (mean row, mean column) of the set pixels, or nil when none is set.
    public static func centroid(_ mask: [Bool], width w: Int) -> (y: Double, x: Double)? {
        var sy = 0.0, sx = 0.0, n = 0.0
        for (i, on) in mask.enumerated() where on { sy += Double(i / w); sx += Double(i % w); n += 1 }
        return n > 0 ? (sy / n, sx / n) : nil
    }

    /// The real objects of an instance map, resampled by `scale` (nearest, about each
    /// object's centroid), leaving out objects that touch the image border (cut off).
    public static func objects(from labels: LabelMap, scale: Double) -> [Object] {
        let h = labels.height, w = labels.width
        var pixels: [UInt16: [(Int, Int)]] = [:]
        var touching: Set<UInt16> = []
        for y in 0..<h {
            for x in 0..<w {
                let id = labels.labels[y * w + x]
                guard id != 0 else { continue }
                pixels[id, default: []].append((y, x))
                if y == 0 || x == 0 || y == h - 1 || x == w - 1 { touching.insert(id) }
            }
        }
        return pixels.keys.sorted().compactMap { id in
            guard !touching.contains(id), let list = pixels[id] else { return nil }
            let cy = Double(list.map(\.0).reduce(0, +)) / Double(list.count)
            let cx = Double(list.map(\.1).reduce(0, +)) / Double(list.count)
            // Resample: an output offset belongs to the object when its source pixel does.
            let member = Set(list.map { $0.0 * w + $0.1 })
            let ry = Int((Double(list.map(\.0).max()! - list.map(\.0).min()!) * scale).rounded(.up)) + 2
            let rx = Int((Double(list.map(\.1).max()! - list.map(\.1).min()!) * scale).rounded(.up)) + 2
            var offsets: [(dy: Int, dx: Int)] = []
            for dy in -ry...ry {
                for dx in -rx...rx {
                    let sy = Int((cy + Double(dy) / scale).rounded()), sx = Int((cx + Double(dx) / scale).rounded())
                    if sy >= 0 && sy < h && sx >= 0 && sx < w && member.contains(sy * w + sx) { offsets.append((dy, dx)) }
                }
            }
            return offsets.isEmpty ? nil : Object(offsets: offsets)
        }
    }

    /// The best IoU of `mask` (h × w) with any of `objects` placed at the mask's centroid; 0
    /// for an empty mask or no objects.
    public static func bestIoU(_ mask: [Bool], height h: Int, width w: Int, objects: [Object]) -> Double {
        guard let c = centroid(mask, width: w) else { return 0 }
        let cy = Int(c.y.rounded()), cx = Int(c.x.rounded())
        let area = mask.filter { $0 }.count
        var best = 0.0
        for object in objects {
            var inter = 0
            for (dy, dx) in object.offsets {
                let y = cy + dy, x = cx + dx
                if y >= 0 && y < h && x >= 0 && x < w && mask[y * w + x] { inter += 1 }
            }
            best = max(best, Double(inter) / Double(area + object.offsets.count - inter))
        }
        return best
    }

    /// What real objects score against each other: the mean over (up to `limit`, evenly spread)
    /// objects of the best IoU with any *other* object, centroids aligned as in `bestIoU`. A
    /// sample scoring this much is as like the real objects as they are like one another.
    public static func realReference(_ objects: [Object], limit: Int = 200) -> Double? {
        guard objects.count >= 2 else { return nil }
        let chosen = (0..<min(limit, objects.count)).map { $0 * objects.count / min(limit, objects.count) }
        var sum = 0.0
        for i in chosen {
            let ry = objects[i].offsets.map { abs($0.dy) }.max()!, rx = objects[i].offsets.map { abs($0.dx) }.max()!
            let h = 2 * ry + 1, w = 2 * rx + 1
            var mask = [Bool](repeating: false, count: h * w)
            for (dy, dx) in objects[i].offsets { mask[(dy + ry) * w + dx + rx] = true }
            var others = objects
            others.remove(at: i)
            sum += bestIoU(mask, height: h, width: w, objects: others)
        }
        return sum / Double(chosen.count)
    }
}
