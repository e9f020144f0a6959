import DDP
import Foundation
import Tensor

/// What `carve ckpt inspect|diff|merge|eval` and `carve sample` do, on checkpoint files.
public enum CheckpointTools {
    // MARK: - inspect

    /// A readable summary (or JSON with `json`) of a checkpoint: metadata, tensors, checksum verdict.
    ///
    /// Text: the file, one line of run metadata (preset, step, epoch, world size, seed), one line
    /// with the parameter count and the checksum verdict, then `NAME  [SHAPE]  F32` per tensor.
    /// JSON (`--json`): `file`, `format`, `preset`, `step`, `epoch`, `world_size`, `seed`,
    /// `parameter_count` (values outside `opt/…`), `checksum` (`"ok"`), `data_crc32c`, any extra
    /// metadata under `metadata`, and `tensors`, in file order, each with `name`, `shape`,
    /// `dtype`, `count`, `min`, `max`, `mean` and `rms`.
    ///
    /// Loading verifies the checksum, so a summary is only printed for a sound file; a damaged
    /// one throws the loader's error naming the file.
    /// - Parameters:
    ///   - url: the checkpoint.
    ///   - json: JSON instead of text.
    ///
    /// ```swift
    /// print(try CheckpointTools.inspect(url, json: false))
    /// // …/step-00000004.safetensors
    /// //   format carve-1, preset tiny, step 4, epoch 0, world size 1, seed 3
    /// ```
    public static func inspect(_ url: URL, json: Bool) throws -> String {
        let file = try TensorFile.read(from: url)  // verifies data_crc32c
        let c = try Checkpoint(file, file: url.path)
        let crc = file.metadata[TensorFile.checksumKey] ?? ""
        let parameters = c.tensors.filter { !CheckpointName.isOptimizerState($0.name) }
        let parameterCount = c.parameterCount
        if json {
            var object: [String: Any] = [
                "file": url.path, "format": Checkpoint.format, "preset": c.preset, "step": c.step, "epoch": c.epoch,
                "world_size": c.worldSize, "seed": c.seed, "parameter_count": parameterCount, "checksum": "ok",
                "data_crc32c": crc, "tensors": c.tensors.map(tensorSummary),
            ]
            if !c.extraMetadata.isEmpty { object["metadata"] = c.extraMetadata }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
        var lines = [
            "\(url.path)",
            "  format \(Checkpoint.format), preset \(c.preset), step \(c.step), epoch \(c.epoch), world size \(c.worldSize), seed \(c.seed)",
            "  \(parameterCount) parameters in \(parameters.count) model tensors, \(c.tensors.count - parameters.count) optimizer tensors; checksum ok (data_crc32c \(crc))",
        ]
        for (key, value) in c.extraMetadata.sorted(by: { $0.key < $1.key }) { lines.append("  \(key): \(value)") }
        for t in c.tensors { lines.append("  \(t.name)  \(t.shape)  F32") }
        return lines.joined(separator: "\n")
    }

    /// One tensor in `inspect --json`: name, shape, dtype and value statistics (count, min, max, mean, rms).
    static func tensorSummary(_ t: TensorFile.Entry) -> [String: Any] {
        var low = Float.infinity, high = -Float.infinity, sum = 0.0, squares = 0.0
        for v in t.values {
            low = min(low, v)
            high = max(high, v)
            sum += Double(v)
            squares += Double(v) * Double(v)
        }
        let n = Double(max(t.values.count, 1))
        // JSON has no NaN or infinity; an empty tensor reports zeros.
        func number(_ x: Double) -> Double { x.isFinite ? x : 0 }
        return ["name": t.name, "shape": t.shape, "dtype": "F32", "count": t.values.count,
                "min": number(Double(low)), "max": number(Double(high)), "mean": number(sum / n),
                "rms": number((squares / n).squareRoot())]
    }

    // MARK: - diff

    /// The largest difference of each tensor relative to its largest finite magnitude (or, with
    /// `absolute`, the largest absolute difference), worst first. Values with the same bits
    /// differ by 0; a NaN or infinity against anything else is an infinite difference (Swift's
    /// `max` would drop a NaN and call two tensors equal).
    public static func differences(_ a: Checkpoint, _ b: Checkpoint, aName: String, bName: String,
                                   includeOptimizer: Bool = false, absolute: Bool = false) throws -> [(name: String, difference: Double)] {
        let a = includeOptimizer ? a : a.droppingOptimizerState()
        let b = includeOptimizer ? b : b.droppingOptimizerState()
        try b.compare(against: a.tensors.map { ($0.name, $0.shape) }, file: bName)
        let left = a.tensors, right = b.tensors
        var out: [(String, Double)] = []
        for (x, y) in zip(left, right) {
            var worst = 0.0, scale = 0.0
            for i in 0..<x.values.count {
                let u = x.values[i], v = y.values[i]
                if u.bitPattern == v.bitPattern { if u.isFinite { scale = max(scale, Double(abs(u))) }; continue }
                guard u.isFinite && v.isFinite else { worst = .infinity; continue }
                worst = max(worst, abs(Double(u) - Double(v)))
                scale = max(scale, Double(abs(u)))
            }
            out.append((x.name, !absolute && scale > 0 && worst.isFinite ? worst / scale : worst))
        }
        return out.sorted { $0.1 > $1.1 }
    }

    // MARK: - merge

    /// A weighted average of checkpoints of one architecture: parameters and BN statistics
    /// averaged with `weights` (normalised; default equal), optimizer state dropped, step and
    /// epoch = the largest, the first checkpoint's configuration, `merged_from` in the metadata.
    ///
    /// Every checkpoint must have the first one's preset, the same tensors with the same shapes
    /// (optimizer state aside) and the same architecture keys in its configuration
    /// (`architectureKeys`: `layers` changes no shape but the model). The refusal names the file
    /// and the first tensor (or key) that differs, e.g. "B.safetensors: tensor G/fc.weight has
    /// shape [64, 3], A.safetensors has [128, 3]: different architectures, not merged".
    /// - Parameters:
    ///   - urls: the checkpoints, at least one.
    ///   - weights: one non-negative weight per checkpoint with a positive sum, or nil for equal weights.
    ///
    /// ```swift
    /// let merged = try CheckpointTools.merge([a, b], weights: [3, 1])   // 0.75·a + 0.25·b
    /// try merged.write(to: out)                                         // atomic
    /// ```
    public static func merge(_ urls: [URL], weights: [Double]?) throws -> Checkpoint {
        precondition(!urls.isEmpty, "merge: no checkpoints")
        let w = weights ?? [Double](repeating: 1, count: urls.count)
        guard w.count == urls.count else {
            throw ConfigurationError("--weights has \(w.count) value\(w.count == 1 ? "" : "s") for \(urls.count) checkpoint\(urls.count == 1 ? "" : "s")")
        }
        guard w.allSatisfy({ $0 >= 0 && $0.isFinite }), w.reduce(0, +) > 0, w.reduce(0, +).isFinite else {
            throw ConfigurationError("--weights must be non-negative and finite with a positive, finite sum")
        }
        let checkpoints = try urls.map { try Checkpoint.load(from: $0) }
        for (c, url) in zip(checkpoints, urls) { try c.droppingOptimizerState().checkFinite(file: url.path) }
        let total = w.reduce(0, +)
        let base = checkpoints[0].droppingOptimizerState()
        for (c, url) in zip(checkpoints.dropFirst(), urls.dropFirst()) {
            if let difference = try architectureDifference(c.droppingOptimizerState(), from: base,
                                                           baseName: urls[0].lastPathComponent) {
                throw ConfigurationError("\(url.path): \(difference): different architectures, not merged")
            }
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

    /// Configuration keys that define the model, beyond its tensor shapes: checkpoints that differ
    /// in one of them are not merged.
    public static let architectureKeys = [
        "application", "image_size", "layers", "z_dim", "g_channels", "d_channels", "q_channels",
        "unet_channels", "mask_envelope",
    ]

    /// The first way `checkpoint` differs from `base` in preset, tensors (in `base`'s order, then
    /// its own) or `architectureKeys`, in words; nil when they can be averaged.
    static func architectureDifference(_ checkpoint: Checkpoint, from base: Checkpoint, baseName: String) throws -> String? {
        var tensor: String?
        do {
            try checkpoint.compare(against: base.tensors.map { ($0.name, $0.shape) })
        } catch let error as CheckpointError {
            switch error.problem {
            case .missingTensor(let name, let shape): tensor = "tensor \(name) is missing (\(baseName) has \(shape))"
            case .extraTensor(let name, let shape): tensor = "tensor \(name) \(shape) is not in \(baseName)"
            case .shapeMismatch(let name, let have, let expected): tensor = "tensor \(name) has shape \(have), \(baseName) has \(expected)"
            default: tensor = error.reason
            }
        }
        if checkpoint.preset != base.preset {
            return "preset \(checkpoint.preset) differs from \(baseName)'s \(base.preset)" + (tensor.map { " (first difference: \($0))" } ?? "")
        }
        if let tensor { return tensor }
        let mine = try? JSONSerialization.jsonObject(with: Data(checkpoint.configJSON.utf8)) as? [String: Any]
        let theirs = try? JSONSerialization.jsonObject(with: Data(base.configJSON.utf8)) as? [String: Any]
        for key in architectureKeys {
            let x = mine?[key] as? NSObject, y = theirs?[key] as? NSObject
            if !(x?.isEqual(y) ?? (y == nil)) { return "configuration \(key) is \(describe(mine?[key])), \(baseName) has \(describe(theirs?[key]))" }
        }
        return nil
    }

    /// A configuration value as `--set` writes it: `3`, `8,8,8,8,4`, `hoc`.
    private static func describe(_ value: Any?) -> String {
        switch value {
        case nil: "absent"
        case let list as [Any]: list.map { "\($0)" }.joined(separator: ",")
        case let v?: "\(v)"
        }
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

    /// The model of application `A` with the checkpoint's weights (optimizer state not needed).
    /// - Throws: `ConfigurationError` when the checkpoint belongs to another application, e.g.
    ///   "B.safetensors: preset demo-fg is a checkpoint of the fg application; this command needs a hoc one";
    ///   `CheckpointError` naming the first tensor that differs.
    public static func model<A: Application>(of application: A.Type, from checkpoint: Checkpoint, file: String,
                                             adjusting adjust: (inout Configuration) throws -> Void = { _ in }) throws -> A.Model {
        var config = try configuration(of: checkpoint, file: file)
        try adjust(&config)
        guard config.application == A.name else {
            throw ConfigurationError("\(file): preset \(config.preset) is a checkpoint of the \(config.application) application; this command needs a \(A.name) one")
        }
        let model = A.Model(config: config, communicator: LocalCommunicator())
        let state = ModelState(networks: model.networks, optimizers: model.optimizers)
        try state.restore(from: checkpoint, config: config, file: file, requireOptimizer: false)
        return model
    }
}
