// libFuzzer target: JPEG files through Image.read(path:) (JPEGShim over libjpeg-turbo). Any
// ImageError is a correct answer; a trap, an ASan report or a decoded image that is not
// 3 × H × W with values in [0, 1] is a crash. Built by fuzz/build.sh, run by fuzz/run.sh.
import Foundation
import Imaging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Only inputs starting with FF D8 FF, which Image.read hands to the JPEG reader.
    guard size >= 3, data[0] == 0xff, data[1] == 0xd8, data[2] == 0xff else { return -1 }
    let path = FuzzFile.write(data, size, name: "jpeg")
    if let image = try? Image.read(path: path) {
        guard image.channels == 3, image.width >= 1, image.height >= 1,
              image.pixels.count == 3 * image.height * image.width
        else { fail("JPEG read as \(image.channels) × \(image.height) × \(image.width), \(image.pixels.count) values") }
        if let bad = image.pixels.first(where: { !($0 >= 0 && $0 <= 1) }) { fail("JPEG pixel value \(bad) outside [0, 1]") }
    }
    return 0
}
