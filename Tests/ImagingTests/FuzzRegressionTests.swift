// Inputs that fuzz/ (libFuzzer, `make fuzz`) found breaking a contract of Imaging, each kept with
// the fix it led to. The files are in Fixtures/ as the fuzzer wrote them (fuzz-*.jpg).
import Foundation
import Imaging
import Testing

@Suite struct FuzzRegressionTests {
    /// Resizing a window of equal values gave 1.0000001 for white (the area weights sum to 1 only
    /// up to rounding), outside Image's [0, 1]; now every resampled value stays within the range
    /// of its window. Found by the jpeg target: a mutated JPEG, 3 × 50 × 70, box-cropped to 8 × 8.
    @Test func resizedValuesStayInTheWindowsRange() throws {
        for (h, w) in [(13, 9), (9, 13), (14, 15), (26, 21), (50, 70), (1, 17)] {
            for (oh, ow) in [(5, 5), (8, 8), (3, 5), (128, 128), (1, 3)] {
                let white = Image(channels: 1, height: h, width: w, repeating: 1).resized(height: oh, width: ow)
                #expect(white.pixels.allSatisfy { $0 == 1 }, "white \(h) × \(w) → \(oh) × \(ow): max \(white.pixels.max()!)")
                let grey = Image(channels: 1, height: h, width: w, repeating: 0.7).resized(height: oh, width: ow)
                #expect(grey.pixels.allSatisfy { $0 == 0.7 }, "0.7 \(h) × \(w) → \(oh) × \(ow): \(grey.pixels.min()!)...\(grey.pixels.max()!)")
            }
        }
        // The fuzzer's input, through what its check did (and FgDataset.crop does).
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/fuzz-white-resize.jpg")
        let image = try Image.read(path: url.path)
        #expect(image.channels == 3 && image.height == 50 && image.width == 70)
        let window = Box(x: 17.5, y: 16.67, w: 35.5, h: 25.5).pixelWindow(width: image.width, height: image.height)
        for derived in [image.region(x: window.x, y: window.y, width: window.w, height: window.h, resizedTo: 8, 8),
                        image.gray().resized(height: 3, width: 5), image.resized(height: 128, width: 128)] {
            #expect(derived.pixels.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(derived.pixels.min()!)...\(derived.pixels.max()!)")
        }
    }
}
