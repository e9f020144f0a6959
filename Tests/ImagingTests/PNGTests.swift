import Foundation
import Imaging
import Testing

@Suite struct PNGTests {
    /// An image whose values are exact multiples of 1/255 (so 8-bit round trips are exact).
    static func ramp(channels: Int, height: Int, width: Int) -> Image {
        let n = channels * height * width
        return Image(channels: channels, height: height, width: width,
                     pixels: (0..<n).map { Float(($0 * 37 + 11) % 256) / 255 })
    }

    @Test(arguments: [1, 2, 3, 4])
    func eightBitRoundTripIsExact(_ channels: Int) throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let image = Self.ramp(channels: channels, height: 7, width: 9)
        try image.write(path: dir.file("a.png"))
        let back = try Image.read(path: dir.file("a.png"))
        #expect(back == image)
        // Atomic write leaves no temporary file behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.png"])
    }

    @Test func sixteenBitGrayAndLabelMapsRoundTrip() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        let values = (0..<30).map { Float($0 * 2000) / 65535 }
        let image = Image(channels: 1, height: 5, width: 6, pixels: values)
        try image.write(path: dir.file("g16.png"), bitDepth: 16)
        let back = try Image.read(path: dir.file("g16.png"))
        #expect(back == image)

        let labels = LabelMap(height: 3, width: 4, labels: [0, 1, 2, 300, 65535, 7, 7, 7, 0, 0, 1000, 42])
        try labels.write(path: dir.file("labels.png"))
        #expect(try LabelMap.read(path: dir.file("labels.png")) == labels)
    }

    @Test func readsLowBitGrayPaletteGrayAlphaAndSixteenBitRGB() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        // 1-bit gray, 3 × 2: 101 / 010 packed MSB first.
        let g1 = try dir.write(PNGBytes.png(width: 3, height: 2, bitDepth: 1, colorType: 0,
                                            rows: [[0b1010_0000], [0b0100_0000]]), to: "g1.png")
        #expect(try Image.read(path: g1).pixels == [1, 0, 1, 0, 1, 0])
        // 4-bit gray: 0xF0 → 15, 0 (scaled to 255, 0).
        let g4 = try dir.write(PNGBytes.png(width: 2, height: 1, bitDepth: 4, colorType: 0, rows: [[0xf5]]), to: "g4.png")
        #expect(try Image.read(path: g4).pixels == [1, Float(0x55) / 255])
        // Palette with transparency: index 0 = red opaque, 1 = blue half transparent.
        let pal = try dir.write(PNGBytes.png(width: 2, height: 1, bitDepth: 8, colorType: 3, rows: [[0, 1]],
                                             palette: [255, 0, 0, 0, 0, 255], transparency: [255, 128]), to: "p.png")
        let p = try Image.read(path: pal)
        #expect(p.channels == 4)
        #expect(p.pixels == [1, 0, 0, 0, 0, 1, 1, Float(128) / 255])
        // Palette without transparency → RGB.
        let pal3 = try dir.write(PNGBytes.png(width: 1, height: 1, bitDepth: 8, colorType: 3, rows: [[1]],
                                              palette: [255, 0, 0, 0, 255, 0]), to: "p3.png")
        #expect(try Image.read(path: pal3).pixels == [0, 1, 0])
        // Gray + alpha 8-bit.
        let ga = try dir.write(PNGBytes.png(width: 1, height: 1, bitDepth: 8, colorType: 4, rows: [[51, 204]]), to: "ga.png")
        let gaImage = try Image.read(path: ga)
        #expect(gaImage.channels == 2 && gaImage.pixels == [0.2, 0.8])
        #expect(gaImage.rgb().pixels == [0.2, 0.2, 0.2])
        // 16-bit RGB: big-endian samples 0x0000, 0xffff, 0x8000.
        let rgb16 = try dir.write(PNGBytes.png(width: 1, height: 1, bitDepth: 16, colorType: 2,
                                               rows: [[0, 0, 0xff, 0xff, 0x80, 0x00]]), to: "rgb16.png")
        #expect(try Image.read(path: rgb16).pixels == [0, 1, Float(0x8000) / 65535])
    }

    @Test func brokenFilesGiveOneClearErrorNamingTheFile() throws {
        let dir = try TemporaryFolder()
        defer { dir.remove() }
        try Self.ramp(channels: 3, height: 40, width: 40).write(path: dir.file("good.png"))
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("good.png"))))

        let empty = try dir.write([], to: "empty.png")
        let text = try dir.write(Array("hello, not a png\n".utf8), to: "text.png")
        let short = try dir.write([0x89, 0x50], to: "short.png")
        let truncated = try dir.write(Array(good[0..<(good.count / 2)]), to: "truncated.png")
        var flipped = good
        for i in 60..<80 { flipped[i] ^= 0x5a }
        let corrupt = try dir.write(flipped, to: "corrupt.png")
        // A valid header claiming 100000 × 100000 pixels, followed by a tiny IDAT.
        let huge = try dir.write(PNGBytes.signature
            + PNGBytes.ihdr(width: 100_000, height: 100_000, bitDepth: 8, colorType: 2)
            + PNGBytes.chunk("IDAT", PNGBytes.zlibStored([0, 1, 2])) + PNGBytes.chunk("IEND", []), to: "huge.png")
        let missing = dir.file("missing.png")

        func failure(_ path: String) -> ImageError? {
            do {
                _ = try Image.read(path: path)
                return nil
            } catch let error as ImageError {
                #expect(error.errorDescription?.contains(path) == true, "\(error.errorDescription ?? "")")
                return error
            } catch {
                return nil
            }
        }
        #expect(failure(empty) == .empty(path: empty))
        #expect(failure(text) == .unknownFormat(path: text))
        #expect(failure(short) == .unknownFormat(path: short))
        if case .corrupt = failure(truncated) {} else { Issue.record("truncated file not reported as corrupt") }
        if case .corrupt = failure(corrupt) {} else { Issue.record("corrupt file not reported as corrupt") }
        if case .tooLarge(_, let reason) = failure(huge) {
            #expect(reason.contains("100000 x 100000"))
        } else {
            Issue.record("absurd header not reported as too large")
        }
        if case .cannotOpen = failure(missing) {} else { Issue.record("missing file not reported") }
        #expect(throws: ImageError.self) { try Image.read(path: dir.path) }  // a directory
    }

    @Test func writingIntoAMissingFolderFailsNamingTheFile() {
        let path = "/nonexistent-carve-folder/x.png"
        #expect(throws: ImageError.self) { try Image(channels: 1, height: 1, width: 1).write(path: path) }
        do {
            try Image(channels: 1, height: 1, width: 1).write(path: path)
        } catch {
            #expect((error as? ImageError)?.errorDescription?.contains(path) == true)
        }
    }
}
