// JPEG input (JPEGShim over libjpeg-turbo) through Image.read and every folder scan. The fixtures
// are small files written by scripts/make_jpeg_fixtures.py with Pillow from a synthetic 70 × 45
// picture; Python is needed only to remake them.
import Foundation
@testable import Imaging
import Testing

/// The path of `Fixtures/<name>` in this test bundle.
func jpegFixture(_ name: String) throws -> String {
    let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures").appendingPathComponent(name)
    guard let url, FileManager.default.fileExists(atPath: url.path) else {
        throw ImageError.cannotOpen(path: "Fixtures/\(name)", reason: "not in the test bundle; run scripts/make_jpeg_fixtures.py")
    }
    return url.path
}

/// Per-channel mean and max absolute difference, in 8-bit levels (units of 1/255).
func levelErrors(_ a: Image, _ b: Image) -> [(mean: Double, max: Double)] {
    precondition(a.channels == b.channels && a.height == b.height && a.width == b.width,
                 "levelErrors: [\(a.channels), \(a.height), \(a.width)] vs [\(b.channels), \(b.height), \(b.width)]")
    let n = a.planeSize
    return (0..<a.channels).map { c in
        var sum = 0.0, worst = 0.0
        for i in (c * n)..<((c + 1) * n) {
            let d = Double(abs(a.pixels[i] - b.pixels[i])) * 255
            sum += d
            worst = max(worst, d)
        }
        return (sum / Double(n), worst)
    }
}

/// A SplitMix64 stream, so the fuzz cases are the same on every run.
struct FuzzBytes {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

// Note [JPEG tolerance]
// Two different claims, two tolerances.
// 1. Carve decodes exactly what libjpeg-turbo decodes: each fixture's `.pillow.png` is Pillow's
//    decode of the same file (Pillow also wraps libjpeg-turbo, with the same defaults: ISLOW
//    integer IDCT, fancy upsampling; and the same naive CMYK → RGB, (255 − C)(255 − K)/255
//    rounded). So the tolerance is 0: any difference is a bug in our buffer handling (channel
//    order, row stride, gray expansion, CMYK inversion), not JPEG's loss.
// 2. A JPEG and a PNG of the same picture give the same tensor within JPEG's error, which is
//    the encoder's quantisation (and, at 4:2:0, chroma subsampling), nothing the decoder adds.
//    At quality 95 the IJG tables are scaled by 0.1: luma steps 1–10, chroma steps 2–10, and a
//    coefficient is off by at most half its step. The fixture picture carries ±3 levels of
//    independent noise per channel (photo grain), which is mostly chroma, so R and B (which
//    take 1.4 and 1.8 × Cr and Cb) lose the most. Measured (make_jpeg_fixtures.py prints the
//    same numbers from Pillow's decode), mean / max per channel in levels:
//      4:4:4 baseline      R 2.23 / 14   G 1.61 / 9    B 2.40 / 16   (max at the hard red edge)
//      4:2:0 progressive   R 5.20 / 106  G 2.82 / 48   B 4.04 / 60   (2 × 2 chroma averaging
//                          across the red disk's edge: up to about half the colour step there)
//      gray                1.01 / 6
//      CMYK (4:4:4)        R 1.28 / 6    G 1.23 / 7    B 1.25 / 7    (no YCbCr: per-channel)
//    The bounds below sit about 25 % above these. A wrong decode is far outside them: R and B
//    swapped is ~60 levels mean on this picture, one row of shift ~3–5 levels mean in G.

@Suite struct JPEGTests {
    /// A fixture JPEG, the lossless picture it was made from, and the bounds of Note [JPEG tolerance].
    struct Case: CustomStringConvertible, Sendable {
        var jpeg: String
        var png: String
        var meanBound: Double
        var maxBound: Double
        var description: String { jpeg }

        static let all = [
            Case(jpeg: "picture-q95-444.jpg", png: "picture.png", meanBound: 3, maxBound: 20),
            Case(jpeg: "picture-q95-420-prog.jpg", png: "picture.png", meanBound: 6.5, maxBound: 128),
            Case(jpeg: "gray-q95.jpg", png: "gray.png", meanBound: 1.5, maxBound: 8),
            Case(jpeg: "cmyk-q95.jpg", png: "picture.png", meanBound: 2, maxBound: 10),
        ]
    }

