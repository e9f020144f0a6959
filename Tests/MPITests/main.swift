// mpi-tests: the communicator's collectives under a real mpirun (launch/test-mpi.sh runs it).
//
//   mpirun -n 4 mpi-tests [--world-size 4]   every check on MPICommunicator; exit 1 on a failure
//   mpi-tests --local                        the same checks without mpirun: LocalCommunicator,
//                                            and MPI must never be initialised
//   mpirun -n 2 mpi-tests --fail-on-rank 1   rank 1 throws while the others wait in a collective;
//                                            it must abort the whole job (non-zero, no hang)
//   mpirun -n 4 mpi-tests --absent-ranks 3   rank 3 never reaches an all-reduce: the watchdog must
//                                            end the job naming it (WatchdogCheck.swift; exit 4)
import DDP
import Foundation

// MARK: - Options

struct Options {
    var local = false
    var worldSize: Int? = nil
    var failOnRank: Int? = nil
    var absentRanks: [Int]? = nil

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        func number(after flag: String) throws -> Int {
            guard let text = rest.popFirst(), let value = Int(text), value >= 0 else {
                throw UsageError(message: "\(flag) needs a non-negative integer")
            }
            return value
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--local": local = true
            case "--world-size": worldSize = try number(after: flag)
            case "--fail-on-rank": failOnRank = try number(after: flag)
            case "--absent-ranks":
                guard let text = rest.popFirst(), case let ranks = text.split(separator: ",").compactMap({ Int($0) }),
                      !ranks.isEmpty, ranks.count == text.split(separator: ",").count, ranks.allSatisfy({ $0 >= 0 }) else {
                    throw UsageError(message: "--absent-ranks needs comma-separated non-negative integers")
                }
                absentRanks = ranks
            default:
                throw UsageError(message: "unknown option '\(flag)' (--local, --world-size N, --fail-on-rank R, --absent-ranks R[,R…])")
            }
        }
    }
}

struct UsageError: Error { let message: String }

/// The error the fault test throws on purpose.
struct InjectedFault: LocalizedError {
    let rank: Int
    var errorDescription: String? { "injected fault on rank \(rank) (--fail-on-rank \(rank))" }
}

// MARK: - The communicator under test

/// Checks that `communicatorFromEnvironment()` chose what the launch implies.
func checkCommunicator(_ comm: any Communicator, _ options: Options, _ checks: Checks) throws {
    if options.local {
        checks.expect("no MPI launcher variables without mpirun", !LaunchEnvironment.startedByMPILauncher(),
                      "started by an MPI launcher; --local is for runs without mpirun")
        checks.expect("local communicator without mpirun", comm is LocalCommunicator && comm.rank == 0
                      && comm.worldSize == 1, "got \(type(of: comm)) rank \(comm.rank) of \(comm.worldSize)")
        return
    }
    let environment = ProcessInfo.processInfo.environment
    checks.expect("MPI communicator under mpirun", comm is MPICommunicator && MPICommunicator.isInitialized,
                  "got \(type(of: comm)); not started by mpirun? (run launch/test-mpi.sh, or pass --local)")
    if let rank = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap({ environment[$0] }).first {
        checks.expect("rank matches the launcher's", String(comm.rank) == rank, "rank \(comm.rank), launcher says \(rank)")
    }
    if let size = environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] {
        checks.expect("world size matches the launcher's", String(comm.worldSize) == size,
                      "world size \(comm.worldSize), launcher says \(size)")
    }
    if let expected = options.worldSize {
        checks.expect("world size is --world-size", comm.worldSize == expected,
                      "world size \(comm.worldSize), expected \(expected)")
    }
    checks.expect("communicatorFromEnvironment() initialises MPI once",
                  try communicatorFromEnvironment() === comm, "a second call returned another communicator")
}

// MARK: - Main

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch let error as UsageError {
    printError("mpi-tests: \(error.message)")
    exit(64)
}

let comm: any Communicator
do {
    comm = try communicatorFromEnvironment()
} catch {
    printError("mpi-tests: \(error.localizedDescription)")
    exit(1)
}

do {
    if let absent = options.absentRanks { try runAbsentRankCheck(comm, absent: absent) }
    if let failing = options.failOnRank {
        // The other ranks block in the all-reduce until the failing rank's abort ends them.
        try comm.barrier()
        if comm.rank == failing { throw InjectedFault(rank: failing) }
        var value: [Float] = [1]
        try comm.allReduce(&value, op: .sum)
        printError("mpi-tests: FAIL [rank \(comm.rank) of \(comm.worldSize)] an all-reduce finished without rank \(failing)")
        exit(1)
    }
    let checks = Checks(rank: comm.rank, worldSize: comm.worldSize)
    try checkCommunicator(comm, options, checks)
    try runCollectiveChecks(comm, checks)
    if options.local {
        checks.expect("MPI never initialised without mpirun", !MPICommunicator.isInitialized,
                      "MPI_Init was called in local mode")
    }
    var failures: [Int64] = [Int64(checks.failures)]
    try comm.allReduce(&failures, op: .sum)
    if comm.rank == 0 {
        let summary = failures[0] == 0
            ? "all \(checks.count) checks passed on every rank"
            : "\(failures[0]) failed checks over all ranks (FAIL lines above)"
        print("mpi-tests: \(comm.worldSize) rank(s), \(type(of: comm)): \(summary)")
    }
    exit(checks.failures == 0 && failures[0] == 0 ? 0 : 1)
} catch {
    // One line from the failing rank, then end every rank: none is left waiting (DESIGN.md).
    printError("mpi-tests: rank \(comm.rank) of \(comm.worldSize): \(error.localizedDescription)")
    comm.abort(code: 3)
}
