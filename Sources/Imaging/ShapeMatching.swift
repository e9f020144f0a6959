// The shape measure of hoc evaluation: does a sampled instance mask have the outline of a real
// object? A square blob of the right area passes a size test; it does not pass this one.

/// The IoU of a binary mask with the best-matching real object after aligning centroids.
///
/// Both the sample and the objects are binary masks at the same scale (the patch scale of
/// training). Each object is drawn so that its centroid falls exactly on the sample's (sub-pixel:
/// each patch pixel is mapped back to the source grid and belongs to the object where the
/// bilinear interpolation of the object's source pixels is at least ½, so an object comes out as
/// smooth as it looks in a bilinearly resampled training patch), and the best IoU over the
/// objects is the score. A perfect disc of a round object's area scores about 0.95 against real
/// coins; a square of the same area about 0.83. (Note [Shape alignment] in the function body
/// says why not to the nearest pixel.)
///
/// ```swift
/// let objects = ShapeMatching.objects(from: labels, scale: 64.0 / 90.0)
/// let score = ShapeMatching.bestIoU(sample, height: 64, width: 64, objects: objects)
/// ```
public enum ShapeMatching {
    /// A real object: its source pixels (an indicator over its bounding box), its centroid in
    /// source pixels, and the scale it is drawn at (patch pixels per source pixel).
    public struct Object: Sendable, Equatable {
        /// The indicator (1 on the object) over the bounding box, row-major `boxHeight × boxWidth`.
        var indicator: [Float]
        var boxHeight: Int, boxWidth: Int
        /// The source coordinates of the box's first pixel.
        var boxY: Int, boxX: Int
        var centroidY: Double, centroidX: Double
        var scale: Double
        /// Its area in patch pixels: the pixels it covers drawn about a whole-pixel centroid.
        public private(set) var area: Int = 0

        init(indicator: [Float], boxHeight: Int, boxWidth: Int, boxY: Int, boxX: Int,
             centroidY: Double, centroidX: Double, scale: Double) {
            self.indicator = indicator
            self.boxHeight = boxHeight
            self.boxWidth = boxWidth
            self.boxY = boxY
            self.boxX = boxX
            self.centroidY = centroidY
            self.centroidX = centroidX
            self.scale = scale
            var n = 0
            forEachPixel(centredAt: (0, 0)) { _, _ in n += 1 }
            area = n
        }

        /// Calls `body(y, x)` for every patch pixel the object covers when its centroid is
        /// placed at `centre` (patch coordinates, pixel centres on whole numbers).
        func forEachPixel(centredAt centre: (y: Double, x: Double), _ body: (Int, Int) -> Void) {
            // The source box, one pixel of zeros around it, in patch coordinates.
            let y0 = Int((centre.y + (Double(boxY - 1) - centroidY) * scale).rounded(.down))
            let y1 = Int((centre.y + (Double(boxY + boxHeight) - centroidY) * scale).rounded(.up))
            let x0 = Int((centre.x + (Double(boxX - 1) - centroidX) * scale).rounded(.down))
            let x1 = Int((centre.x + (Double(boxX + boxWidth) - centroidX) * scale).rounded(.up))
            func at(_ r: Int, _ c: Int) -> Float {
                r >= 0 && r < boxHeight && c >= 0 && c < boxWidth ? indicator[r * boxWidth + c] : 0
            }
            for y in y0...y1 {
                let sy = centroidY + (Double(y) - centre.y) / scale - Double(boxY)
                let r = Int(sy.rounded(.down)), fy = Float(sy - Double(r))
                for x in x0...x1 {
                    let sx = centroidX + (Double(x) - centre.x) / scale - Double(boxX)
                    let c = Int(sx.rounded(.down)), fx = Float(sx - Double(c))
                    let top = at(r, c) + fx * (at(r, c + 1) - at(r, c))
                    let bottom = at(r + 1, c) + fx * (at(r + 1, c + 1) - at(r + 1, c))
                    if top + fy * (bottom - top) >= 0.5 { body(y, x) }
                }
            }
        }
    }

    /// The centroid (mean row, mean column) of the set pixels, or nil when none is set.
    public static func centroid(_ mask: [Bool], width w: Int) -> (y: Double, x: Double)? {
        var sy = 0.0, sx = 0.0, n = 0.0
        for (i, on) in mask.enumerated() where on { sy += Double(i / w); sx += Double(i % w); n += 1 }
        return n > 0 ? (sy / n, sx / n) : nil
    }

    /// The real objects of an instance map, drawn at `scale` patch pixels per source pixel,
    /// leaving out objects that touch the image border (cut off).
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
            let minY = list.map(\.0).min()!, maxY = list.map(\.0).max()!
            let minX = list.map(\.1).min()!, maxX = list.map(\.1).max()!
            let bh = maxY - minY + 1, bw = maxX - minX + 1
            var indicator = [Float](repeating: 0, count: bh * bw)
            for (y, x) in list { indicator[(y - minY) * bw + x - minX] = 1 }
            let object = Object(indicator: indicator, boxHeight: bh, boxWidth: bw, boxY: minY, boxX: minX,
                                centroidY: Double(list.map(\.0).reduce(0, +)) / Double(list.count),
                                centroidX: Double(list.map(\.1).reduce(0, +)) / Double(list.count), scale: scale)
            return object.area > 0 ? object : nil
        }
    }

    /// The best IoU of `mask` (h × w) with any of `objects` drawn about the mask's centroid; 0
    /// for an empty mask or no objects.
    public static func bestIoU(_ mask: [Bool], height h: Int, width w: Int, objects: [Object]) -> Double {
        // Note [Shape alignment]
        // Each object is drawn about the sample's exact centroid, bilinearly from its source
        // pixels. Placed at the nearest whole pixel and drawn as nearest-pixel blocks (as this did
        // until 2026-12-07), a real object scored as little as 0.924 against itself seen at a
        // sub-pixel offset in a patch (a disc of radius 6 source pixels at 16 / 6 patch pixels
        // each; ≥ 0.985 now, ShapeMatchingTests), and a smooth disc of its area 0.894 (0.935 now):
        // a loss that has nothing to do with the outline. Scores measured before that date are
        // lower by this, more for small objects.
        guard let c = centroid(mask, width: w) else { return 0 }
        let area = mask.filter { $0 }.count
        var best = 0.0
        for object in objects {
            var inter = 0, size = 0
            object.forEachPixel(centredAt: c) { y, x in
                size += 1
                if y >= 0 && y < h && x >= 0 && x < w && mask[y * w + x] { inter += 1 }
            }
            best = max(best, Double(inter) / Double(area + size - inter))
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
            var pixels: [(Int, Int)] = []
            objects[i].forEachPixel(centredAt: (0, 0)) { y, x in pixels.append((y, x)) }
            let minY = pixels.map(\.0).min()!, minX = pixels.map(\.1).min()!
            let h = pixels.map(\.0).max()! - minY + 1, w = pixels.map(\.1).max()! - minX + 1
            var mask = [Bool](repeating: false, count: h * w)
            for (y, x) in pixels { mask[(y - minY) * w + x - minX] = true }
            var others = objects
            others.remove(at: i)
            sum += bestIoU(mask, height: h, width: w, objects: others)
        }
        return sum / Double(chosen.count)
    }
}
