import DDP
import Foundation
import Tensor

/// Where a run reads its data and writes its files (the flags of `carve train`).
public struct TrainOptions: Sendable {
    public var runDirectory: URL
    /// hoc: an image (PNG or JPEG) or a folder of them; fg: a dataset folder. nil = the embedded default.
    public var dataPath: String?
    /// fg: a folder of background images (the background pool).
    public var backgroundsPath: String?
    /// Continue from RUN/checkpoints/latest.
    public var resume: Bool
    /// A live progress bar (terminal) instead of periodic lines; nil = when stderr is a terminal.
    public var progressBar: Bool?
    /// Print nothing but errors (tests).
    public var quiet: Bool
    /// Changes to a resumed run's trajectory accepted with `--override` ("key old → new"),
    /// logged in RUN/changes.log.
    public var resumeChanges: [String] = []

    public init(runDirectory: URL, dataPath: String? = nil, backgroundsPath: String? = nil, resume: Bool = false,
                progressBar: Bool? = nil, quiet: Bool = false) {
        self.runDirectory = runDirectory
        self.dataPath = dataPath
        self.backgroundsPath = backgroundsPath
        self.resume = resume
        self.progressBar = progressBar
        self.quiet = quiet
    }
}

/// What a finished (or interrupted) run reports.
public struct RunSummary: Sendable {
    public var firstStep: Int
    public var lastStep: Int
    public var interrupted: Bool
    public var lastCheckpoint: URL?
    public var lastEvaluation: URL?
    public var secondsPerStep: Double
}

/// `carve train` on one rank of W (W = 1 without mpirun), for every application: the one
/// training loop (Note [Application seam]).
///
/// Every rank loads the same data and builds the same model, checks that all ranks agree and
/// takes rank 0's weights, then runs the model's step on its contiguous slice of each global
/// batch. Rank 0 alone prints progress, appends metrics.jsonl, writes atomic checkpoints (every K
/// steps, at the end and on SIGINT/SIGTERM) and evaluates with panels every E steps and at the
/// end of each phase.
///
/// ```swift
/// let trainer = try Trainer(config: try Presets.named("tiny"), options: TrainOptions(runDirectory: run),
///                           communicator: LocalCommunicator())
/// let summary = try trainer.train()   // summary.lastCheckpoint, summary.secondsPerStep
/// ```
public final class Trainer {
    public let config: Configuration
    public let options: TrainOptions
    public let communicator: any Communicator
    let run: RunFolder

    public init(config: Configuration, options: TrainOptions, communicator: any Communicator) throws {
        try config.validate()
        self.config = config
        self.options = options
        self.communicator = communicator
        self.run = RunFolder(url: options.runDirectory)
    }

    var isLeader: Bool { communicator.rank == 0 }

    /// Trains from step 0 (or the latest checkpoint with `resume`) to the model's last step.
    public func train() throws -> RunSummary {
        try train(Applications.named(config.application))
    }

