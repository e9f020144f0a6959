// libFuzzer target: safetensors bytes through TensorFile.decode (what TensorFile.read and every
// checkpoint load call). A SafeTensorsError is a correct answer. A file that decodes must also
// encode (Carve can write back what it read) and decode again to the same names, shapes, value
// bits and metadata. Built by fuzz/build.sh, run by fuzz/run.sh.
import Foundation
import Tensor

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let file = try? TensorFile.decode(bytes, file: "<fuzz>") else { return 0 }
    for t in file.tensors {
        var count = 1
        for d in t.shape { count *= d }  // traps on overflow: decode must have refused such a shape
        guard t.values.count == count else { fail("tensor \(t.name): shape \(t.shape), \(t.values.count) values") }
    }
    let encoded: [UInt8]
    do { encoded = try file.encoded() } catch { fail("a decoded file does not encode: \(error)") }
    let back: TensorFile
    do { back = try TensorFile.decode(encoded, file: "<re-encoded>") } catch { fail("re-encoded file does not decode: \(error)") }
    // Encoding writes tensors in file order with the offsets increasing, so decode returns that order.
    guard back.tensors.map(\.name) == file.tensors.map(\.name),
          back.tensors.map(\.shape) == file.tensors.map(\.shape),
          back.tensors.map({ $0.values.map(\.bitPattern) }) == file.tensors.map({ $0.values.map(\.bitPattern) })
    else { fail("re-encoded tensors differ") }
    var before = file.metadata, after = back.metadata
    before[TensorFile.checksumKey] = nil
    after[TensorFile.checksumKey] = nil
    guard before == after else { fail("re-encoded metadata differs: \(before) vs \(after)") }
    return 0
}
