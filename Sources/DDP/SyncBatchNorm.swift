import Foundation
import Tensor

/// Synchronised BatchNorm across ranks: installs the Tensor module's `BatchNormSync.reduce` hook
/// so every BatchNorm sums its per-channel statistics over all ranks (PyTorch's SyncBatchNorm).
///
/// See Note [BN statistics across ranks] in Tensor's BatchNorm.swift. With it, W ranks with a
/// global batch B follow the same trajectory as 1 rank with batch B. A failed allreduce inside
/// the hook cannot be thrown through the op, so it ends the job (`abort`) with MPI's message.
public enum SyncBatchNorm {
    /// Sums BatchNorm statistics over `communicator`'s ranks from now on (nothing for one rank).
    public static func install(_ communicator: any Communicator) {
        guard communicator.worldSize > 1 else {
            BatchNormSync.reduce = nil
            return
        }
        BatchNormSync.reduce = { buffer in
            do {
                try communicator.withPurpose("BatchNorm statistics") { try communicator.allReduce(buffer, op: .sum) }
            } catch {
                // A timeout's message already names the collective (Note [Collective watchdog]).
                let what = error is CollectiveTimeoutError ? "" : "BatchNorm statistics allreduce failed: "
                FileHandle.standardError.write(Data("carve: rank \(communicator.rank): \(what)\(error.localizedDescription)\n".utf8))
                communicator.abort(code: 1)
            }
        }
    }

    /// Back to per-rank statistics.
    public static func uninstall() { BatchNormSync.reduce = nil }
}
