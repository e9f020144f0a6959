import Foundation
import Imaging
import Testing

@Suite struct HocDatasetTests {
    static let source = Image(channels: 1, height: 60, width: 80,
                              pixels: (0..<4800).map { Float(($0 * 7) % 101) / 100 })

    /// An image smaller than the window is an error that names the file, not only the window.
    @Test func aTooSmallImageIsNamed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("carve-1x1-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Image(channels: 3, height: 1, width: 1, repeating: 0.5).write(path: path)
        #expect {
            _ = try HocDataset.load(path: path, options: HocOptions(window: 16))
        } throws: { error in
            let text = (error as? LocalizedError)?.errorDescription ?? ""
            return text.contains("window") && text.contains(path)
        }
    }

    /// With `objectWindows` only windows centred on Otsu's foreground are cut: on one bright disc
    /// (radius 10) in a dark 96 × 96 image, every patch's centre pixel is bright, and the windows
    /// are those whose centre lies in the disc (of 49 at stride 8, the 5 within its radius).
    @Test func objectWindowsAreCentredOnObjects() throws {
        var image = Image(channels: 1, height: 96, width: 96, repeating: 0.1)
        for y in 0..<96 { for x in 0..<96 where (y - 48) * (y - 48) + (x - 48) * (x - 48) <= 100 { image.pixels[y * 96 + x] = 0.9 } }
        let all = try HocDataset(image: image, options: HocOptions(window: 48, stride: 8, patchSize: 48))
        let centred = try HocDataset(image: image, options: HocOptions(window: 48, stride: 8, patchSize: 48, objectWindows: true))
        #expect(all.windowCount == 49)
        #expect(centred.windowCount == 5, "\(centred.windowCount)")
        for i in 0..<centred.count { #expect(centred.patch(i).pixels[24 * 48 + 24] > 0.5) }
        // No object at all: every window is kept.
        let flat = Image(channels: 1, height: 96, width: 96, repeating: 0.1)
        #expect(try HocDataset(image: flat, options: HocOptions(window: 48, stride: 8, objectWindows: true)).windowCount == 49)
    }

    @Test func patchCountAndShapeFollowWindowStrideAndFlips() throws {
        let plain = try HocDataset(image: Self.source, options: HocOptions(window: 30, stride: 10, patchSize: 16))
        // y ∈ {0, 10, 20, 30}, x ∈ {0, 10, ..., 50}
        #expect(plain.windowCount == 4 * 6 && plain.count == 24)
        let p = plain.patch(5)
        #expect(p.channels == 3 && p.height == 16 && p.width == 16)
        // A patch is the window scaled by 16/30 (up to the rounding of the scaled origin).
        let direct = Self.source.rgb().region(x: 0, y: 0, width: 30, height: 30, resizedTo: 16, 16)
        let first = plain.patch(0)
        let diff = zip(first.pixels, direct.pixels).map { abs($0 - $1) }.max()!
        #expect(diff < 0.08, "max diff \(diff)")

        let flipped = try HocDataset(image: Self.source, options: HocOptions(window: 30, stride: 10, patchSize: 16,
                                                                               horizontalFlips: true, verticalFlips: true))
        #expect(flipped.count == 96)
        #expect(flipped.patch(0) == plain.patch(0))
        #expect(flipped.patch(2) == plain.patch(0).flippedHorizontally())
        #expect(flipped.patch(1) == plain.patch(0).flippedVertically())
        #expect(flipped.patch(4 * 3 + 3) == plain.patch(3).flippedHorizontally().flippedVertically())

        var batch = [Float](repeating: -1, count: 3 * 3 * 16 * 16)
        batch.withUnsafeMutableBufferPointer { flipped.fillPatches($0, indices: [7, 0, 95]) }
        #expect(Array(batch[(3 * 256)..<(6 * 256)]) == flipped.patch(0).pixels)
        #expect(Array(batch[(6 * 256)...]) == flipped.patch(95).pixels)
    }

    @Test func backgroundsAreRealPatchesWithABlackCentreDisk() throws {
        let white = Image(channels: 3, height: 64, width: 64, repeating: 1)
        let data = try HocDataset(image: white, options: HocOptions(window: 32, stride: 8))
        var bg = [Float](repeating: 0, count: 2 * 3 * 64 * 64)
        bg.withUnsafeMutableBufferPointer { data.fillBackgrounds($0, seed: 1, step: 0, samples: [3, 9]) }
        let black = bg[0..<(64 * 64)].filter { $0 == 0 }.count
        // π · 20² ≈ 1257 pixels.
        #expect(abs(black - 1257) < 40, "\(black) black pixels")
        #expect(bg[32 * 64 + 32] == 0 && bg[0] == 1 && bg[32 * 64 + 53] == 1 && bg[32 * 64 + 51] == 0)

        let textured = try HocDataset(image: HocDatasetTests.source, options: HocOptions(window: 30, stride: 5))
        var a = [Float](repeating: 0, count: 3 * 64 * 64), b = a, c = a
        a.withUnsafeMutableBufferPointer { textured.fillBackgrounds($0, seed: 1, step: 4, samples: [12]) }
        b.withUnsafeMutableBufferPointer { textured.fillBackgrounds($0, seed: 1, step: 4, samples: [12]) }
        c.withUnsafeMutableBufferPointer { textured.fillBackgrounds($0, seed: 1, step: 5, samples: [12]) }
        #expect(a == b && a != c)
    }

    @Test func badWindowIsAClearError() {
        #expect(throws: DatasetError.self) { try HocDataset(image: Self.source, options: HocOptions(window: 100)) }
    }

    @Test func embeddedDefaultIsTheShippedCoinsPhoto() throws {
        #expect(HocDataset.embeddedCoinsURL != nil)
        let data = try HocDataset.embeddedDefault()
        #expect(data.options.window == 90 && data.count > 100)
        #expect(data.scaledSources[0].height == Int((303.0 * 64 / 90).rounded()))
    }
}

