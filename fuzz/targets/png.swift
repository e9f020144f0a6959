// libFuzzer target: PNG files through Image.read(path:) and LabelMap.read(path:) (PNGShim over
// libpng). Any ImageError is a correct answer; a trap, an ASan report or a decoded image whose
// shape or values break Image's contract (or break a crop or resize of it) is a crash. Built by fuzz/build.sh, run by fuzz/run.sh.
//
// Before writing the file the harness recomputes every chunk's CRC (when the input's last byte
// is even): libpng rejects a chunk with a bad CRC at once, so without this nearly every mutation
// would stop at the first changed chunk (libpng's own fuzzer turns CRC checks off instead). The
// other half of the inputs keep their CRCs as given, so the CRC error path is fuzzed too.
import Foundation
import Imaging

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Only inputs with the PNG signature: the others go to the JPEG reader or stop at the sniff.
    let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    guard size >= 8, signature.indices.allSatisfy({ data[$0] == signature[$0] }) else { return -1 }
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes[size - 1] % 2 == 0 { fixChunkCRCs(&bytes) }
    let path = bytes.withUnsafeBufferPointer { FuzzFile.write($0.baseAddress!, size, name: "png") }
    if let image = try? Image.read(path: path) { checkDecoded(image, channels: 1...4, format: "PNG") }
    if let labels = try? LabelMap.read(path: path) {
        guard labels.labels.count == labels.height * labels.width else { fail("label map shape") }
    }
    return 0
}

/// Rewrites the CRC of every whole chunk after the signature: length (4, big-endian), type (4),
/// data, CRC-32 of type and data (4).
func fixChunkCRCs(_ bytes: inout [UInt8]) {
    var at = 8
    while at + 12 <= bytes.count {
        let length = bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
        guard length <= bytes.count - at - 12 else { return }
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes[(at + 4)..<(at + 8 + length)] {
            crc = crcTable[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8)
        }
        crc ^= 0xffff_ffff
        for k in 0..<4 { bytes[at + 8 + length + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * k)) }
        at += 12 + length
    }
}

/// The CRC-32 (ISO 3309, PNG's) table of the reflected polynomial 0xEDB88320.
let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
    return c
}
