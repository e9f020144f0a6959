import ArgumentParser
import Carve
import Foundation

/// `carve bench step --preset NAME [--batch-size B] [--steps N] [--warmup W] [--json]`: the real
/// training step on synthetic batches, on one process or under mpirun (rank 0 prints).
struct BenchStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "Time the training step of a preset on synthetic in-memory batches.",
        discussion: """
            Reports the median seconds per step (the slowest rank's), images/s, the step's conv/convT/linear \
            GFLOP and GFLOP/s, sgemm GFLOP/s measured in the same run, peak RSS and the communication share. \
            Under mpirun the batch is global and split over the ranks. Threads per rank: OPENBLAS_NUM_THREADS \
            and CARVE_THREADS. `make bench` compares it with PyTorch (bench/run.sh).
            """)

    @Option(help: "The preset whose networks and step are timed.")
    var preset: String

    @Option(name: .customLong("batch-size"), help: "The global batch (default: the preset's), split over the ranks.")
    var batchSize: Int?

    @Option(help: "Timed steps (the median is reported).")
    var steps = 10

    @Option(help: "Untimed steps first.")
    var warmup = 2

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard Presets.names.contains(preset) else {
            throw ValidationError("unknown preset '\(preset)' (known: \(Presets.names.joined(separator: ", ")))")
        }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must not be negative, got \(warmup)") }
    }

    func run() throws {
        try withCommunicator { communicator in
            let report = try StepBenchmark.run(preset: preset, batchSize: batchSize, steps: steps, warmup: warmup,
                                               communicator: communicator)
            if communicator.rank == 0 { print(json ? report.json : report.text, terminator: json ? "\n" : "") }
        }
    }
}
