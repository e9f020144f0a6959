import Foundation
@testable import Imaging
import Testing

/// `carve data boxes`: crops, per-object masks and a background pool from instance maps.
struct BoxCropsTests {
    /// A 40 × 40 image with three objects: a 10 × 8 rectangle (id 1), a 6 × 6 square touching
    /// the left border (id 2, left out) and a 3 × 3 square (id 3, too small at minSide 4).
    static func folder() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("carve-boxes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        var labels = [UInt16](repeating: 0, count: 40 * 40)
        var image = Image(channels: 1, height: 40, width: 40, repeating: 0.1)
        func paint(_ id: UInt16, x: Int, y: Int, w: Int, h: Int) {
            for yy in y..<(y + h) { for xx in x..<(x + w) { labels[yy * 40 + xx] = id; image.pixels[yy * 40 + xx] = 0.9 } }
        }
        paint(1, x: 20, y: 5, w: 10, h: 8)
        paint(2, x: 0, y: 30, w: 6, h: 6)
        paint(3, x: 30, y: 30, w: 3, h: 3)
        try image.write(path: url.appendingPathComponent("000_image.png").path)
        try LabelMap(height: 40, width: 40, labels: labels).write(path: url.appendingPathComponent("000_instances.png").path)
        return url.path
    }

    @Test func eachInsideObjectBecomesACropWithItsOwnMask() throws {
        let source = try Self.folder(), out = source + "-fg"
        defer { try? FileManager.default.removeItem(atPath: source); try? FileManager.default.removeItem(atPath: out) }
        let summary = try BoxCrops.write(from: source, to: out, margin: 0.2, minSide: 4, backgroundsPerImage: 3)
        #expect(summary == BoxCrops.Summary(images: 1, crops: 1, backgrounds: 3, skipped: 2))
        // Margin 0.2: 2 columns and 2 rows (0.2 × 10, 0.2 × 8 rounded) on every side: 14 × 12.
        let crop = try Image.read(path: out + "/0000.png"), mask = try Image.read(path: out + "/masks/0000.png")
        #expect(crop.width == 14 && crop.height == 12 && mask.width == 14 && mask.height == 12)
        let inside = mask.pixels.filter { $0 > 0.5 }.count
        #expect(inside == 80)
        #expect(mask[0, 2, 2] > 0.5 && mask[0, 1, 1] < 0.5)
        // Backgrounds: squares of the crop's longer side that keep 2 pixels away from every object.
        let pool = try FgDataset.listEntries(folder: out + "/backgrounds")
        #expect(pool.count == 3)
        let patch = try Image.read(path: out + "/backgrounds/" + pool[0].file)
        #expect(patch.width == 14 && patch.pixels.allSatisfy { abs($0 - 0.1) < 0.01 })
        // The crops load as an fg data set with masks.
        let data = try FgDataset.load(folder: out, size: 64)
        #expect(data.count == 1 && data.hasMasks)
    }

    /// A ring that leaves the image repeats the image's edge, so the box stays the crop's
    /// centre; the margin is recorded beside the crops for `carve train`.
    @Test func aRingPastTheImageEdgeKeepsTheBoxCentredAndTheMarginIsRecorded() throws {
        let source = try Self.folder(), out = source + "-fg"
        defer { try? FileManager.default.removeItem(atPath: source); try? FileManager.default.removeItem(atPath: out) }
        // Object 1 (x 20…29, y 5…12) at margin 0.8: 8 columns and 6 rows on every side; the
        // top row of the ring, y = −1, lies above the image.
        _ = try BoxCrops.write(from: source, to: out, margin: 0.8, minSide: 4, backgroundsPerImage: 1)
        let crop = try Image.read(path: out + "/0000.png"), mask = try Image.read(path: out + "/masks/0000.png")
        #expect(crop.width == 26 && crop.height == 20 && mask.width == 26 && mask.height == 20)
        for y in 0..<20 {
            for x in 0..<26 {
                let inBox = (6...13).contains(y) && (8...17).contains(x)
                #expect((mask[0, y, x] > 0.5) == inBox)
                #expect(abs(crop[0, y, x] - (inBox ? 0.9 : 0.1)) < 0.01)  // row 0 repeats the image's row 0
            }
        }
        #expect(try BoxCrops.margin(ofCropsIn: out) == 0.8)
        #expect(try BoxCrops.margin(ofCropsIn: source) == nil)
        try Data("{\"box_margin\": \"wide\"}".utf8).write(to: URL(fileURLWithPath: out + "/" + BoxCrops.recordName))
        #expect(throws: DatasetError.self) { _ = try BoxCrops.margin(ofCropsIn: out) }
    }

