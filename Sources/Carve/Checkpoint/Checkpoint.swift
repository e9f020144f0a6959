// The Carve checkpoint: one safetensors file (docs/ARCHITECTURE.md "Checkpoint format").
//
//   tensors        G/…  D/…  Q/…            parameters and BN running statistics, per network
//                  opt/G/m/…  opt/G/v/…     Adam moments (likewise D, Q), same shapes
//   __metadata__   format = "carve-1", preset, config (JSON object), step, epoch, world_size,
//                  seed, rng (opaque resume state), data_crc32c (CRC-32C of the data region);
//                  any other keys are kept as `extraMetadata`.
//
// All tensors are F32. Python reads a checkpoint with `safetensors` or plain numpy
// (scripts/read_checkpoint.py).

import Foundation

/// A training checkpoint: named F32 tensors plus the run state needed to resume.
///
/// Tensors keep their order (the model's declaration order, docs/ARCHITECTURE.md, "Checkpoint format"). Writing is atomic and
/// stores `data_crc32c`; loading verifies the checksum and every metadata field, and
/// `compare(against:file:)` checks names and shapes against a model.
///
/// ```swift
/// let checkpoint = Checkpoint(step: 100, epoch: 2, worldSize: 4, seed: 7, preset: "tiny",
///                             configJSON: "{}", rng: "", tensors: model.namedTensors())
/// try checkpoint.write(to: url);  let back = try Checkpoint.load(from: url)
/// ```
public struct Checkpoint: Sendable, Equatable {
    /// The value of the `format` metadata key.
    public static let format = "carve-1"
    /// Metadata keys with a meaning of their own (everything else is `extraMetadata`).
    public static let reservedKeys: Set<String> = [
        "format", "preset", "config", "step", "epoch", "world_size", "seed", "rng",
        TensorFile.checksumKey,
    ]

    /// The number of optimizer steps taken.
    public var step: Int
    /// The epoch the next step belongs to.
    public var epoch: Int
    /// The number of ranks that trained it (resuming bitwise needs the same world size).
    public var worldSize: Int
    /// The run's seed for the counter-based generator.
    public var seed: UInt64
    /// The preset name ("tiny", "paper-hoc-crowd", …).
    public var preset: String
    /// The resolved configuration, a JSON object.
    public var configJSON: String
    /// Whatever else resuming needs from the random state, opaque to this layer.
    public var rng: String
    /// The tensors in order: `G/…`, `D/…`, `Q/…`, `opt/…` (see `CheckpointName`).
    public var tensors: [TensorFile.Entry]
    /// Further metadata strings, kept on a round trip (keys in `reservedKeys` are ignored).
    public var extraMetadata: [String: String]

    /// Creates a checkpoint from run state and tensors (in the model's order).
    public init(
        step: Int, epoch: Int, worldSize: Int, seed: UInt64, preset: String, configJSON: String,
        rng: String, tensors: [TensorFile.Entry], extraMetadata: [String: String] = [:]
    ) {
        self.step = step
        self.epoch = epoch
        self.worldSize = worldSize
        self.seed = seed
        self.preset = preset
        self.configJSON = configJSON
        self.rng = rng
        self.tensors = tensors
        self.extraMetadata = extraMetadata
    }

    /// The tensor called `name`, if any.
    public subscript(name: String) -> TensorFile.Entry? {
        tensors.first { $0.name == name }
    }

    /// The number of values outside the optimizer state (parameters and BN statistics).
    public var parameterCount: Int {
        tensors.reduce(0) { $0 + (CheckpointName.isOptimizerState($1.name) ? 0 : $1.values.count) }
    }

    /// The same checkpoint without `opt/…` tensors (what `ckpt merge` writes).
    public func droppingOptimizerState() -> Checkpoint {
        var copy = self
        copy.tensors.removeAll { CheckpointName.isOptimizerState($0.name) }
        return copy
    }
}

extension Checkpoint {
    /// Throws for the first NaN or infinite value, naming the tensor (`CheckpointError.nonFinite`).
    public func checkFinite(file: String) throws {
        for t in tensors {
            if let i = t.values.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError(file: file, problem: .nonFinite(tensor: t.name, index: i, value: t.values[i]))
            }
        }
    }
}

