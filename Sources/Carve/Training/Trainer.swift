import DDP
import Foundation
import Imaging
import Tensor

/// Where a run reads its data and writes its files (the flags of `carve train`).
public struct TrainOptions: Sendable {
    public var runDirectory: URL
    /// hoc: a PNG or a folder of them; fg: a dataset folder. nil = the embedded default.
    public var dataPath: String?
    /// fg: a folder of background images (the background pool).
    public var backgroundsPath: String?
    /// Continue from RUN/checkpoints/latest.
    public var resume: Bool
    /// A live progress bar (terminal) instead of periodic lines; nil = when stderr is a terminal.
    public var progressBar: Bool?
    /// Print nothing but errors (tests).
    public var quiet: Bool

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
    public var lastMetrics: HocGAN.StepMetrics?
    public var lastCheckpoint: URL?
    public var lastEvaluation: URL?
    public var secondsPerStep: Double
}

/// `carve train` for the hoc application on one rank of W (W = 1 without mpirun).
///
/// Every rank builds the same model, checks that all ranks agree and takes rank 0's weights,
/// then runs `HocGAN.trainStep` on its contiguous slice of each global batch. Rank 0 alone
/// prints progress, appends metrics.jsonl, writes atomic checkpoints (every K steps, at the
/// end and on SIGINT/SIGTERM) and runs evaluation with panels every E steps.
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

    /// Loads the hoc patches the configuration asks for (every rank loads the same data).
    func loadHocData() throws -> HocDataset {
        let hocOptions = HocOptions(
            window: config.window > 0 ? config.window : nil, stride: config.patchStride > 0 ? config.patchStride : nil,
            patchSize: config.imageSize, horizontalFlips: config.flips, verticalFlips: config.flips)
        if let path = options.dataPath { return try HocDataset.load(path: path, options: hocOptions) }
        return try HocDataset.embeddedDefault(options: hocOptions)
    }

    /// The median full (unoccluded) area of a ground-truth object in patch pixels, when the data
    /// is a `carve data synth-hoc` folder (objects-*.json); nil otherwise.
    func groundTruthObjectArea() -> Double? {
        guard let path = options.dataPath, let info = try? SynthHocInfo.read(folder: path),
              let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
        var areas: [Int] = []
        for name in names where name.hasPrefix("objects-") && name.hasSuffix(".json") {
            let url = URL(fileURLWithPath: path).appendingPathComponent(name)
            if let data = try? Data(contentsOf: url),
               let objects = try? JSONDecoder().decode([SynthHocObject].self, from: data) {
                areas += objects.map(\.fullArea)
            }
        }
        guard !areas.isEmpty else { return nil }
        areas.sort()
        let window = Double(config.window > 0 ? config.window : info.window)
        let scale = Double(config.imageSize) / window
        return Double(areas[areas.count / 2]) * scale * scale
    }

    /// Trains from step 0 (or the latest checkpoint with `resume`) to `config.steps`.
    public func train() throws -> RunSummary {
        guard config.application == "hoc" else {
            return try FgTrainer(config: config, options: options, communicator: communicator).train()
        }
        if isLeader {
            try run.create()
            try run.writeConfig(config, worldSize: communicator.worldSize)
        }
        let data = try loadHocData()
        guard data.count >= config.batchSize else {
            throw TrainingError.dataTooSmall(count: data.count, batch: config.batchSize)
        }
        let sharding = try Sharding(datasetSize: data.count, globalBatch: config.batchSize,
                                    worldSize: communicator.worldSize, seed: config.seed)
        let training = try TrainingRun(communicator: communicator, config: config, options: options, folder: run)
        defer { training.close() }
        let comm = training.comm, fault = training.fault

        let gan = HocGAN(config: config, communicator: comm)
        try gan.synchronizeReplicas()
        let objectArea = isLeader ? groundTruthObjectArea() : nil
        let firstStep = try training.resume(ModelState(networks: gan.networks, optimizers: gan.optimizers))

        let stop = StopSignal.install()
        let progress = Progress(total: config.steps, first: firstStep,
                                bar: options.progressBar ?? (isatty(2) != 0), enabled: isLeader && !options.quiet)
        let b = sharding.localBatch, size = config.imageSize

        func evaluate(step: Int) throws {
            guard isLeader else { return }
            let evaluation = HocEvaluation(gan: gan, data: data, config: config, objectArea: objectArea)
            training.setLastEvaluation(try evaluation.run(step: step, samplesDirectory: run.samples, evalDirectory: run.eval))
        }

        let schedule = StepSchedule(config: config, total: config.steps)
        var step = firstStep
        while step < config.steps {
            let started = DispatchTime.now().uptimeNanoseconds
            let commAtStart = comm.seconds
            let indices = sharding.localIndices(step: step, rank: communicator.rank)
            let samples = sharding.localSampleNumbers(step: step, rank: communicator.rank)
            let real = Tensor(shape: [b, 3, size, size]) { data.fillPatches($0, indices: indices) }
            if let fault, fault.rank == communicator.rank, fault.step == step { real.data.update(repeating: .nan, count: real.count) }
            try BadBatchError.check(real, what: "real patches", step: step, samples: samples)
            let background = Tensor(shape: [b, 3, size, size]) {
                data.fillBackgrounds($0, seed: config.seed, step: step, samples: samples)
            }
            let metrics = try gan.trainStep(HocGAN.Batch(real: real, background: background, samples: samples), step: step)
            step += 1
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            training.finished(step: step, seconds: seconds)
            training.setLastMetrics(metrics)

            if isLeader && (step % config.logEvery == 0 || step == config.steps) {
                let record: [String: Any] = [
                    "step": step, "loss_d": metrics.lossD, "loss_g": metrics.lossG, "area": metrics.area,
                    "info": metrics.information, "d_real": metrics.dReal, "d_fake": metrics.dFake,
                    "mask_area": metrics.maskArea, "step_seconds": seconds,
                    "images_per_second": Double(config.batchSize) / seconds, "world_size": communicator.worldSize,
                    "time": Date().timeIntervalSince1970,
                ]
                try run.appendMetrics(record.merging(comm.metrics(since: commAtStart)) { a, _ in a })
            }
            progress.update(step: step, metrics: metrics, imagesPerSecond: Double(config.batchSize) / seconds)

            let stopping = try schedule.agreeToStop(stop, communicator: comm)
            if schedule.checkpointDue(after: step, stopping: stopping) {
                try training.saveCheckpoint(step: step, epoch: sharding.position(step: step).epoch)
            }
            if schedule.evaluationDue(after: step, stopping: stopping) { try evaluate(step: step) }
            if stopping {
                training.interrupted(at: step, progress: progress)
                break
            }
        }
        return training.end(progress: progress)
    }
}