    /// A boxes.csv folder loaded with a margin: each box widened as `carve data boxes` cuts it,
    /// the image's edge repeated past its border, the mask zero there.
    @Test func boxListsAreCutWithTheRingWhenAskedFor() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("carve-boxes-ring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url.appendingPathComponent("masks"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        // 40 × 40: column x has grey x/40, the object the 10 × 10 square at (2, 10).
        var image = Image(channels: 1, height: 40, width: 40), mask = Image(channels: 1, height: 40, width: 40)
        for y in 0..<40 {
            for x in 0..<40 {
                image.pixels[y * 40 + x] = Float(x) / 40
                mask.pixels[y * 40 + x] = (2..<12).contains(x) && (10..<20).contains(y) ? 1 : 0
            }
        }
        try image.write(path: url.appendingPathComponent("a.png").path)
        try mask.write(path: url.appendingPathComponent("masks/a.png").path)
        try "file,x,y,w,h\na.png,2,10,10,10\n".write(to: url.appendingPathComponent("boxes.csv"), atomically: true, encoding: .utf8)
        // Margin 0.5: 5 pixels on every side, 20 × 20 from x = −3, y = 5: at size 20 pixel for pixel.
        let data = try FgDataset.load(folder: url.path, size: 20, margin: 0.5)
        let crop = data.image(0), truth = try #require(data.mask(0))
        for y in 0..<20 {
            for x in 0..<20 {
                #expect(abs(crop[0, y, x] - Float(max(x - 3, 0)) / 40) < 0.01)   // x < 3 repeats column 0
                #expect((truth[0, y, x] > 0.5) == ((5..<15).contains(y) && (5..<15).contains(x)))
            }
        }
        let tight = try FgDataset.load(folder: url.path, size: 10)
        #expect(abs(tight.image(0)[0, 0, 0] - 2.0 / 40) < 0.01 && tight.mask(0)!.pixels.allSatisfy { $0 > 0.5 })
    }

    @Test func aFolderWithoutLabelsIsOneClearError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("carve-boxes-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        try Image(channels: 3, height: 8, width: 8).write(path: url.appendingPathComponent("a.png").path)
        #expect(throws: DatasetError.self) { _ = try BoxCrops.write(from: url.path, to: url.path + "/out") }
    }
}

/// Bad numbers in box lists and images are one clear error, never a trap (issue 17, item 1/4).
struct BadBoxTests {
    @Test func nonFiniteOrHugeCoordinatesNameTheLine() {
        for bad in ["nan", "inf", "1e300", "0x1p70", "-inf"] {
            #expect(throws: DatasetError.badLine(path: "boxes.csv", line: 2,
                                                 reason: "x,y,w,h must be finite numbers of at most 1e7 with w, h > 0")) {
                _ = try FgLayout.parseBoxesCSV("file,x,y,w,h\na.png,\(bad),1,5,5\n", path: "boxes.csv")
            }
            #expect(throws: DatasetError.self) {
                _ = try FgLayout.parseCUB(images: "1 a.png\n", boxes: "1 0 0 \(bad) 3\n", imagesPath: "images.txt", boxesPath: "bounding_boxes.txt")
            }
        }
    }

    @Test func crlfListsReadLikeLfLists() throws {
        let entries = try FgLayout.parseBoxesCSV("file,x,y,w,h\r\na.png,1,2,3,4\r\nb.png,5,6,7,8\r\n", path: "boxes.csv")
        #expect(entries.map(\.file) == ["a.png", "b.png"] && entries[1].box == Box(x: 5, y: 6, w: 7, h: 8))
    }

    @Test func aBoxOutsideItsImageNamesTheImage() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("carve-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        try Image(channels: 3, height: 10, width: 10).write(path: url.appendingPathComponent("a.png").path)
        try "a.png,50,50,5,5\n".write(to: url.appendingPathComponent("boxes.csv"), atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.self) { _ = try FgDataset.load(folder: url.path, size: 64) }
    }

    @Test func writingNaNPixelsIsAnErrorNotATrap() {
        var image = Image(channels: 1, height: 2, width: 2)
        image.pixels[3] = .nan
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("carve-nan-\(UUID().uuidString).png").path
        #expect(throws: ImageError.self) { try image.write(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
