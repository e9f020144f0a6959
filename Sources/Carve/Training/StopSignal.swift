import Foundation

/// SIGINT / SIGTERM turned into a flag the training loop polls (then it checkpoints and exits).
///
/// The handler only sets an atomic flag; the loop agrees on it across ranks (allreduce-max), so
/// every rank stops after the same step. A second signal ends the process at once.
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
        }
        return StopSignal()
    }
}
