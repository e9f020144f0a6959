import ArgumentParser
import Carve
import Foundation

/// `carve train`: one rank of a data-parallel run (or the whole run without mpirun).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a preset (single process, or one rank under mpirun/srun).",
        discussion: "Presets: \(Presets.names.joined(separator: ", ")).")

    @Option(help: "The preset to start from.")
    var preset: String

    @Option(help: "hoc: a cluster image (PNG) or a folder of them; fg: a dataset folder. Default: the embedded coins photo.")
    var data: String?

    @Option(help: "fg: a folder of background images.")
    var backgrounds: String?

    @Option(name: .customLong("run-dir"), help: "The run folder (config, metrics, checkpoints, samples, eval).")
    var runDir: String = "runs/latest"

    @Option(help: "Total training steps (overrides the preset).")
    var steps: Int?

    @Option(name: .customLong("batch-size"), help: "The global batch, split over the ranks.")
    var batchSize: Int?

    @Option(help: "The run's seed.")
    var seed: UInt64?

    @Flag(help: "Continue from RUN/checkpoints/latest.")
    var resume = false

    @Option(name: .customLong("checkpoint-every"), help: "Checkpoint every K steps (0 = only at the end).")
    var checkpointEvery: Int?

    @Option(name: .customLong("eval-every"), help: "Evaluate and write panels every E steps (0 = only at the end).")
    var evalEvery: Int?

    @Option(name: .customLong("set"), parsing: .singleValue, help: "Override a configuration value: key=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "Print only errors.")
    var quiet = false

    func validate() throws {
        guard Presets.names.contains(preset) else {
            throw ValidationError("unknown preset '\(preset)' (known: \(Presets.names.joined(separator: ", ")))")
        }
        if let steps, steps < 0 { throw ValidationError("--steps must not be negative") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let checkpointEvery, checkpointEvery < 0 { throw ValidationError("--checkpoint-every must not be negative") }
        if let evalEvery, evalEvery < 0 { throw ValidationError("--eval-every must not be negative") }
        if let data, !FileManager.default.fileExists(atPath: data) {
            throw ValidationError("--data \(data): no such file or directory")
        }
        if let backgrounds, !FileManager.default.fileExists(atPath: backgrounds) {
            throw ValidationError("--backgrounds \(backgrounds): no such directory")
        }
    }

    func run() throws {
        try withCommunicator { communicator in
            var config = try Presets.named(preset)
            if let steps { config.steps = steps }
            if let batchSize { config.batchSize = batchSize }
            if let seed { config.seed = seed }
            if let checkpointEvery { config.checkpointEvery = checkpointEvery }
            if let evalEvery { config.evalEvery = evalEvery }
            config = try config.applying(overrides)
            try config.validate()
            communicator.collectiveTimeout = config.collectiveTimeout  // Note [Collective watchdog]
            let options = TrainOptions(runDirectory: URL(fileURLWithPath: runDir), dataPath: data,
                                       backgroundsPath: backgrounds, resume: resume, quiet: quiet)
            let summary = try Trainer(config: config, options: options, communicator: communicator).train()
            if communicator.rank == 0 && !quiet {
                var lines = ["carve: trained steps \(summary.firstStep)…\(summary.lastStep) on \(communicator.worldSize) rank\(communicator.worldSize == 1 ? "" : "s")"
                             + String(format: ", %.3f s/step", summary.secondsPerStep)]
                if let c = summary.lastCheckpoint { lines.append("  checkpoint: \(c.path)") }
                if let e = summary.lastEvaluation {
                    lines.append("  evaluation: \(e.path)")
                    lines.append("  panel:      \(e.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("samples").appendingPathComponent(e.deletingPathExtension().lastPathComponent + ".png").path)")
                }
                print(lines.joined(separator: "\n"))
            }
        }
    }
}
