// Reading the PyTorch reference fixtures (scripts/make_fixtures.py) in tests, without Python.
import Foundation
import Tensor

/// Loads the small safetensors fixture files that `scripts/make_fixtures.py` writes with
/// PyTorch, as named tensors.
///
/// The files live in a test target's `Fixtures` resource folder, so the caller passes its
/// bundle (`Bundle.module` exists only inside that target):
///
/// ```swift
/// let bn = try Fixture.load("batch_norm", bundle: .module)
/// let x = bn["train4d.x"]!          // [4, 3, 5, 5]
/// ```
///
/// Only float32 (`F32`) and float64 (`F64`, converted) tensors are read; the reader is minimal
/// on purpose (checkpoints have their own validating reader in Carve).
public enum Fixture {
    /// A fixture that is missing or cannot be read.
    public enum LoadError: LocalizedError {
        case notFound(name: String, bundle: String)
        case malformed(file: String, reason: String)

        public var errorDescription: String? {
            switch self {
            case let .notFound(name, bundle):
                return "fixture \(name).safetensors not found in Fixtures/ of \(bundle); run scripts/make_fixtures.py"
            case let .malformed(file, reason):
                return "fixture \(file): \(reason)"
            }
        }
    }

    /// The tensors of `Fixtures/<name>.safetensors` in `bundle`.
    public static func load(_ name: String, bundle: Bundle) throws -> [String: Tensor] {
        let url = bundle.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures")
            ?? bundle.resourceURL?.appendingPathComponent("Fixtures/\(name).safetensors")
        guard let url, FileManager.default.fileExists(atPath: url.path) else {
            throw LoadError.notFound(name: name, bundle: bundle.bundlePath)
        }
        return try load(contentsOf: url)
    }

    /// The tensors of the safetensors file at `url`.
    public static func load(contentsOf url: URL) throws -> [String: Tensor] {
        let file = url.lastPathComponent
        let bytes = try Data(contentsOf: url)
        func fail(_ reason: String) -> LoadError { .malformed(file: file, reason: reason) }
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes, shorter than the 8-byte header length") }
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(bytes[bytes.startIndex + i]) << (8 * i) }
        guard headerLength > 0, 8 + headerLength <= bytes.count else {
            throw fail("header length \(headerLength) does not fit \(bytes.count) bytes")
        }
        let header = bytes.subdata(in: (bytes.startIndex + 8)..<(bytes.startIndex + 8 + headerLength))
        guard let entries = try JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let dataStart = bytes.startIndex + 8 + headerLength
        var out: [String: Tensor] = [:]
        for (name, value) in entries where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = (entry["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (entry["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2
            else { throw fail("entry \(name) lacks dtype, shape or data_offsets") }
            let count = shape.reduce(1, *)
            let width = dtype == "F32" ? 4 : dtype == "F64" ? 8 : 0
            guard width > 0 else { throw fail("tensor \(name) has dtype \(dtype); only F32 and F64 are read") }
            guard offsets[1] - offsets[0] == count * width, dataStart + offsets[1] <= bytes.endIndex else {
                throw fail("tensor \(name) \(shape) \(dtype) has data_offsets \(offsets)")
            }
            let raw = bytes.subdata(in: (dataStart + offsets[0])..<(dataStart + offsets[1]))
            let values: [Float] = raw.withUnsafeBytes { buffer in
                (0..<count).map { i in
                    if width == 4 {
                        Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    } else {
                        Float(Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                    }
                }
            }
            out[name] = Tensor(shape: shape, values: values)
        }
        return out
    }
}
