import Foundation

/// SIGINT / SIGTERM / SIGUSR1 turned into a flag the training loop polls (then it checkpoints and exits).
///
/// The handler only sets an atomic flag; the loop agrees on it across ranks (allreduce-max), so
/// every rank stops after the same step. A second signal ends the process at once.
///
/// Note [Stopping under mpirun]: Open MPI's mpirun forwards SIGUSR1 to every rank at once, so
/// `kill -USR1 <mpirun>` checkpoints and ends the job with exit 0. SIGTERM/SIGINT to mpirun are
/// not forwarded: mpirun sends the ranks SIGCONT, SIGTERM `odls_base_sigkill_timeout` seconds
/// later (default 1) and SIGKILL after as many again, and itself exits 1. The ranks checkpoint on
/// that SIGTERM only if the step in flight and the save fit in the timeout (raise it with
/// `--mca odls_base_sigkill_timeout 30` for large models). srun/scancel signal the ranks directly.
final class StopSignal: @unchecked Sendable {
    nonisolated(unsafe) static var flag: sig_atomic_t = 0
    nonisolated(unsafe) static var installed = false

    var requested: Bool { StopSignal.flag != 0 }

    static func install() -> StopSignal {
        flag = 0
        if !installed {
            installed = true
            let handler: @convention(c) (Int32) -> Void = { sig in
                if StopSignal.flag != 0 { _exit(128 + sig) }
                StopSignal.flag = 1
            }
            signal(SIGINT, handler)
            signal(SIGTERM, handler)
            signal(SIGUSR1, handler)
        }
        return StopSignal()
    }
}
