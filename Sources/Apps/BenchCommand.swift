import ArgumentParser
import Carve
import Foundation

/// `carve bench`: measurements of speed (ops, the training step, allreduce) and of memory.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the speed of Carve's kernels and training step.",
        subcommands: [BenchOpsCommand.self, BenchStepCommand.self, BenchAllreduceCommand.self, BenchMemoryCommand.self])
}

/// `carve bench ops [--json] [--batch 16]`: GFLOP/s of the Table 2 conv layers against sgemm.
struct BenchOpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Forward and backward GFLOP/s of every conv layer of the Table 2 G and D, next to sgemm 1024³.",
        discussion: """
            For 1-thread numbers run with OPENBLAS_NUM_THREADS=1 CARVE_THREADS=1. Prints the OpenBLAS core \
            type and the CPU model it ran on.
            """)

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Option(help: "Batch size of every layer.")
    var batch = 16

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var repetitions = 5

    @Flag(help: "Time by this process's CPU time instead of wall-clock (steadier on a shared machine; use at 1 thread).")
    var cpuTime = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
    }

    func run() throws {
        let report = OpsBenchmark.run(batch: batch, repetitions: repetitions, clock: cpuTime ? .cpu : .wall)
        print(json ? report.json : report.text, terminator: json ? "\n" : "")
    }
}

/// `carve bench memory [--steps 500] [--batch 16] [--every 50] [--json]`: RSS over D steps.
struct BenchMemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Resident memory over many forward/backward/Adam steps of the Table 2 discriminator.",
        discussion: """
            Samples the resident set size after step 1 and every --every steps; flat after the first \
            100 steps means buffers are reused (the storage pool), not reallocated or leaked.
            """)

    @Option(help: "Steps to run.")
    var steps = 500

    @Option(help: "Batch size (64×64 images).")
    var batch = 16

    @Option(help: "Sample the RSS every this many steps.")
    var every = 50

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard every >= 1 else { throw ValidationError("--every must be at least 1, got \(every)") }
    }

    func run() throws {
        let report = MemoryBenchmark.run(steps: steps, batch: batch, every: every)
        print(json ? report.json : report.text, terminator: json ? "\n" : "")
    }
}
