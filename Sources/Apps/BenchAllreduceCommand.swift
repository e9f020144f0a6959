import ArgumentParser
import Carve
import Foundation

/// `carve bench allreduce [--json]`: latency and GB/s of DDP's fused float allreduce, run under mpirun.
struct BenchAllreduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Latency and GB/s of the fused Float32 gradient allreduce, 4 B up to the paper model's gradient size.",
        discussion: """
            Run it under MPI, e.g. `launch/mpirun.sh -n 2 carve bench allreduce`; rank 0 prints. Every size is \
            timed after a barrier, as the slowest rank sees it; the median over repetitions is reported with \
            algorithm bandwidth (bytes / time) and bus bandwidth (× 2(W−1)/W). The demo-hoc and paper-hoc-crowd \
            gradient buckets are included by name.
            """)

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(name: .customLong("max-bytes"), help: "The largest power-of-4 size, in bytes.")
    var maxBytes = 64 << 20

    @Option(help: "Timed repetitions per size above 1 MB (smaller sizes get at least 100).")
    var repetitions = 20

    func validate() throws {
        guard maxBytes >= 4 else { throw ValidationError("--max-bytes must be at least 4, got \(maxBytes)") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
    }

    func run() throws {
        try withCommunicator { communicator in
            let sizes = try AllreduceBenchmark.defaultSizes(maxBytes: maxBytes)
            let report = try AllreduceBenchmark.run(communicator: communicator, sizes: sizes, repetitions: repetitions)
            if communicator.rank == 0 { print(json ? report.json : report.text, terminator: json ? "\n" : "") }
        }
    }
}
