import DDP
import Foundation

/// What one training step measured, by the names metrics.jsonl, the progress line and reports
/// use (`loss_d`, `loss_g`, `area`, `mask_area`, `d_real`, `d_fake`, …), in the order they were
/// added. Nothing above an application needs to know which names it reports.
///
/// ```swift
/// var m = StepMetrics(phase: "adversarial", shown: ["loss_d", "loss_g"])
/// m["loss_d"] = Double(lossD.item)
/// try m.averageOverRanks(communicator, step: step)   // one allreduce, then the finiteness check
/// ```
public struct StepMetrics: Sendable {
    /// The phase of the run the step belongs to: "adversarial", or fg's "distill".
    public var phase: String
    /// The names of the metrics the progress line shows, in order.
    public var shown: [String]
    public private(set) var names: [String] = []
    public private(set) var values: [Double] = []

    public init(phase: String, shown: [String]) {
        self.phase = phase
        self.shown = shown
    }

    /// The value of `name`, nil when the step did not measure it; setting appends a new name.
    public subscript(name: String) -> Double? {
        get { names.firstIndex(of: name).map { values[$0] } }
        set {
            guard let newValue else { return }
            if let i = names.firstIndex(of: name) { values[i] = newValue } else { names.append(name); values.append(newValue) }
        }
    }

    /// Every value averaged over the ranks (one allreduce of all of them), then checked: a NaN or
    /// infinite value is `TrainingError.nonFinite` naming every metric, on every rank alike.
    public mutating func averageOverRanks(_ communicator: any Communicator, step: Int) throws {
        try communicator.allReduce(&values, op: .mean)
        guard values.allSatisfy(\.isFinite) else {
            throw TrainingError.nonFinite(step: step, what: zip(names, values).map { "\($0) \($1)" }.joined(separator: ", "))
        }
    }

    /// The names and values as one metrics.jsonl record (with `phase`).
    public var record: [String: Any] {
        var out: [String: Any] = ["phase": phase]
        for (name, value) in zip(names, values) { out[name] = value }
        return out
    }

    /// The shown metrics as `name value` pairs: "loss_d 0.693 loss_g 0.701 mask_area 0.254".
    public var line: String {
        shown.compactMap { name in self[name].map { String(format: "%@ %.3f", name, $0) } }.joined(separator: " ")
    }
}
