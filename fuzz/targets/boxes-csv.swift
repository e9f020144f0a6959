// libFuzzer target: boxes.csv text through FgLayout.parseBoxesCSV. A DatasetError is a correct
// answer. Every parsed box must give a pixel window inside the image (Box.pixelWindow, as
// FgDataset crops), for a few image sizes. Built by fuzz/build.sh, run by fuzz/run.sh.
import Foundation
import Imaging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let entries = try? FgLayout.parseBoxesCSV(text(data, size), path: "boxes.csv") else { return 0 }
    for entry in entries {
        guard let box = entry.box else { fail("boxes.csv entry \(entry.file) without a box") }
        checkWindows(box)
    }
    return 0
}

/// The window FgDataset crops lies inside the image and is at least 1 × 1.
func checkWindows(_ box: Box) {
    for (width, height) in [(1, 1), (7, 3), (500, 375)] {
        _ = box.overlaps(width: width, height: height)
        let w = box.pixelWindow(width: width, height: height)
        guard w.x >= 0, w.y >= 0, w.w >= 1, w.h >= 1, w.x + w.w <= width, w.y + w.h <= height else {
            fail("box \(box) gives window \(w) in a \(width) × \(height) image")
        }
    }
}