    private func train<A: Application>(_ application: A.Type) throws -> RunSummary {
        // Rank 0 holds the folder for the whole run (Note [Run folder lock]); a new run never
        // writes into a folder that holds one already.
        let existed = FileManager.default.fileExists(atPath: run.url.path)
        let lock = isLeader ? try RunLock.acquire(folder: run.url) : nil
        defer { lock?.release() }
        var started = false
        defer {
            // A run that failed before it began leaves the folder as it found it.
            if isLeader && !started && !existed { try? FileManager.default.removeItem(at: run.url) }
        }
        if isLeader && !options.resume && run.holdsFiles {
            throw TrainingError.runDirectory(path: run.url.path, reason: "holds files already (a run?); continue it with --resume, or choose another --run-dir")
        }
        // Data next, so bad data or a bad flag leaves the folder as it was.
        let data = try A(config: config, options: options, isLeader: isLeader)
        guard data.datasetSize >= config.batchSize else {
            throw TrainingError.dataTooSmall(count: data.datasetSize, batch: config.batchSize)
        }
        if isLeader && options.resume {
            // Refused before anything is written: a resume needs a checkpoint to resume from.
            let directory = CheckpointDirectory(url: run.checkpoints, keepLast: config.keepCheckpoints)
            guard try directory.latest() != nil else {
                throw CheckpointError(file: run.checkpoints.appending(path: CheckpointDirectory.latestName).path, problem: .noLatest)
            }
        }
        if isLeader {
            try run.create()
            try run.writeConfig(RunRecord(config: config, dataPath: options.dataPath, backgroundsPath: options.backgroundsPath,
                                          worldSize: communicator.worldSize))
        }
        started = true
        if isLeader && !options.resumeChanges.isEmpty {
            try run.logChanges(options.resumeChanges)
            if !options.quiet { printLine("carve: resuming with changes (--override): \(options.resumeChanges.joined(separator: "; "))") }
        }
        let sharding = try Sharding(datasetSize: data.datasetSize, globalBatch: config.batchSize,
                                    worldSize: communicator.worldSize, seed: config.seed)
        let training = try TrainingRun(communicator: communicator, config: config, options: options, folder: run)
        defer { training.close() }
        let comm = training.comm, fault = training.fault

        let model = A.Model(config: config, communicator: comm)
        try model.synchronizeReplicas()
        let firstStep = try training.resume(ModelState(networks: model.networks, optimizers: model.optimizers))

        let total = model.totalSteps
        let stop = StopSignal.install()
        let progress = Progress(total: total, first: firstStep,
                                bar: options.progressBar ?? (isatty(2) != 0), enabled: isLeader && !options.quiet)

        func evaluate(step: Int) throws {
            guard isLeader else { return }
            let outcome = try data.evaluate(model, step: step, run: run)
            training.setLastEvaluation(outcome.url)
            if !options.quiet {
                progress.finish()
                printLine("carve: step \(step) eval: \(outcome.summary)")
            }
        }

        let schedule = StepSchedule(config: config, total: total)
        var step = firstStep
        while step < total {
            comm.context.step = step  // names the step in a collective timeout (Note [Collective watchdog] in DDP)
            let started = DispatchTime.now().uptimeNanoseconds
            let commAtStart = comm.seconds
            let indices = sharding.localIndices(step: step, rank: communicator.rank)
            let samples = sharding.localSampleNumbers(step: step, rank: communicator.rank)
            let batch = data.batch(step: step, indices: indices, samples: samples)
            if let fault, fault.rank == communicator.rank, fault.step == step {
                batch.images.data.update(repeating: .nan, count: batch.images.count)
            }
            try BadBatchError.check(batch.images, what: A.imagesDescription, step: step, samples: samples)
            try BadBatchError.check(batch.background, what: "background patches", step: step, samples: samples)
            let metrics = try model.trainStep(batch, step: step)
            step += 1
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            training.finished(step: step, seconds: seconds)

            if isLeader && (step % config.logEvery == 0 || step == total) {
                var record = metrics.record
                record["step"] = step
                record["step_seconds"] = seconds
                record["images_per_second"] = Double(config.batchSize) / seconds
                record["world_size"] = communicator.worldSize
                record["time"] = Date().timeIntervalSince1970
                try run.appendMetrics(record.merging(comm.metrics(since: commAtStart)) { a, _ in a })
            }
            progress.update(step: step, imagesPerSecond: Double(config.batchSize) / seconds, line: metrics.line)

            let stopping = try schedule.agreeToStop(stop, communicator: comm)
            if schedule.checkpointDue(after: step, stopping: stopping) {
                try training.saveCheckpoint(step: step, epoch: sharding.position(step: step).epoch)
            }
            if schedule.evaluationDue(after: step, stopping: stopping, extra: model.endsPhase(after: step)) {
                try evaluate(step: step)
            }
            if stopping {
                training.interrupted(at: step, progress: progress)
                break
            }
        }
        return training.end(progress: progress)
    }
}

/// Writes one line to stderr (progress and messages go to stderr; stdout stays for results).
func printLine(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