@Suite struct FgDatasetTests {
    @Test func boxesCSVParses() throws {
        let entries = try FgLayout.parseBoxesCSV("file,x,y,w,h\na.png,1,2,30,40\n\n# note\nsub/b.png, 0.5, 0, 10.5, 9\n", path: "boxes.csv")
        #expect(entries == [FgEntry(file: "a.png", box: Box(x: 1, y: 2, w: 30, h: 40)),
                            FgEntry(file: "sub/b.png", box: Box(x: 0.5, y: 0, w: 10.5, h: 9))])
        #expect(throws: DatasetError.badLine(path: "boxes.csv", line: 2, reason: "expected file,x,y,w,h, found 3 fields")) {
            try FgLayout.parseBoxesCSV("file,x,y,w,h\na.png,1,2\n", path: "boxes.csv")
        }
        #expect(throws: DatasetError.self) { try FgLayout.parseBoxesCSV("a.png,1,2,0,4\n", path: "boxes.csv") }
    }

    @Test func cubListsParse() throws {
        let images = "1 001.Black_footed_Albatross/a.png\n2 002.Laysan/b.png\n"
        let boxes = "1 60.0 27.0 325.0 304.0\n2 139.0 30.0 153.0 264.0\n"
        let entries = try FgLayout.parseCUB(images: images, boxes: boxes, imagesPath: "images.txt", boxesPath: "bounding_boxes.txt")
        #expect(entries.count == 2)
        #expect(entries[0] == FgEntry(file: "images/001.Black_footed_Albatross/a.png", box: Box(x: 60, y: 27, w: 325, h: 304)))
        #expect(throws: DatasetError.self) {
            try FgLayout.parseCUB(images: "3 c.png\n", boxes: boxes, imagesPath: "images.txt", boxesPath: "bounding_boxes.txt")
        }
    }

    @Test func loadsBoxCroppedImagesWithMasksAndPreCroppedFolders() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("images"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("masks"), withIntermediateDirectories: true)
        // A 40 × 40 image: left half 0.2, right half 0.8; mask = right half.
        var pixels = [Float](repeating: 0.2, count: 3 * 1600)
        var mask = [Float](repeating: 0, count: 1600)
        for c in 0..<3 { for y in 0..<40 { for x in 20..<40 { pixels[c * 1600 + y * 40 + x] = 0.8 } } }
        for y in 0..<40 { for x in 20..<40 { mask[y * 40 + x] = 1 } }
        try Image(channels: 3, height: 40, width: 40, pixels: pixels).write(path: dir.file("images/a.png"))
        try Image(channels: 1, height: 40, width: 40, pixels: mask).write(path: dir.file("masks/a.png"))
        try "file,x,y,w,h\nimages/a.png,20,0,20,40\n".write(toFile: dir.file("boxes.csv"), atomically: true, encoding: .utf8)
        let data = try FgDataset.load(folder: dir.path, size: 8)
        #expect(data.count == 1 && data.hasMasks)
        #expect(data.image(0).pixels.allSatisfy { abs($0 - 0.8) < 0.003 })
        #expect(data.mask(0)!.pixels.allSatisfy { $0 == 1 })

        try FileManager.default.removeItem(atPath: dir.file("boxes.csv"))
        let whole = try FgDataset.load(folder: dir.path, size: 4)
        #expect(whole.entries == [FgEntry(file: "images/a.png", box: nil)])
        #expect(whole.image(0)[0, 0, 0] < 0.25 && whole.image(0)[0, 0, 3] > 0.75)
        #expect(whole.mask(0)![0, 0, 0] == 0)

        try "file,x,y,w,h\nimages/zzz.png,0,0,4,4\n".write(toFile: dir.file("boxes.csv"), atomically: true, encoding: .utf8)
        #expect(throws: DatasetError.self) { try FgDataset.load(folder: dir.path) }
    }

    /// CUB lists name `.jpg` files: converted in place to `.png` and the originals deleted, they
    /// load without editing the lists; a listed JPEG that exists is read itself (JPEGTests has
    /// real ones), so a broken one is one error naming it, even with the PNG beside it.
    @Test func cubListsFindConvertedPNGsAndReadListedJPEGs() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("images/001.Bird"), withIntermediateDirectories: true)
        try Image(channels: 3, height: 12, width: 12, pixels: [Float](repeating: 0.5, count: 3 * 144))
            .write(path: dir.file("images/001.Bird/a.png"))
        try "1 001.Bird/a.jpg\n".write(toFile: dir.file("images.txt"), atomically: true, encoding: .utf8)
        try "1 2.0 2.0 8.0 8.0\n".write(toFile: dir.file("bounding_boxes.txt"), atomically: true, encoding: .utf8)
        let data = try FgDataset.load(folder: dir.path, size: 4)
        #expect(data.count == 1 && data.image(0).pixels.allSatisfy { abs($0 - 0.5) < 0.003 })

        let jpeg = dir.file("images/001.Bird/a.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 0, count: 64)).write(to: URL(fileURLWithPath: jpeg))
        let error = #expect(throws: ImageError.self) { try FgDataset.load(folder: dir.path, size: 4) }
        if case .corrupt(let path, _) = error {
            #expect(path == jpeg)
        } else {
            Issue.record("a broken listed JPEG gave \(String(describing: error))")
        }
    }

    @Test func backgroundPoolIsDeterministicPerSample() {
        let a = SynthFg.proceduralBackground(seed: 1, index: 0, size: 50)
        let b = SynthFg.proceduralBackground(seed: 1, index: 1, size: 70)
        let pool = BackgroundPool(images: [a, b], size: 32)
        var x = [Float](repeating: 0, count: 2 * 3 * 32 * 32), y = x
        x.withUnsafeMutableBufferPointer { pool.fill($0, seed: 5, step: 2, samples: [10, 11]) }
        y.withUnsafeMutableBufferPointer { pool.fill($0, seed: 5, step: 2, samples: [10, 11]) }
        #expect(x == y)
        #expect(Array(x[0..<3072]) != Array(x[3072...]))
        #expect(pool.patch(seed: 5, step: 2, sample: 11).pixels == Array(x[3072...]))
    }
}
