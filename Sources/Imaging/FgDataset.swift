// fg data (paper, "Foreground Segmentation", Data Preparation): category images cropped by
// their boxes and scaled to 128 × 128, optional ground-truth masks for evaluation.
// Layouts: CUB-200-2011 (images.txt + bounding_boxes.txt + images/), boxes.csv
// (file,x,y,w,h), or a folder of pre-cropped images. Images are PNG or JPEG (Image.read goes by
// the first bytes). N = batch, S = crop size.
import Foundation

/// An axis-aligned box in source pixels: top-left (x, y), size w × h.
public struct Box: Sendable, Equatable, Codable {
    public var x: Double
    public var y: Double
    public var w: Double
    public var h: Double
    public init(x: Double, y: Double, w: Double, h: Double) {
        self.x = x
        self.y = y
        self.w = w
        self.h = h
    }

    /// True for a usable coordinate: finite and within ±10⁷ pixels (so every integer made from
    /// it fits an Int; lists are checked with it before a Box is made).
    public static func isCoordinate(_ v: Double) -> Bool { v.isFinite && abs(v) <= 1e7 }

    /// True when the box covers at least part of a `width` × `height` image.
    public func overlaps(width: Int, height: Int) -> Bool {
        x < Double(width) && y < Double(height) && x + w > 0 && y + h > 0
    }

    /// The integer window covering the box, clipped to a `width` × `height` image (at least 1 × 1).
    public func pixelWindow(width: Int, height: Int) -> (x: Int, y: Int, w: Int, h: Int) {
        let x0 = min(max(Int(x.rounded(.down)), 0), width - 1)
        let y0 = min(max(Int(y.rounded(.down)), 0), height - 1)
        let x1 = min(max(Int((x + w).rounded(.up)), x0 + 1), width)
        let y1 = min(max(Int((y + h).rounded(.up)), y0 + 1), height)
        return (x0, y0, x1 - x0, y1 - y0)
    }
}

/// One entry of an fg data set: an image file (relative to the folder) and its box, if any.
public struct FgEntry: Sendable, Equatable {
    /// The path relative to the data set folder, e.g. `images/001.png` or CUB's
    /// `images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg`.
    public var file: String
    /// The box to crop; nil for pre-cropped images.
    public var box: Box?
    public init(file: String, box: Box?) {
        self.file = file
        self.box = box
    }
}

/// Parsers of the box-list layouts.
public enum FgLayout {
    /// Parses `boxes.csv`: lines `file,x,y,w,h` (an optional header line starting with `file`).
    /// - Throws: `DatasetError.badLine` naming the file and line.
    public static func parseBoxesCSV(_ text: String, path: String) throws -> [FgEntry] {
        var entries = [FgEntry]()
        // `isNewline` splits "\r\n" too (a Character of its own in Swift, which "\n" does not match).
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if number == 0 && fields.first?.lowercased() == "file" { continue }
            guard fields.count == 5 else {
                throw DatasetError.badLine(path: path, line: number + 1, reason: "expected file,x,y,w,h, found \(fields.count) fields")
            }
            let numbers = fields[1...].compactMap(Double.init)
            guard numbers.count == 4, numbers.allSatisfy(Box.isCoordinate), numbers[2] > 0, numbers[3] > 0 else {
                throw DatasetError.badLine(path: path, line: number + 1, reason: "x,y,w,h must be finite numbers of at most 1e7 with w, h > 0")
            }
            entries.append(FgEntry(file: fields[0], box: Box(x: numbers[0], y: numbers[1], w: numbers[2], h: numbers[3])))
        }
        return entries
    }

    /// Parses CUB-200-2011's `images.txt` (`id path`) and `bounding_boxes.txt` (`id x y w h`);
    /// files become `images/<path>`, in images.txt order.
    /// - Throws: `DatasetError.badLine` naming the file and line, or an id without a box.
    public static func parseCUB(images: String, boxes: String, imagesPath: String, boxesPath: String) throws -> [FgEntry] {
        var boxByID = [String: Box]()
        for (number, raw) in boxes.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            let numbers = fields.dropFirst().compactMap { Double($0) }
            guard fields.count == 5, numbers.count == 4, numbers.allSatisfy(Box.isCoordinate), numbers[2] > 0, numbers[3] > 0 else {
                throw DatasetError.badLine(path: boxesPath, line: number + 1, reason: "expected `id x y w h`, finite numbers of at most 1e7 with w, h > 0")
            }
            boxByID[String(fields[0])] = Box(x: numbers[0], y: numbers[1], w: numbers[2], h: numbers[3])
        }
        var entries = [FgEntry]()
        for (number, raw) in images.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 2 else {
                throw DatasetError.badLine(path: imagesPath, line: number + 1, reason: "expected `id path`")
            }
            guard let box = boxByID[String(fields[0])] else {
                throw DatasetError.badLine(path: imagesPath, line: number + 1, reason: "image id \(fields[0]) has no box in \(boxesPath)")
            }
            entries.append(FgEntry(file: "images/" + fields[1], box: box))
        }
        return entries
    }
}

