// libFuzzer target: PNG files through Image.read(path:) and LabelMap.read(path:) (PNGShim over
// libpng). Any ImageError is a correct answer; a trap, an ASan report or a decoded image whose
// shape or values break Image's contract is a crash. Built by fuzz/build.sh, run by fuzz/run.sh.
import Foundation
import Imaging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Only inputs with the PNG signature: the others go to the JPEG reader or stop at the sniff.
    let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    guard size >= 8, signature.indices.allSatisfy({ data[$0] == signature[$0] }) else { return -1 }
    let path = FuzzFile.write(data, size, name: "png")
    if let image = try? Image.read(path: path) {
        guard (1...4).contains(image.channels), image.width >= 1, image.height >= 1,
              image.pixels.count == image.channels * image.height * image.width
        else { fail("PNG read as \(image.channels) × \(image.height) × \(image.width), \(image.pixels.count) values") }
        if let bad = image.pixels.first(where: { !($0 >= 0 && $0 <= 1) }) { fail("PNG pixel value \(bad) outside [0, 1]") }
        _ = image.rgb()
    }
    if let labels = try? LabelMap.read(path: path) {
        guard labels.labels.count == labels.height * labels.width else { fail("label map shape") }
    }
    return 0
}