/// Tensor names in a checkpoint: `G/conv1.weight`, `opt/G/m/conv1.weight`, ….
public enum CheckpointName {
    /// `network/name`: a parameter or BN statistic ("G", "conv1.weight" → "G/conv1.weight").
    public static func parameter(_ network: String, _ name: String) -> String {
        "\(network)/\(name)"
    }
    /// `opt/network/m/name`: Adam's first moment of a parameter.
    public static func firstMoment(_ network: String, _ name: String) -> String {
        "opt/\(network)/m/\(name)"
    }
    /// `opt/network/v/name`: Adam's second moment of a parameter.
    public static func secondMoment(_ network: String, _ name: String) -> String {
        "opt/\(network)/v/\(name)"
    }
    /// Whether `name` is optimizer state (`opt/…`).
    public static func isOptimizerState(_ name: String) -> Bool {
        name.hasPrefix("opt/")
    }
}

/// A file that is not a valid Carve checkpoint, or one that does not fit a model.
public struct CheckpointError: LocalizedError, Equatable, Sendable {
    /// What is wrong.
    public enum Problem: Equatable, Sendable {
        /// `format` is missing or not `carve-1`.
        case notACheckpoint(format: String?)
        /// A required metadata key is absent.
        case missingMetadata(String)
        /// A metadata value cannot be parsed: key, value, what was expected.
        case badMetadata(key: String, value: String, expected: String)
        /// A tensor is stored in another dtype than F32.
        case notF32(tensor: String, dtype: String)
        /// The model has a tensor the checkpoint lacks.
        case missingTensor(String, expectedShape: [Int])
        /// The checkpoint has a tensor the model lacks.
        case extraTensor(String, shape: [Int])
        /// Both have the tensor, with different shapes.
        case shapeMismatch(String, checkpoint: [Int], expected: [Int])
        /// The run folder has no `latest` file.
        case noLatest
        /// `latest` does not hold a checkpoint file name.
        case badLatest(String)
        /// `latest` names a file that does not exist.
        case latestTargetMissing(String)
        /// A tensor holds NaN or an infinity (what a diverged run or a broken merge leaves).
        case nonFinite(tensor: String, index: Int, value: Float)
    }

    /// The file at fault (the checkpoint, or `RUN/checkpoints/latest`).
    public var file: String
    /// The first problem found.
    public var problem: Problem

    /// Creates the error for `file`.
    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    /// "FILE: REASON", one line.
    public var errorDescription: String? { "\(file): \(reason)" }

    /// The problem in words, without the file name.
    public var reason: String {
        switch problem {
        case .notACheckpoint(let format?):
            "not a Carve checkpoint: metadata format is \"\(format)\", expected \"\(Checkpoint.format)\""
        case .notACheckpoint(nil):
            "not a Carve checkpoint: the safetensors metadata has no format key"
        case .missingMetadata(let key):
            "metadata key \(key) is missing"
        case .badMetadata(let key, let value, let expected):
            "metadata \(key) is \"\(value.prefix(80))\", expected \(expected)"
        case .notF32(let name, let dtype):
            "tensor \(name) is \(dtype), checkpoints hold F32 only"
        case .missingTensor(let name, let shape):
            "tensor \(name): missing from the checkpoint, model expects \(shape)"
        case .extraTensor(let name, let shape):
            "tensor \(name): checkpoint has \(shape), model has no such tensor"
        case .shapeMismatch(let name, let have, let expected):
            "tensor \(name): checkpoint has \(have), model expects \(expected)"
        case .noLatest:
            "missing: no checkpoint has been written to this folder"
        case .badLatest:
            "does not name a checkpoint file (step-NNNNNNNN.safetensors); is it the latest file of a run folder?"
        case .latestTargetMissing(let name):
            "names \(name), which does not exist"
        case .nonFinite(let name, let index, let value):
            "tensor \(name) holds \(value) at index \(index) (a diverged run?); refusing to use it"
        }
    }
}

// MARK: - Reading

extension Checkpoint {
    /// Reads and validates the checkpoint at `url`: safetensors structure, checksum, metadata, F32.
    ///
    /// - Throws: `FileError`, `SafeTensorsError` (structure, `checksum mismatch`) or
    ///   `CheckpointError` (not a Carve checkpoint, bad metadata), each naming the file.
    public static func load(from url: URL) throws -> Checkpoint {
        try Checkpoint(try TensorFile.read(from: url), file: url.path)
    }

