import Foundation
import Tensor

/// What `carve ckpt inspect|diff|merge|eval` and `carve sample` do, on checkpoint files.
public enum CheckpointTools {
    // MARK: - inspect

    /// A readable summary (or JSON with `json`) of a checkpoint: metadata, tensors, checksum verdict.
    ///
    /// Loading verifies the checksum, so a summary is only printed for a sound file; a damaged
    /// one throws the loader's error naming the file.
    public static func inspect(_ url: URL, json: Bool) throws -> String {
        let c = try Checkpoint.load(from: url)
        let parameters = c.tensors.filter { !CheckpointName.isOptimizerState($0.name) }
        let parameterCount = parameters.map(\.values.count).reduce(0, +)
        if json {
            let object: [String: Any] = [
                "file": url.path, "format": Checkpoint.format, "preset": c.preset, "step": c.step, "epoch": c.epoch,
                "world_size": c.worldSize, "seed": c.seed, "parameter_count": parameterCount, "checksum": "ok",
                "tensors": c.tensors.map { ["name": $0.name, "shape": $0.shape, "dtype": "F32"] as [String: Any] },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        var lines = [
            "\(url.path)",
            "  format \(Checkpoint.format), preset \(c.preset), step \(c.step), epoch \(c.epoch), world size \(c.worldSize), seed \(c.seed)",
            "  \(parameterCount) values in \(parameters.count) model tensors, \(c.tensors.count - parameters.count) optimizer tensors; checksum ok",
        ]
        for t in c.tensors { lines.append("  \(t.name)  \(t.shape)  F32") }
        return lines.joined(separator: "\n")
    }

    // MARK: - diff

    /// The largest difference of each tensor relative to its largest magnitude, worst first.
    public static func differences(_ a: Checkpoint, _ b: Checkpoint, aName: String, bName: String,
                                   includeOptimizer: Bool = false) throws -> [(name: String, relative: Double)] {
        let a = includeOptimizer ? a : a.droppingOptimizerState()
        let b = includeOptimizer ? b : b.droppingOptimizerState()
        try b.compare(against: a.tensors.map { ($0.name, $0.shape) }, file: bName)
        let left = a.tensors, right = b.tensors
        var out: [(String, Double)] = []
        for (x, y) in zip(left, right) {
            var worst = 0.0, scale = 0.0
            for i in 0..<x.values.count {
                worst = max(worst, Double(abs(x.values[i] - y.values[i])))
                scale = max(scale, Double(abs(x.values[i])))
            }
            out.append((x.name, scale > 0 ? worst / scale : worst))
        }
        return out.sorted { $0.1 > $1.1 }
    }

    // MARK: - merge

    /// A weighted average of checkpoints of one architecture: parameters and BN statistics
    /// averaged with `weights` (normalised; default equal), optimizer state dropped, step = the
    /// largest. Refuses different presets or architectures, naming the first tensor that differs.
    public static func merge(_ urls: [URL], weights: [Double]?) throws -> Checkpoint {
        precondition(!urls.isEmpty, "merge: no checkpoints")
        let checkpoints = try urls.map { try Checkpoint.load(from: $0) }
        let w = weights ?? [Double](repeating: 1, count: urls.count)
        guard w.count == urls.count else {
            throw ConfigurationError("--weights has \(w.count) values for \(urls.count) checkpoints")
        }
        guard w.allSatisfy({ $0 >= 0 && $0.isFinite }), w.reduce(0, +) > 0 else {
            throw ConfigurationError("--weights must be non-negative with a positive sum")
        }
        let total = w.reduce(0, +)
        let base = checkpoints[0].droppingOptimizerState()
        for (c, url) in zip(checkpoints.dropFirst(), urls.dropFirst()) {
            guard c.preset == base.preset else {
                throw ConfigurationError("\(url.path): preset \(c.preset) differs from \(urls[0].lastPathComponent)'s \(base.preset)")
            }
            try c.droppingOptimizerState().compare(against: base.tensors.map { ($0.name, $0.shape) }, file: url.path)
        }
        var merged = base
        for t in merged.tensors.indices {
            var acc = [Double](repeating: 0, count: merged.tensors[t].values.count)
            for (c, weight) in zip(checkpoints, w) {
                let values = c[merged.tensors[t].name]!.values
                for i in acc.indices { acc[i] += weight / total * Double(values[i]) }
            }
            merged.tensors[t].values = acc.map { Float($0) }
        }
        merged.step = checkpoints.map(\.step).max()!
        merged.epoch = checkpoints.map(\.epoch).max()!
        merged.rng = ""
        merged.extraMetadata["merged_from"] = urls.map(\.lastPathComponent).joined(separator: ",")
        return merged
    }

    // MARK: - models from checkpoints

    /// The configuration stored in a checkpoint.
    public static func configuration(of checkpoint: Checkpoint, file: String) throws -> Configuration {
        do {
            return try Configuration.fromJSON(checkpoint.configJSON)
        } catch {
            throw ConfigurationError("\(file): its configuration cannot be read by this carve (\(error.localizedDescription))")
        }
    }

    /// A hoc model with the checkpoint's weights (optimizer state not needed).
    public static func hocModel(from checkpoint: Checkpoint, file: String) throws -> HocGAN {
        let config = try configuration(of: checkpoint, file: file)
        guard config.application == "hoc" else {
            throw ConfigurationError("\(file): preset \(config.preset) is an fg checkpoint; this command needs a hoc one")
        }
        let gan = HocGAN(config: config, communicator: LocalCommunicator())
        let state = ModelState(networks: gan.networks, optimizers: gan.optimizers)
        try state.restore(from: checkpoint, config: config, file: file, requireOptimizer: false)
        return gan
    }

    /// An fg model (teacher, discriminator, student) with the checkpoint's weights (optimizer state not needed).
    public static func fgModel(from checkpoint: Checkpoint, file: String) throws -> FgGAN {
        let config = try configuration(of: checkpoint, file: file)
        guard config.application == "fg" else { throw FgToolError.notFg(file: file, preset: config.preset) }
        let gan = FgGAN(config: config, communicator: LocalCommunicator())
        let state = ModelState(networks: gan.networks, optimizers: gan.optimizers)
        try state.restore(from: checkpoint, config: config, file: file, requireOptimizer: false)
        return gan
    }
}