/// Box-cropped category images (3 × S × S) and optional ground-truth masks (1 × S × S), in memory.
///
/// Crops are made once at load time (area/bilinear resize) and kept as 8-bit values.
///
/// ```swift
/// let data = try FgDataset.load(folder: "birds")                 // CUB, boxes.csv or pre-cropped
/// batch.withUnsafeMutableBufferPointer { data.fillImages($0, indices: slice) }   // N × 3 × 128 × 128
/// if data.hasMasks { let gt = data.mask(0) }
/// ```
public struct FgDataset: Sendable {
    /// The data set folder.
    public let folder: String
    /// The entries in file order.
    public let entries: [FgEntry]
    /// The crop side S.
    public let size: Int
    /// Crops, N × 3 × S × S, 8-bit.
    let crops: [UInt8]
    /// Masks, N × S × S, 8-bit (0 background, 255 foreground, intermediate at resampled edges); empty without masks.
    let masks: [UInt8]

    /// The number of images.
    public var count: Int { entries.count }
    /// True when ground-truth masks were loaded.
    public var hasMasks: Bool { !masks.isEmpty }

    /// Loads an fg data set from `folder`.
    ///
    /// - Parameters:
    ///   - folder: contains `images.txt` + `bounding_boxes.txt` (CUB), or `boxes.csv`, or just
    ///     images (.png, .jpg, .jpeg; in `folder/images` if that exists).
    ///   - size: the crop side (paper: 128).
    ///   - masks: a folder of masks with the same relative file names (or base names), as PNG,
    ///     0/255; nil uses `folder/masks` (or CUB's `folder/segmentations`) when present.
    ///   - margin: box layouts (CUB, boxes.csv) only: each box widened by `margin` × its side on
    ///     every side (the run's `box_margin`); pre-cropped images are taken as they are.
    /// - Throws: `DatasetError`/`ImageError` naming the file.
    public static func load(folder: String, size: Int = 128, masks: String? = nil, margin: Double = 0) throws -> FgDataset {
        let entries = try listEntries(folder: folder)
        let fm = FileManager.default
        var maskFolder = masks
        if maskFolder == nil {
            for candidate in ["masks", "segmentations"] {
                let path = (folder as NSString).appendingPathComponent(candidate)
                if fm.fileExists(atPath: path) { maskFolder = path; break }
            }
        }
        var crops = [UInt8](), maskBytes = [UInt8]()
        crops.reserveCapacity(entries.count * 3 * size * size)
        for entry in entries {
            let path = resolve(entry.file, in: folder)
            guard fm.fileExists(atPath: path) else {
                throw DatasetError.missingFile(path: path, referencedFrom: folder)
            }
            let image = try Image.read(path: path)
            if let box = entry.box, !box.overlaps(width: image.width, height: image.height) {
                throw DatasetError.badOption(name: path, reason: "its box (x \(box.x), y \(box.y), w \(box.w), h \(box.h)) lies outside the \(image.width) × \(image.height) image")
            }
            append(crop(image.rgb(), entry.box, size: size, margin: margin), to: &crops)
            if let maskFolder {
                let maskPath = try findMask(for: entry.file, in: maskFolder)
                let mask = try Image.read(path: maskPath).gray()
                guard mask.width == image.width && mask.height == image.height else {
                    throw ImageError.corrupt(path: maskPath, reason: "mask is \(mask.width) × \(mask.height), image \(path) is \(image.width) × \(image.height)")
                }
                append(crop(mask, entry.box, size: size, margin: margin, beyond: .zero), to: &maskBytes)
            }
        }
        return FgDataset(folder: folder, entries: entries, size: size, crops: crops, masks: maskBytes)
    }

