import Foundation
import Tensor

/// The mapping between a model (networks + optimizers) and a checkpoint's tensors.
///
/// Names: `G/<param or buffer>`, `D/…`, `Q/…` in declaration order, then the Adam moments
/// `opt/G/m/<param>`, `opt/G/v/<param>` (likewise D, Q). Adam's step counts go in the `rng`
/// metadata as JSON (`{"adam_steps": {"G": 120, …}}`): with the seed and the step they are all
/// resuming needs, because every other random draw is keyed by (seed, purpose, step, index).
struct ModelState {
    let networks: [(prefix: String, module: any Module)]
    let optimizers: [(prefix: String, adam: Adam)]

    /// Parameters and buffers with their checkpoint names.
    var modelTensors: [(name: String, tensor: Tensor)] {
        networks.flatMap { prefix, module in
            (module.namedParameters() + module.namedBuffers()).map { (name: prefix + "/" + $0.name, tensor: $0.tensor) }
        }
    }

    /// Adam moments with their checkpoint names.
    var optimizerTensors: [(name: String, tensor: Tensor)] {
        optimizers.flatMap { prefix, adam in
            adam.state().map { (name: "opt/" + prefix + "/" + $0.name, tensor: $0.tensor) }
        }
    }

    /// Names and shapes a checkpoint of this model holds (with or without optimizer state).
    func expectedLayout(includingOptimizer: Bool) -> [(name: String, shape: [Int])] {
        (modelTensors + (includingOptimizer ? optimizerTensors : [])).map { ($0.name, $0.tensor.shape) }
    }

    func checkpoint(step: Int, epoch: Int, config: Configuration, worldSize: Int) -> Checkpoint {
        let entries = (modelTensors + optimizerTensors).map {
            TensorFile.Entry(name: $0.name, shape: $0.tensor.shape, values: $0.tensor.array)
        }
        var steps: [String: Int] = [:]
        for (prefix, adam) in optimizers { steps[prefix] = adam.stepCount }
        let rng = String(decoding: try! JSONSerialization.data(withJSONObject: ["adam_steps": steps], options: .sortedKeys),
                         as: UTF8.self)
        return Checkpoint(step: step, epoch: epoch, worldSize: worldSize, seed: config.seed, preset: config.preset,
                          configJSON: config.json(), rng: rng, tensors: entries)
    }

    /// Loads weights, buffers and (when present, or when `requireOptimizer`) Adam state.
    /// - Throws: `CheckpointError` naming the file and the first tensor that differs.
    func restore(from checkpoint: Checkpoint, config: Configuration, file: String, requireOptimizer: Bool = true) throws {
        let hasOptimizer = checkpoint.tensors.contains { CheckpointName.isOptimizerState($0.name) }
        try checkpoint.compare(against: expectedLayout(includingOptimizer: requireOptimizer || hasOptimizer), file: file)
        try checkpoint.checkFinite(file: file)
        var byName: [String: TensorFile.Entry] = [:]
        for e in checkpoint.tensors { byName[e.name] = e }
        for (name, tensor) in modelTensors {
            let values = byName[name]!.values
            values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
        }
        guard hasOptimizer else { return }
        var steps: [String: Int] = [:]
        if let object = try? JSONSerialization.jsonObject(with: Data(checkpoint.rng.utf8)) as? [String: Any],
           let s = object["adam_steps"] as? [String: Int] {
            steps = s
        }
        for (prefix, adam) in optimizers {
            var state: [String: Tensor] = [:]
            let lead = "opt/" + prefix + "/"
            for e in checkpoint.tensors where e.name.hasPrefix(lead) {
                state[String(e.name.dropFirst(lead.count))] = Tensor(shape: e.shape, values: e.values)
            }
            try adam.load(state: state, stepCount: steps[prefix] ?? checkpoint.step)
        }
    }
}
