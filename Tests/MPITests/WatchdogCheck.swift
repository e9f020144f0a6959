import DDP
import Foundation

// `mpirun -n W mpi-tests --absent-ranks R[,R…]`: the collective watchdog end to end (Note
// [Collective watchdog]). Ranks R never reach an all-reduce; the others wait in it with a 1 s
// timeout. The lowest waiting rank must throw CollectiveTimeoutError naming exactly ranks R, the
// step and the collective, within the timeout plus its grace; the other waiting ranks must stay
// silent. That rank prints its checks, one error line, and aborts the job with exit code 4
// (all checks passed) or 1, which launch/test-mpi.sh reads.

/// The watchdog timeout of this check: short, so the check takes seconds.
private let timeout = 1.0

/// Runs the absent-rank check on this rank; never returns.
func runAbsentRankCheck(_ comm: any Communicator, absent: [Int]) throws -> Never {
    let checks = Checks(rank: comm.rank, worldSize: comm.worldSize)
    comm.collectiveTimeout = timeout
    try comm.barrier()  // collective #0, with the longer first timeout: every rank arrives
    comm.context.step = 7
    if absent.contains(comm.rank) {
        sleep(30)  // "never": the reporting rank's abort ends this process long before
        printError("mpi-tests: FAIL [rank \(comm.rank) of \(comm.worldSize)] still running 30 s after ranks \(absent) stayed away")
        exit(1)
    }
    let start = DispatchTime.now().uptimeNanoseconds
    var value: [Float] = [1]
    do {
        try comm.withPurpose("absent-rank check") { try comm.allReduce(&value, op: .sum) }
        printError("mpi-tests: FAIL [rank \(comm.rank) of \(comm.worldSize)] an all-reduce finished without ranks \(absent)")
        exit(1)
    } catch let error as CollectiveTimeoutError {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let reporter = (0..<comm.worldSize).first { !absent.contains($0) }!
        checks.expect("the lowest waiting rank reports", comm.rank == reporter,
                      "rank \(comm.rank) reported, expected rank \(reporter) (the others defer to it)")
        checks.expect("the missing ranks are the absent ones", error.missing == absent.sorted(),
                      "missing \(error.missing), expected \(absent.sorted())")
        checks.expect("the step is named", error.step == 7, "step \(String(describing: error.step)), expected 7")
        checks.expect("the collective is named", error.collective == "allreduce (absent-rank check, 1 float)",
                      "collective '\(error.collective)'")
        // The rank decides at timeout + grace (grace = min(1 s, timeout/4) + 0.5 s = 0.75 s); it
        // polls every ≤ 10 ms, and 1 s more covers scheduling on a loaded, oversubscribed machine.
        let watch = CollectiveWatchdog(collective: 1, timeout: timeout, rank: comm.rank, worldSize: comm.worldSize)
        let earliest = timeout + watch.grace, latest = earliest + 1
        checks.expect("the error comes after the timeout and its grace", elapsed >= earliest && elapsed <= latest,
                      String(format: "after %.2f s, expected %.2f…%.2f s", elapsed, earliest, latest))
        if checks.failures == 0 {
            print("mpi-tests: watchdog: all \(checks.count) checks passed on rank \(comm.rank) (" + String(format: "%.2f s", elapsed) + ")")
        }
        printError("mpi-tests: rank \(comm.rank) of \(comm.worldSize): \(error.localizedDescription)")
        FileHandle.standardOutput.synchronizeFile()
        comm.abort(code: checks.failures == 0 ? 4 : 1)
    }
}