    /// The entries of `folder`: CUB lists, boxes.csv, or every image (sorted; PNG or JPEG, see
    /// `Image.imageNames(inFolder:)`) as pre-cropped.
    public static func listEntries(folder: String) throws -> [FgEntry] {
        let fm = FileManager.default
        let imagesTxt = (folder as NSString).appendingPathComponent("images.txt")
        let boxesTxt = (folder as NSString).appendingPathComponent("bounding_boxes.txt")
        let boxesCSV = (folder as NSString).appendingPathComponent("boxes.csv")
        let entries: [FgEntry]
        if fm.fileExists(atPath: imagesTxt) && fm.fileExists(atPath: boxesTxt) {
            entries = try FgLayout.parseCUB(images: readText(imagesTxt), boxes: readText(boxesTxt),
                                            imagesPath: imagesTxt, boxesPath: boxesTxt)
        } else if fm.fileExists(atPath: boxesCSV) {
            entries = try FgLayout.parseBoxesCSV(readText(boxesCSV), path: boxesCSV)
        } else {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ImageError.cannotOpen(path: folder, reason: "not a folder")
            }
            let imagesFolder = (folder as NSString).appendingPathComponent("images")
            if fm.fileExists(atPath: imagesFolder) {
                entries = try Image.imageNames(inFolder: imagesFolder).map { FgEntry(file: "images/" + $0, box: nil) }
            } else {
                entries = try Image.imageNames(inFolder: folder).map { FgEntry(file: $0, box: nil) }
            }
        }
        guard !entries.isEmpty else { throw DatasetError.noImages(path: folder) }
        return entries
    }

    // MARK: - Access

    /// Crop `index` as an RGB image (3 × S × S).
    public func image(_ index: Int) -> Image {
        var out = Image(channels: 3, height: size, width: size)
        out.pixels.withUnsafeMutableBufferPointer { writeImage(index, to: $0.baseAddress!) }
        return out
    }

    /// Ground-truth mask `index` (1 × S × S, [0, 1]); nil without masks.
    public func mask(_ index: Int) -> Image? {
        guard hasMasks else { return nil }
        precondition(index >= 0 && index < count, "FgDataset.mask: index \(index) outside 0..<\(count)")
        let n = size * size
        return Image(channels: 1, height: size, width: size,
                     pixels: masks[(index * n)..<((index + 1) * n)].map { Float($0) / 255 })
    }

    /// Writes crop `index` (3 × S × S, [0, 1]) to `out`.
    public func writeImage(_ index: Int, to out: UnsafeMutablePointer<Float>) {
        precondition(index >= 0 && index < count, "FgDataset: index \(index) outside 0..<\(count)")
        let n = 3 * size * size
        crops.withUnsafeBufferPointer { src in
            let from = src.baseAddress! + index * n
            for i in 0..<n { out[i] = Float(from[i]) / 255 }
        }
    }

    /// Fills `out` (N × 3 × S × S, N = indices.count) with the crops `indices`.
    public func fillImages(_ out: UnsafeMutableBufferPointer<Float>, indices: [Int]) {
        let n = 3 * size * size
        precondition(out.count == indices.count * n,
                     "FgDataset.fillImages: buffer of \(out.count) floats for \(indices.count) × 3 × \(size) × \(size)")
        for (k, index) in indices.enumerated() { writeImage(index, to: out.baseAddress! + k * n) }
    }

    // MARK: - Helpers

    /// `image` cropped to `box` (or whole) and resized to size × size; with `margin` > 0 the box
    /// is widened by `margin` × its side on every side, as `carve data boxes --margin` cuts it
    /// (past the image's edge: `beyond`).
    static func crop(_ image: Image, _ box: Box?, size: Int, margin: Double = 0,
                     beyond: Image.BeyondEdge = .repeatEdge) -> Image {
        guard let box else { return image.resized(height: size, width: size) }
        let w = box.pixelWindow(width: image.width, height: image.height)
        guard margin > 0 else { return image.region(x: w.x, y: w.y, width: w.w, height: w.h, resizedTo: size, size) }
        let r = BoxCrops.widened(x: w.x, y: w.y, width: w.w, height: w.h, margin: margin)
        return image.cropped(x: r.x, y: r.y, width: r.width, height: r.height, beyondEdge: beyond).resized(height: size, width: size)
    }

    static func append(_ image: Image, to bytes: inout [UInt8]) {
        for v in image.pixels { bytes.append(UInt8((min(max(v, 0), 1) * 255).rounded())) }
    }

    /// The path of a listed image. A listed file that exists is read as it is (CUB's `.jpg`
    /// directly); a listed non-PNG whose file is missing resolves to the PNG next to it with the
    /// same name, so folders converted in place and the originals deleted (for example
    /// `mogrify -format png images/*/*.jpg`, which Carve asked for before it read JPEG) keep
    /// working with the unchanged lists.
    static func resolve(_ file: String, in folder: String) -> String {
        let path = file.hasPrefix("/") ? file : (folder as NSString).appendingPathComponent(file)
        let ext = (path as NSString).pathExtension.lowercased()
        guard ext != "png", !FileManager.default.fileExists(atPath: path) else { return path }
        let png = (path as NSString).deletingPathExtension + ".png"
        return FileManager.default.fileExists(atPath: png) ? png : path
    }

    /// The mask of `file`: same relative path (extension .png), else same base name, in `folder`.
    static func findMask(for file: String, in folder: String) throws -> String {
        let relative = file.hasPrefix("images/") ? String(file.dropFirst("images/".count)) : file
        let stem = (relative as NSString).deletingPathExtension
        let candidates = [
            (folder as NSString).appendingPathComponent(stem + ".png"),
            (folder as NSString).appendingPathComponent(((stem as NSString).lastPathComponent) + ".png"),
        ]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw DatasetError.missingFile(path: candidates[0], referencedFrom: "the mask folder for \(file)")
        }
        return found
    }
}

/// The UTF-8 text of `path`; the error names it.
func readText(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ImageError.cannotOpen(path: path, reason: "cannot read the file")
    }
    return String(decoding: data, as: UTF8.self)
}
