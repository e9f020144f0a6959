import Imaging
import Testing

@Suite struct TransformTests {
    static func image(_ h: Int, _ w: Int, _ values: [Float]) -> Image {
        Image(channels: 1, height: h, width: w, pixels: values)
    }

    @Test func shrinkingAveragesAreas() {
        let x = Self.image(4, 4, (0..<16).map(Float.init))
        let y = x.resized(height: 2, width: 2)
        #expect(y.pixels == [2.5, 4.5, 10.5, 12.5])
        // 3 → 2 area weights: out0 = (v0 + 0.5 v1) / 1.5, out1 = (0.5 v1 + v2) / 1.5
        let z = Self.image(1, 3, [0, 3, 6]).resized(height: 1, width: 2)
        #expect(abs(z.pixels[0] - 1) < 1e-6 && abs(z.pixels[1] - 5) < 1e-6)
    }

    @Test func growingInterpolatesBilinearlyWithHalfPixelCentres() {
        let y = Self.image(1, 2, [0, 4]).resized(height: 1, width: 4)
        #expect(y.pixels == [0, 1, 3, 4])
        let grown = Self.image(2, 2, [0, 4, 8, 12]).resized(height: 4, width: 4)
        #expect(grown.pixels[0] == 0 && grown.pixels[15] == 12)
        #expect(grown[0, 1, 1] == 3)   // (0.25 · 0 + 0.75 · 4) · 0.75 + (8·0.25 + 12·0.75) · 0.25
    }

    @Test func resizingKeepsConstantsAndMixedAxesWork() {
        let c = Image(channels: 3, height: 17, width: 23, repeating: 0.4)
        for (h, w) in [(5, 40), (40, 5), (64, 64), (3, 3)] {
            let r = c.resized(height: h, width: w)
            #expect(r.channels == 3 && r.height == h && r.width == w)
            #expect(r.pixels.allSatisfy { abs($0 - 0.4) < 1e-5 })
        }
    }

    @Test func flipsAndCrops() {
        let x = Image(channels: 2, height: 2, width: 3, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        #expect(x.flippedHorizontally().pixels == [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10])
        #expect(x.flippedVertically().pixels == [4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9])
        #expect(x.flippedHorizontally().flippedHorizontally() == x)
        #expect(x.cropped(x: 1, y: 1, width: 2, height: 1).pixels == [5, 6, 11, 12])
        #expect(x.region(x: 1, y: 0, width: 2, height: 2, resizedTo: 2, 2) == x.cropped(x: 1, y: 0, width: 2, height: 2))
        let gray = Self.image(1, 2, [0.1, 0.9])
        #expect(gray.rgb().pixels == [0.1, 0.9, 0.1, 0.9, 0.1, 0.9])
        #expect(Image(channels: 4, height: 1, width: 1, pixels: [1, 2, 3, 4]).rgb().pixels == [1, 2, 3])
    }

    /// A window past the edges: the nearest edge pixel, or zero; `padded` is the first kind.
    @Test func windowsPastTheEdgeRepeatItOrHoldZero() {
        let x = Self.image(2, 2, [1, 2, 3, 4])
        #expect(x.cropped(x: -1, y: 0, width: 4, height: 3, beyondEdge: .repeatEdge).pixels == [1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        #expect(x.cropped(x: -1, y: 0, width: 4, height: 3, beyondEdge: .zero).pixels == [0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0])
        #expect(x.padded(toAtLeast: 3, 3).pixels == [1, 2, 2, 3, 4, 4, 3, 4, 4])
        #expect(x.cropped(x: 0, y: 0, width: 2, height: 2, beyondEdge: .zero) == x)
    }
}
