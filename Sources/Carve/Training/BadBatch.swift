// A rank's bad data and the test-only fault that imitates it.
import Foundation
import Tensor

/// A rank's batch holds NaN or Inf (bad data in its shard).
///
/// The rank checks its own slice before the step, so it aborts the job with one line naming itself
/// (WithCommunicator) before the gradient allreduce would spread the values to every rank.
struct BadBatchError: LocalizedError {
    let step: Int, what: String, sample: Int
    var errorDescription: String? {
        "step \(step): non-finite value in the \(what) of global sample \(sample) (bad data in this rank's shard); the last checkpoint is intact"
    }

    /// Throws for the first non-finite value of `t` [b, …], naming the global sample it belongs to.
    static func check(_ t: Tensor, what: String, step: Int, samples: [Int]) throws {
        let p = t.data, n = t.count
        for i in 0..<n where !p[i].isFinite {
            throw BadBatchError(step: step, what: what, sample: samples[i / (n / samples.count)])
        }
    }
}

/// Test-only fault injection for launch/test-mpi.sh: `CARVE_FAULT_INJECT=nan@rankR@stepS` fills
/// rank R's real patches (hoc) or images (fg) with NaN at step S, as if its shard held bad data.
/// Unset: no effect.
struct FaultInjection {
    let rank: Int, step: Int

    static func fromEnvironment() throws -> FaultInjection? {
        guard let spec = ProcessInfo.processInfo.environment["CARVE_FAULT_INJECT"], !spec.isEmpty else { return nil }
        let parts = spec.split(separator: "@")
        guard parts.count == 3, parts[0] == "nan", parts[1].hasPrefix("rank"), parts[2].hasPrefix("step"),
              let rank = Int(parts[1].dropFirst(4)), let step = Int(parts[2].dropFirst(4)) else {
            throw ConfigurationError("CARVE_FAULT_INJECT: expected nan@rankR@stepS (e.g. nan@rank1@step3), got '\(spec)'")
        }
        return FaultInjection(rank: rank, step: step)
    }
}