// MARK: - Bad batches and fault injection

/// A rank's batch holds NaN or Inf (bad data in its shard).
///
/// The rank checks its own slice before the step, so it aborts the job with one line naming itself
/// (WithCommunicator) before the gradient allreduce would spread the values to every rank.
struct BadBatchError: LocalizedError {
    let step: Int, what: String, sample: Int
    var errorDescription: String? {
        "step \(step): non-finite value in the \(what) of global sample \(sample) (bad data in this rank's shard); the last checkpoint is intact"
    }

    /// Throws for the first non-finite value of `t` [b, …], naming the global sample it belongs to.
    static func check(_ t: Tensor, what: String, step: Int, samples: [Int]) throws {
        let p = t.data, n = t.count
        for i in 0..<n where !p[i].isFinite {
            throw BadBatchError(step: step, what: what, sample: samples[i / (n / samples.count)])
        }
    }
}

/// Test-only fault injection for launch/test-mpi.sh: `CARVE_FAULT_INJECT=nan@rankR@stepS` fills
/// rank R's real patches (hoc) or images (fg) with NaN at step S, as if its shard held bad data.
/// Unset: no effect.
struct FaultInjection {
    let rank: Int, step: Int

    static func fromEnvironment() throws -> FaultInjection? {
        guard let spec = ProcessInfo.processInfo.environment["CARVE_FAULT_INJECT"], !spec.isEmpty else { return nil }
        let parts = spec.split(separator: "@")
        guard parts.count == 3, parts[0] == "nan", parts[1].hasPrefix("rank"), parts[2].hasPrefix("step"),
              let rank = Int(parts[1].dropFirst(4)), let step = Int(parts[2].dropFirst(4)) else {
            throw ConfigurationError("CARVE_FAULT_INJECT: expected nan@rankR@stepS (e.g. nan@rank1@step3), got '\(spec)'")
        }
        return FaultInjection(rank: rank, step: step)
    }
}

/// Writes one line to stderr (progress and messages go to stderr; stdout stays for results).
func printLine(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