    @Test(arguments: Case.all)
    func decodesExactlyWhatLibjpegTurboDecodes(_ c: Case) throws {
        let image = try Image.read(path: jpegFixture(c.jpeg))
        let pillow = try Image.read(path: jpegFixture((c.jpeg as NSString).deletingPathExtension + ".pillow.png")).rgb()
        #expect(image.channels == 3 && image.height == 45 && image.width == 70)
        let errors = levelErrors(image, pillow)
        #expect(errors.allSatisfy { $0.max == 0 }, "\(c.jpeg) differs from Pillow's decode: \(errors)")
    }

    @Test(arguments: Case.all)
    func jpegAndPNGOfTheSamePictureAgreeWithinJPEGError(_ c: Case) throws {
        let jpeg = try Image.read(path: jpegFixture(c.jpeg))
        let png = try Image.read(path: jpegFixture(c.png)).rgb()
        let errors = levelErrors(jpeg, png)
        print("JPEG vs PNG, \(c.jpeg), per channel (levels): "
            + errors.map { String(format: "mean %.3f max %.0f", $0.mean, $0.max) }.joined(separator: ", "))
        for (channel, e) in errors.enumerated() {
            #expect(e.mean < c.meanBound, "\(c.jpeg) channel \(channel): mean error \(e.mean) levels")
            #expect(e.max <= c.maxBound, "\(c.jpeg) channel \(channel): max error \(e.max) levels")
        }
    }

    @Test func grayJPEGGivesThreeEqualChannels() throws {
        let image = try Image.read(path: jpegFixture("gray-q95.jpg"))
        #expect(image.channels == 3)
        let n = image.planeSize
        #expect(Array(image.pixels[0..<n]) == Array(image.pixels[n..<(2 * n)]))
        #expect(Array(image.pixels[0..<n]) == Array(image.pixels[(2 * n)...]))
        // And not trivially: the picture has contrast.
        #expect(image.pixels[0..<n].max()! - image.pixels[0..<n].min()! > 0.4)
    }

