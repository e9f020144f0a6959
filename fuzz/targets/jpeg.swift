// libFuzzer target: JPEG files through Image.read(path:) (JPEGShim over libjpeg-turbo). Any
// ImageError is a correct answer; a trap, an ASan report or a decoded image that is not
// 3 × H × W with values in [0, 1] (also after a crop and a resize) is a crash. Built by fuzz/build.sh, run by fuzz/run.sh.
import Foundation
import Imaging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Only inputs starting with FF D8 FF, which Image.read hands to the JPEG reader.
    guard size >= 3, data[0] == 0xff, data[1] == 0xd8, data[2] == 0xff else { return -1 }
    let path = FuzzFile.write(data, size, name: "jpeg")
    if let image = try? Image.read(path: path) { checkDecoded(image, channels: 3...3, format: "JPEG") }
    return 0
}
