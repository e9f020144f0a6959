// An fg data set from annotated images: one crop per object box, the object's own mask for
// evaluation, and a background pool cut from where no object is.
import Foundation

/// Writes the fg layout "folder of pre-cropped PNGs" from images with instance label maps (or
/// 0/255 masks, one object each): what `carve data boxes` does.
///
/// Sources: `NAME.png` (or `NAME.jpg`, `NAME.jpeg`) with `NAME_instances.png` (16-bit ids, 0 = background) or
/// `NAME_mask.png` beside it; a name ending in `_image` pairs with the same stem
/// (`000_image.png` + `000_instances.png`). Every instance whose box lies inside the image
/// (touching no border, at least `minSide` pixels on each side) becomes `OUT/NNNN.png`: the
/// box widened by `margin` × its side on every side (where that ring leaves the image, the
/// image's edge pixels repeated, so the box is always the crop's centre), and
/// `OUT/masks/NNNN.png`, 255 on that instance only; `OUT/crops.json` records the margin
/// (`{"box_margin": m}`), which `carve train` takes as the run's `box_margin`. `OUT/backgrounds/` gets up to
/// `backgroundsPerImage` square patches per image of the median crop side (¾ or ½ of it when
/// objects are too dense for that) that no labelled pixel comes within 2 pixels of (the
/// background provider's pool, from the same images).
///
/// ```swift
/// let summary = try BoxCrops.write(from: "nuclei", to: "nuclei-fg")
/// // carve train --preset real-fg --data nuclei-fg
/// ```
public enum BoxCrops {
    /// What a call wrote.
    public struct Summary: Sendable, Equatable {
        public var images: Int
        public var crops: Int
        public var backgrounds: Int
        /// Instances left out: touching the border or smaller than `minSide`.
        public var skipped: Int
    }

    /// An image and its labels.
    public struct Source: Sendable, Equatable {
        public var image: String
        public var labels: String
        /// True for a 0/255 mask (one object), false for an instance map.
        public var isMask: Bool
    }

    /// The labelled images of `folder`, sorted by name.
    /// - Throws: `DatasetError.noImages` when no image has an instance map or mask beside it.
    public static func sources(in folder: String) throws -> [Source] {
        let names = try Image.imageNames(inFolder: folder)
        let present = Set(names)
        var out: [Source] = []
        for name in names {
            let stem = (name as NSString).deletingPathExtension
            if stem.hasSuffix("_instances") || stem.hasSuffix("_mask") { continue }
            let base = stem.hasSuffix("_image") ? String(stem.dropLast(6)) : stem
            let path = { (folder as NSString).appendingPathComponent($0) }
            if present.contains(base + "_instances.png") {
                out.append(Source(image: path(name), labels: path(base + "_instances.png"), isMask: false))
            } else if present.contains(base + "_mask.png") {
                out.append(Source(image: path(name), labels: path(base + "_mask.png"), isMask: true))
            }
        }
        guard !out.isEmpty else {
            throw DatasetError.badOption(name: folder, reason: "no image has NAME_instances.png or NAME_mask.png beside it")
        }
        return out
    }

    /// One object's box: inclusive pixel bounds.
    struct Bounds { var x0: Int, y0: Int, x1: Int, y1: Int }

    /// The boxes of every id in `labels` (for a mask: one id, every pixel ≥ 128).
    static func instances(_ labels: LabelMap, isMask: Bool) -> [(id: UInt16, box: Bounds)] {
        var boxes: [UInt16: Bounds] = [:]
        for y in 0..<labels.height {
            for x in 0..<labels.width {
                var id = labels.labels[y * labels.width + x]
                if isMask { id = id >= 128 ? 1 : 0 }
                guard id != 0 else { continue }
                if var b = boxes[id] {
                    b.x0 = min(b.x0, x); b.x1 = max(b.x1, x); b.y0 = min(b.y0, y); b.y1 = max(b.y1, y)
                    boxes[id] = b
                } else {
                    boxes[id] = Bounds(x0: x, y0: y, x1: x, y1: y)
                }
            }
        }
        return boxes.sorted { $0.key < $1.key }.map { (id: $0.key, box: $0.value) }
    }

