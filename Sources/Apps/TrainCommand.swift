import ArgumentParser
import Carve
import Foundation

/// `carve train`: one rank of a data-parallel run (or the whole run without mpirun).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a preset (single process, or one rank under mpirun/srun).",
        discussion: """
            Start from --preset NAME (see `carve presets`) or --config FILE (a run folder's \
            config.json); --set key=value overrides any value. Without --run-dir a new run goes to \
            runs/PRESET/version_N. A run folder holding files is never reused without --resume. \
            `carve train --resume --run-dir RUN` needs nothing else: --steps may extend the run; a \
            flag that would change its trajectory is refused unless --override (logged in \
            RUN/changes.log). Presets: \(Presets.names.joined(separator: ", ")).
            """)

    @Option(help: "The preset to start from.")
    var preset: String?

    @Option(help: "A configuration file to start from (a run folder's config.json; --set and flags override it).")
    var config: String?

    @Option(help: "hoc: a cluster image (PNG) or a folder of them; fg: a dataset folder. Default: the embedded coins photo.")
    var data: String?

    @Option(help: "fg: a folder of background images.")
    var backgrounds: String?

    @Option(name: .customLong("run-dir"), help: "The run folder (config, metrics, checkpoints, samples, eval). Default: a new runs/PRESET/version_N.")
    var runDir: String?

    // .unconditional: "--steps -1" is a negative count ("must not be negative"), not a flag "-1".
    @Option(parsing: .unconditional, help: "Total training steps (overrides the preset).")
    var steps: Int?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The global batch, split over the ranks.")
    var batchSize: Int?

    @Option(help: "The run's seed.")
    var seed: UInt64?

    @Flag(help: "Continue the run in --run-dir from its latest checkpoint, with its recorded configuration and data.")
    var resume = false

    @Flag(help: "With --resume: accept flags that change the run's trajectory (logged in RUN/changes.log).")
    var override = false

    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional, help: "Checkpoint every K steps (0 = only at the end).")
    var checkpointEvery: Int?

    @Option(name: .customLong("eval-every"), parsing: .unconditional, help: "Evaluate and write panels every E steps (0 = only at the end).")
    var evalEvery: Int?

    @Option(name: .customLong("set"), parsing: .singleValue, help: "Override a configuration value: key=value (repeatable).")
    var overrides: [String] = []

    @Flag(help: "Print only errors.")
    var quiet = false

    func validate() throws {
        if let preset, !Presets.names.contains(preset) {
            throw ValidationError("unknown preset '\(preset)' (known: \(Presets.names.joined(separator: ", ")))")
        }
        if preset == nil && config == nil && !resume {
            throw ValidationError("--preset NAME is needed (or --config FILE, or --resume --run-dir RUN); presets: \(Presets.names.joined(separator: ", "))")
        }
        if let runDir, runDir.isEmpty { throw ValidationError("--run-dir must not be empty") }
        if resume && runDir == nil { throw ValidationError("--resume needs --run-dir, the folder of the run to continue") }
        if let config, !FileManager.default.fileExists(atPath: config) {
            throw ValidationError("--config \(config): no such file")
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
            let request = TrainRequest(preset: preset, configFile: self.config, data: data, backgrounds: backgrounds,
                                       runDirectory: runDir, resume: resume, override: override, steps: steps,
                                       batchSize: batchSize, seed: seed, checkpointEvery: checkpointEvery,
                                       evalEvery: evalEvery, sets: overrides, quiet: quiet)
            let (config, options) = try request.resolve()
            communicator.collectiveTimeout = config.collectiveTimeout  // Note [Collective watchdog]
            if communicator.rank == 0 && !quiet && runDir == nil {
                FileHandle.standardError.write(Data("carve: run folder \(options.runDirectory.path)\n".utf8))
            }
            let cores = ProcessInfo.processInfo.activeProcessorCount
            if communicator.rank == 0 && Threads.localRanks * Threads.count > cores {
                FileHandle.standardError.write(Data("carve: warning: \(Threads.localRanks) ranks × \(Threads.count) threads on a node of \(cores) cores; set OPENBLAS_NUM_THREADS to cores ÷ ranks per node (launch/mpirun.sh does)\n".utf8))
            }
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
