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
/// F32 tensors are read as they are, F64 and I64 converted (the reader is Tensor's `TensorFile`,
/// the same one checkpoints use).
public enum Fixture {
    /// A fixture that is missing or cannot be read.
    public enum LoadError: LocalizedError {
        case notFound(name: String, bundle: String)

        public var errorDescription: String? {
            switch self {
            case let .notFound(name, bundle):
                return "fixture \(name).safetensors not found in Fixtures/ of \(bundle); run scripts/make_fixtures.py"
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

    /// The tensors of the safetensors file at `url` (read with Tensor's validating `TensorFile`).
    public static func load(contentsOf url: URL) throws -> [String: Tensor] {
        let file = try TensorFile.read(from: url)
        var out: [String: Tensor] = [:]
        for entry in file.tensors { out[entry.name] = Tensor(shape: entry.shape, values: entry.values) }
        return out
    }
}