    /// The format comes from the first bytes: a JPEG named .png and a PNG named .jpg both read.
    @Test func formatComesFromTheContentNotTheName() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpegFixture("picture-q95-444.jpg"))))
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpegFixture("picture.png"))))
        let jpegAsPNG = try dir.write(jpeg, to: "really-a-jpeg.png")
        let pngAsJPEG = try dir.write(png, to: "really-a-png.JPG")
        #expect(try Image.read(path: jpegAsPNG) == Image.read(path: jpegFixture("picture-q95-444.jpg")))
        #expect(try Image.read(path: pngAsJPEG) == Image.read(path: jpegFixture("picture.png")))
        #expect(try ImageFormat.of(path: jpegAsPNG) == .jpeg && ImageFormat.of(path: pngAsJPEG) == .png)
        // Label maps stay PNG-only: a JPEG's loss would change the ids.
        #expect(throws: ImageError.notPNG(path: jpegAsPNG)) { try LabelMap.read(path: jpegAsPNG) }
    }

    @Test func sizeLimitIsCheckedFromTheHeader() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let small = try jpegFixture("picture-q95-444.jpg")
        if case .tooLarge(_, let reason) = #expect(throws: ImageError.self, performing: { try Image.read(path: small, maxPixels: 3000) }) {
            #expect(reason == "image of 70 x 45 pixels exceeds the limit of 3000 pixels")
        } else {
            Issue.record("a 70 × 45 JPEG was not refused with maxPixels 3000")
        }
        #expect(try Image.read(path: small, maxPixels: 70 * 45).width == 70)
        // A header claiming 65000 × 65000 (SOF0: FF C0, length, precision, height, width).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: small)))
        let sof = try #require((0..<(bytes.count - 9)).first { bytes[$0] == 0xff && bytes[$0 + 1] == 0xc0 })
        bytes.replaceSubrange((sof + 5)..<(sof + 9), with: [0xfd, 0xe8, 0xfd, 0xe8])
        let huge = try dir.write(bytes, to: "huge.jpg")
        #expect(throws: ImageError.tooLarge(path: huge, reason: "image of 65000 x 65000 pixels exceeds the limit of \(Image.defaultMaxPixels) pixels")) {
            try Image.read(path: huge)
        }
    }

    /// Whatever the bytes, reading gives an image or one `ImageError` naming the file: never a
    /// crash, a hang or another error type.
    @Test func brokenJPEGsGiveOneTypedErrorNamingTheFile() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        func outcome(_ path: String) -> ImageError? {
            do {
                let image = try Image.read(path: path)
                #expect(image.channels == 3 && image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 })
                return nil
            } catch let error as ImageError {
                #expect(error.errorDescription?.contains(path) == true, "\(error.errorDescription ?? "")")
                return error
            } catch {
                Issue.record("\(path): not an ImageError: \(error)")
                return nil
            }
        }

        #expect(outcome(try dir.write([], to: "empty.jpg")) == .empty(path: dir.file("empty.jpg")))
        #expect(outcome(try dir.write([0xff, 0xd8], to: "short.jpg")) == .unknownFormat(path: dir.file("short.jpg")))
        #expect(outcome(dir.file("missing.jpg")).map { if case .cannotOpen = $0 { true } else { false } } == true)
        #expect(outcome(dir.path).map { if case .cannotOpen = $0 { true } else { false } } == true)  // a folder

        var rng = FuzzBytes(state: 16)
        // Random bytes after the magic: always an error (libjpeg's message as the reason).
        for k in 0..<40 {
            let bytes = [0xff, 0xd8, 0xff] + (0..<(1 + rng.below(3000))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let path = try dir.write(bytes, to: "random-\(k).jpg")
            if case .corrupt = outcome(path) {} else { Issue.record("random bytes after FF D8 FF: \(path) not reported as corrupt") }
        }
        for name in Case.all.map(\.jpeg) {
            let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpegFixture(name))))
            // Every 97th truncation, and the last two bytes (EOI) missing: always corrupt.
            for length in Array(stride(from: 3, to: good.count, by: 97)) + [good.count - 2, good.count - 1] {
                let path = try dir.write(Array(good[0..<length]), to: "truncated-\(length)-\(name)")
                if case .corrupt = outcome(path) {} else { Issue.record("\(name) cut to \(length) bytes not reported as corrupt") }
            }
            let cut = try dir.write(Array(good[0..<(good.count - 2)]), to: "cut-\(name)")
            if case .corrupt(_, let reason) = outcome(cut) { #expect(reason == "Premature end of JPEG file") }
            // Random byte flips: an image (damage libjpeg cannot see, e.g. in a coefficient) or
            // an error; over 50 tries on each file some must be errors.
            var errors = 0
            for k in 0..<50 {
                var bytes = good
                for _ in 0..<(1 + rng.below(4)) {
                    bytes[2 + rng.below(bytes.count - 2)] ^= UInt8(1 + rng.below(255))
                }
                if outcome(try dir.write(bytes, to: "flipped-\(k)-\(name)")) != nil { errors += 1 }
            }
            #expect(errors > 0, "\(name): no byte flip was detected")
        }
    }

    // MARK: - Folder scans

    @Test func folderScansTakePNGAndJPEGInAnyCase() throws {
        #expect(Image.isReadableImageName("a.png") && Image.isReadableImageName("b.JPG") && Image.isReadableImageName("c.Jpeg"))
        #expect(Image.isReadableImageName("images/001.Bird/d.jpg"))
        #expect(!Image.isReadableImageName("boxes.csv") && !Image.isReadableImageName("._e.jpg")
            && !Image.isReadableImageName("jpg") && !Image.isReadableImageName("f.jpg.tmp"))

        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpegFixture("picture-q95-444.jpg"))))
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpegFixture("picture.png"))))
        for name in ["image-b.JPG", "image-c.jpeg", "image-d.jpg"] { _ = try dir.write(jpeg, to: name) }
        _ = try dir.write(png, to: "image-a.png")
        _ = try dir.write(png, to: "image-d.png")  // converted next to image-d.jpg: the PNG is taken
        _ = try dir.write([1, 2, 3], to: "notes.txt")
        _ = try dir.write(jpeg, to: ".hidden.jpg")
        #expect(try Image.imageNames(inFolder: dir.path) == ["image-a.png", "image-b.JPG", "image-c.jpeg", "image-d.png"])
        #expect(throws: ImageError.self) { try Image.imageNames(inFolder: dir.file("missing")) }

        let pool = try BackgroundPool.load(folder: dir.path, size: 16)
        #expect(try pool.images.count == 4 && pool.images[1] == Image.read(path: dir.file("image-b.JPG")))
        let hoc = try HocDataset.load(path: dir.path, options: HocOptions(window: 20))
        #expect(hoc.count > 0)
        let fg = try FgDataset.load(folder: dir.path, size: 8)
        #expect(fg.entries.map(\.file) == ["image-a.png", "image-b.JPG", "image-c.jpeg", "image-d.png"])
    }

    @Test func boxCropsTakeJPEGImagesWithPNGLabels() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: jpegFixture("picture-q95-444.jpg"))))
        _ = try dir.write(jpeg, to: "000_image.jpeg")
        _ = try dir.write(jpeg, to: "cell.JPG")
        try LabelMap(height: 45, width: 70, labels: [UInt16](repeating: 0, count: 45 * 70)).write(path: dir.file("000_instances.png"))
        try Image(channels: 1, height: 45, width: 70).write(path: dir.file("cell_mask.png"))
        let sources = try BoxCrops.sources(in: dir.path)
        #expect(sources == [
            BoxCrops.Source(image: dir.file("000_image.jpeg"), labels: dir.file("000_instances.png"), isMask: false),
            BoxCrops.Source(image: dir.file("cell.JPG"), labels: dir.file("cell_mask.png"), isMask: true),
        ])
    }

    /// CUB-200-2011's layout with its own .jpg files: read directly, crops from the boxes, masks
    /// from segmentations/ (PNG); a listed .jpg that is missing still finds the PNG beside it.
    @Test func cubFolderOfJPEGsLoadsAsAnFgDataset() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let fm = FileManager.default
        for folder in ["images/001.Black_footed_Albatross", "images/002.Laysan_Albatross",
                       "segmentations/001.Black_footed_Albatross", "segmentations/002.Laysan_Albatross"] {
            try fm.createDirectory(atPath: dir.file(folder), withIntermediateDirectories: true)
        }
        let a = "images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg"
        let b = "images/001.Black_footed_Albatross/Black_Footed_Albatross_0002_55.JPG"
        let c = "images/002.Laysan_Albatross/Laysan_Albatross_0001_545.jpg"
        try fm.copyItem(atPath: jpegFixture("picture-q95-420-prog.jpg"), toPath: dir.file(a))
        try fm.copyItem(atPath: jpegFixture("gray-q95.jpg"), toPath: dir.file(b))
        try fm.copyItem(atPath: jpegFixture("picture.png"), toPath: dir.file((c as NSString).deletingPathExtension + ".png"))
        // A different (black) picture converted next to a.jpg: the listed .jpg itself is read.
        try Image(channels: 3, height: 45, width: 70).write(path: dir.file((a as NSString).deletingPathExtension + ".png"))
        for file in [a, b, c] {
            let mask = "segmentations/" + (String(file.dropFirst("images/".count)) as NSString).deletingPathExtension + ".png"
            try Image(channels: 1, height: 45, width: 70, repeating: 1).write(path: dir.file(mask))
        }
        let lines = [a, b, c].enumerated().map { "\($0.offset + 1) \($0.element.dropFirst("images/".count))" }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.file("images.txt"), atomically: true, encoding: .utf8)
        let boxes = [Box(x: 10, y: 5, w: 40, h: 30), Box(x: 0, y: 0, w: 70, h: 45), Box(x: 5.5, y: 4, w: 20, h: 20)]
        try (boxes.enumerated().map { "\($0.offset + 1) \($0.element.x) \($0.element.y) \($0.element.w) \($0.element.h)" }
            .joined(separator: "\n") + "\n").write(toFile: dir.file("bounding_boxes.txt"), atomically: true, encoding: .utf8)

        let data = try FgDataset.load(folder: dir.path, size: 16)
        #expect(data.count == 3 && data.hasMasks)
        #expect(data.entries.map(\.file) == [a, b, c])
        let sources = [dir.file(a), dir.file(b), dir.file((c as NSString).deletingPathExtension + ".png")]
        for (k, source) in sources.enumerated() {
            let expected = FgDataset.crop(try Image.read(path: source).rgb(), boxes[k], size: 16)
            let stored = expected.pixels.map { Float(UInt8((min(max($0, 0), 1) * 255).rounded())) / 255 }
            #expect(data.image(k).pixels == stored, "crop \(k) is not the crop of \(source)")
            #expect(data.mask(k)!.pixels.allSatisfy { $0 == 1 })
        }
        #expect(data.image(0).pixels.max()! > 0.5)  // the JPEG, not the black PNG beside it
    }
}
