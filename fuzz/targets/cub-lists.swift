// libFuzzer target: CUB-200-2011's images.txt and bounding_boxes.txt through FgLayout.parseCUB.
// The input is images.txt, a NUL byte, then bounding_boxes.txt (no NUL: both get the same text).
// A DatasetError is a correct answer; every entry must have a box whose pixel window lies inside
// the image (as FgDataset crops). Built by fuzz/build.sh, run by fuzz/run.sh.
import Foundation
import Imaging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let (images, boxes) = splitAtNUL(data, size)
    guard let entries = try? FgLayout.parseCUB(images: images, boxes: boxes ?? images,
                                               imagesPath: "images.txt", boxesPath: "bounding_boxes.txt")
    else { return 0 }
    for entry in entries {
        guard entry.file.hasPrefix("images/"), let box = entry.box else { fail("CUB entry \(entry) without images/ or a box") }
        for (width, height) in [(1, 1), (500, 375)] {
            let w = box.pixelWindow(width: width, height: height)
            guard w.x >= 0, w.y >= 0, w.w >= 1, w.h >= 1, w.x + w.w <= width, w.y + w.h <= height else {
                fail("box \(box) gives window \(w) in a \(width) × \(height) image")
            }
        }
    }
    return 0
}
