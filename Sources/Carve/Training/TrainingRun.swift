// The scaffolding of the training loop around its steps: the timed communicator and
// synchronized BatchNorm, resuming from RUN/checkpoints/latest, rank 0's checkpoint saves, step
// timing and the end of a run (finished or interrupted).
import DDP
import Foundation

/// The scaffolding of one `carve train` run on one rank, used by `Trainer`.
///
/// ```swift
/// let run = TrainingRun(communicator: communicator, config: config, options: options, folder: folder)
/// defer { run.close() }
/// let model = HocGAN(config: config, communicator: run.comm)
/// let firstStep = try run.resume(ModelState(networks: model.networks, optimizers: model.optimizers))
/// ```
final class TrainingRun {
    let config: Configuration
    let options: TrainOptions
    /// Every collective of a step goes through it, which adds up their seconds (comm_seconds);
    /// with CARVE_COMM_SPLIT=1 a timed barrier precedes each (comm_wait_seconds).
    let comm: TimedCommunicator
    /// CARVE_FAULT_INJECT (tests): NaN in one rank's data at one step.
    let fault: FaultInjection?
    let directory: CheckpointDirectory
    private(set) var state: ModelState?
    private(set) var summary = RunSummary(firstStep: 0, lastStep: 0, interrupted: false, lastCheckpoint: nil,
                                          lastEvaluation: nil, secondsPerStep: 0)
    private var timedSteps = 0
    private var timedSeconds = 0.0

    var isLeader: Bool { comm.rank == 0 }

    /// Wraps `communicator` and installs synchronized BatchNorm when the configuration asks for it
    /// (`close` uninstalls it).
    init(communicator: any Communicator, config: Configuration, options: TrainOptions, folder: RunFolder) throws {
        self.config = config
        self.options = options
        comm = TimedCommunicator(communicator)
        comm.barrierFirst = ProcessInfo.processInfo.environment["CARVE_COMM_SPLIT"] == "1"
        fault = try FaultInjection.fromEnvironment()
        directory = CheckpointDirectory(url: folder.checkpoints, keepLast: config.keepCheckpoints)
        if config.syncBN { SyncBatchNorm.install(comm) } else { SyncBatchNorm.uninstall() }
    }

    /// Undoes `init`'s process-wide setting (synchronized BatchNorm).
    func close() { SyncBatchNorm.uninstall() }

    /// Takes the networks and optimizers to checkpoint; with `--resume`, loads
    /// RUN/checkpoints/latest into them (rank 0 says so) and returns its step, else 0.
    func resume(_ state: ModelState) throws -> Int {
        self.state = state
        var first = 0
        if options.resume {
            let checkpoint = try directory.loadLatest()
            try state.restore(from: checkpoint, config: config, file: (try? directory.latest())?.lastPathComponent ?? "latest")
            first = checkpoint.step
            if isLeader && !options.quiet {
                let ranks = checkpoint.worldSize == 1 ? "1 rank" : "\(checkpoint.worldSize) ranks"
                printLine("carve: resuming from step \(first) (checkpoint written by \(ranks))")
            }
        }
        summary.firstStep = first
        summary.lastStep = first
        return first
    }

    /// Rank 0 writes the checkpoint of `step` (atomically; see CheckpointDirectory).
    func saveCheckpoint(step: Int, epoch: Int) throws {
        guard isLeader, let state else { return }
        let checkpoint = state.checkpoint(step: step, epoch: epoch, config: config, worldSize: comm.worldSize)
        summary.lastCheckpoint = try directory.save(checkpoint)
    }

    /// Counts a finished step; the first step of a process warms up and is not timed.
    func finished(step: Int, seconds: Double) {
        if step > summary.firstStep + 1 { timedSteps += 1; timedSeconds += seconds }
        summary.lastStep = step
    }

    func setLastEvaluation(_ url: URL) { summary.lastEvaluation = url }

    /// The run stops at `step` because a rank was asked to: rank 0 says where the checkpoint is.
    func interrupted(at step: Int, progress: Progress) {
        summary.interrupted = true
        progress.finish()
        if isLeader && !options.quiet {
            printLine("carve: interrupted at step \(step); checkpoint \(summary.lastCheckpoint?.path ?? "-")")
        }
    }

    /// The summary at the end of the loop.
    func end(progress: Progress) -> RunSummary {
        if !summary.interrupted { progress.finish() }
        summary.secondsPerStep = timedSteps > 0 ? timedSeconds / Double(timedSteps) : 0
        return summary
    }
}