    /// Writes the data set; see the type's documentation.
    /// - Throws: `DatasetError`/`ImageError` naming the file; `.badOption` when an image and its
    ///   labels differ in size or nothing usable is found.
    public static func write(from folder: String, to out: String, margin: Double = 0, minSide: Int = 6,
                             backgroundsPerImage: Int = 8) throws -> Summary {
        guard margin.isFinite && margin >= 0 && margin <= 2 else {
            throw DatasetError.badOption(name: "--margin", reason: "must be in [0, 2], got \(margin)")
        }
        let sources = try sources(in: folder)
        struct Crop { var image: Image; var mask: Image }
        var crops: [Crop] = []
        var occupied: [(image: Image, taken: [Bool])] = []
        var skipped = 0
        for source in sources {
            let image = try Image.read(path: source.image)
            let labels = try LabelMap.read(path: source.labels)
            guard labels.width == image.width && labels.height == image.height else {
                throw DatasetError.badOption(name: source.labels, reason: "is \(labels.width) × \(labels.height), its image \(image.width) × \(image.height)")
            }
            for (id, b) in instances(labels, isMask: source.isMask) {
                let w = b.x1 - b.x0 + 1, h = b.y1 - b.y0 + 1
                let inside = source.isMask || (b.x0 > 0 && b.y0 > 0 && b.x1 < image.width - 1 && b.y1 < image.height - 1)
                guard inside && w >= minSide && h >= minSide else { skipped += 1; continue }
                // The ring may leave the image: its pixels there repeat the image's edge (the
                // mask's are background), so the box is always the crop's centre.
                let (x0, y0, cw, ch) = widened(x: b.x0, y: b.y0, width: w, height: h, margin: margin)
                var mask = Image(channels: 1, height: ch, width: cw)
                for y in 0..<ch {
                    for x in 0..<cw {
                        let sx = x0 + x, sy = y0 + y
                        guard sx >= 0 && sy >= 0 && sx < image.width && sy < image.height else { continue }
                        let v = labels.labels[sy * labels.width + sx]
                        mask.pixels[y * cw + x] = (source.isMask ? v >= 128 : v == id) ? 1 : 0
                    }
                }
                crops.append(Crop(image: image.cropped(x: x0, y: y0, width: cw, height: ch, beyondEdge: .repeatEdge), mask: mask))
            }
            occupied.append((image, dilated(labels, isMask: source.isMask, by: 2)))
        }
        guard !crops.isEmpty else {
            throw DatasetError.badOption(name: folder, reason: "no object box of at least \(minSide) pixels lies inside its image")
        }
        let fm = FileManager.default
        let masks = (out as NSString).appendingPathComponent("masks")
        let pool = (out as NSString).appendingPathComponent("backgrounds")
        for dir in [out, masks, pool] {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw ImageError.cannotOpen(path: dir, reason: "cannot create the folder")
            }
        }
        try record(margin: margin, in: out)
        for (k, crop) in crops.enumerated() {
            let name = String(format: "%04d.png", k)
            try crop.image.write(path: (out as NSString).appendingPathComponent(name))
            try crop.mask.write(path: (masks as NSString).appendingPathComponent(name))
        }
        // Background patches of the median crop side; where objects are too dense for that,
        // of ¾ or ½ of it (the pool samples windows of at least half a crop anyway).
        let sides = crops.map { max($0.image.width, $0.image.height) }.sorted()
        let median = max(sides[sides.count / 2], 8)
        var written = 0
        for side in [median, median * 3 / 4, median / 2] where side >= 8 && written < backgroundsPerImage {
            written += try writeBackgrounds(occupied, side: side, perImage: backgroundsPerImage, to: pool)
        }
        return Summary(images: sources.count, crops: crops.count, backgrounds: written, skipped: skipped)
    }

    /// The window of the w × h box at (x, y) widened by `margin` × its side on every side
    /// (rounded to whole pixels; it may reach past the image): how every fg crop's ring is cut.
    public static func widened(x: Int, y: Int, width w: Int, height h: Int,
                               margin: Double) -> (x: Int, y: Int, width: Int, height: Int) {
        let mx = Int((margin * Double(w)).rounded()), my = Int((margin * Double(h)).rounded())
        return (x - mx, y - my, w + 2 * mx, h + 2 * my)
    }

    /// The file beside the crops that records how they were cut.
    public static let recordName = "crops.json"

    /// The `margin` the crops of `folder` were cut with (its `crops.json`), or nil when the
    /// folder has no record (crops made some other way).
    /// - Throws: `DatasetError.badOption` naming the record when it is unreadable or out of range.
    public static func margin(ofCropsIn folder: String) throws -> Double? {
        let path = (folder as NSString).appendingPathComponent(recordName)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let margin = (object["box_margin"] as? NSNumber)?.doubleValue, margin.isFinite, margin >= 0, margin <= 2 else {
            throw DatasetError.badOption(name: path, reason: "must be a JSON object with \"box_margin\" in [0, 2]")
        }
        return margin
    }

    static func record(margin: Double, in out: String) throws {
        let path = (out as NSString).appendingPathComponent(recordName)
        guard FileManager.default.createFile(atPath: path, contents: Data("{\"box_margin\": \(margin)}\n".utf8)) else {
            throw ImageError.cannotOpen(path: path, reason: "cannot write the file")
        }
    }

    /// Writes up to `perImage` free square patches of `side` from each image; returns how many.
    static func writeBackgrounds(_ occupied: [(image: Image, taken: [Bool])], side: Int, perImage: Int,
                                 to pool: String) throws -> Int {
        var written = 0
        for (i, entry) in occupied.enumerated() {
            let image = entry.image
            guard image.width >= side && image.height >= side else { continue }
            var free: [(x: Int, y: Int)] = []
            let stride = max(side / 2, 1)
            for y in Swift.stride(from: 0, through: image.height - side, by: stride) {
                for x in Swift.stride(from: 0, through: image.width - side, by: stride) {
                    if isFree(entry.taken, width: image.width, x: x, y: y, side: side) { free.append((x, y)) }
                }
            }
            // Evenly spread over the free windows.
            let take = min(perImage, free.count)
            for j in 0..<take {
                let (x, y) = free[j * free.count / take]
                let name = String(format: "%03d-%02d-%d.png", i, j, side)
                try image.cropped(x: x, y: y, width: side, height: side).write(path: (pool as NSString).appendingPathComponent(name))
                written += 1
            }
        }
        return written
    }

    /// Pixels within `r` (square neighbourhood) of a labelled pixel.
    static func dilated(_ labels: LabelMap, isMask: Bool, by r: Int) -> [Bool] {
        let w = labels.width, h = labels.height
        var out = [Bool](repeating: false, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let v = labels.labels[y * w + x]
                guard isMask ? v >= 128 : v != 0 else { continue }
                for yy in max(y - r, 0)...min(y + r, h - 1) {
                    for xx in max(x - r, 0)...min(x + r, w - 1) { out[yy * w + xx] = true }
                }
            }
        }
        return out
    }

    static func isFree(_ taken: [Bool], width: Int, x: Int, y: Int, side: Int) -> Bool {
        for yy in y..<(y + side) {
            for xx in x..<(x + side) where taken[yy * width + xx] { return false }
        }
        return true
    }
}