    /// Interprets a decoded safetensors file as a checkpoint; `file` names it in errors.
    public init(_ tensorFile: TensorFile, file: String) throws {
        let metadata = tensorFile.metadata
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError {
            CheckpointError(file: file, problem: problem)
        }
        guard let format = metadata["format"], format == Self.format else {
            throw fail(.notACheckpoint(format: metadata["format"]))
        }
        func string(_ key: String) throws -> String {
            guard let value = metadata[key] else { throw fail(.missingMetadata(key)) }
            return value
        }
        func integer(_ key: String, atLeast minimum: Int) throws -> Int {
            let text = try string(key)
            guard let value = Int(text), value >= minimum else {
                throw fail(.badMetadata(key: key, value: text, expected: "an integer ≥ \(minimum)"))
            }
            return value
        }
        _ = try string(TensorFile.checksumKey)  // verified by TensorFile.decode when present
        step = try integer("step", atLeast: 0)
        epoch = try integer("epoch", atLeast: 0)
        worldSize = try integer("world_size", atLeast: 1)
        let seedText = try string("seed")
        guard let seed = UInt64(seedText) else {
            throw fail(.badMetadata(key: "seed", value: seedText, expected: "an unsigned 64-bit integer"))
        }
        self.seed = seed
        preset = try string("preset")
        configJSON = try string("config")
        try Self.validateConfig(configJSON, fail: fail)
        rng = try string("rng")
        if let wrong = tensorFile.tensors.first(where: { $0.dtype != .f32 }) {
            throw fail(.notF32(tensor: wrong.name, dtype: wrong.dtype.rawValue))
        }
        tensors = tensorFile.tensors
        extraMetadata = metadata.filter { !Self.reservedKeys.contains($0.key) }
    }

    private static func validateConfig(
        _ json: String, fail: (CheckpointError.Problem) -> CheckpointError
    ) throws {
        let object = try? JSONSerialization.jsonObject(with: Data(json.utf8))
        guard object is [String: Any] else {
            throw fail(.badMetadata(key: "config", value: json, expected: "a JSON object"))
        }
    }
}

// MARK: - Writing

extension Checkpoint {
    /// The safetensors form: the tensors and all metadata except `data_crc32c` (added on write).
    public var tensorFile: TensorFile {
        var metadata = extraMetadata.filter { !Self.reservedKeys.contains($0.key) }
        metadata["format"] = Self.format
        metadata["preset"] = preset
        metadata["config"] = configJSON
        metadata["step"] = String(step)
        metadata["epoch"] = String(epoch)
        metadata["world_size"] = String(worldSize)
        metadata["seed"] = String(seed)
        metadata["rng"] = rng
        return TensorFile(tensors: tensors, metadata: metadata)
    }

    /// Writes the checkpoint atomically at `url` (temporary file, fsync, rename, fsync folder).
    ///
    /// - Throws: `CheckpointError` when a field would not load back (negative step, config not a
    ///   JSON object); `SafeTensorsError` for duplicate names or shapes that do not match the
    ///   values; `FileError` when the file system fails. Nothing is left at `url` on failure.
    public func write(to url: URL) throws {
        let file = url.path
        func fail(_ problem: CheckpointError.Problem) -> CheckpointError {
            CheckpointError(file: file, problem: problem)
        }
        for (key, value, minimum) in [("step", step, 0), ("epoch", epoch, 0), ("world_size", worldSize, 1)]
        where value < minimum {
            throw fail(.badMetadata(key: key, value: String(value), expected: "an integer ≥ \(minimum)"))
        }
        try Self.validateConfig(configJSON, fail: fail)
        try tensorFile.write(to: url)
    }
}

// MARK: - Comparing with a model

extension Checkpoint {
    /// Checks that the checkpoint holds exactly the `expected` tensors with the same shapes.
    ///
    /// Goes through `expected` in order, then the checkpoint's own tensors, and throws on the
    /// first difference: "tensor G/conv1.weight: checkpoint has [64, 3, 3, 3], model expects
    /// [32, 3, 3, 3]".
    /// - Parameters:
    ///   - expected: the model's tensor names and shapes (including `opt/…` when resuming).
    ///   - file: names the checkpoint in the error.
    public func compare(against expected: [(name: String, shape: [Int])], file: String = "checkpoint") throws {
        var shapes: [String: [Int]] = [:]
        for tensor in tensors { shapes[tensor.name] = tensor.shape }
        for (name, shape) in expected {
            guard let have = shapes[name] else {
                throw CheckpointError(file: file, problem: .missingTensor(name, expectedShape: shape))
            }
            guard have == shape else {
                throw CheckpointError(file: file, problem: .shapeMismatch(name, checkpoint: have, expected: shape))
            }
        }
        let expectedNames = Set(expected.map(\.name))
        if let extra = tensors.first(where: { !expectedNames.contains($0.name) }) {
            throw CheckpointError(file: file, problem: .extraTensor(extra.name, shape: extra.shape))
        }
    }
}
