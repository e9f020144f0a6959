import DDP
import Foundation
import Imaging
import Tensor

/// `carve train` for the fg application on one rank of W (W = 1 without mpirun): `config.steps`
/// adversarial steps (`FgGAN.trainStep`) then `config.distillSteps` distillation steps
/// (`FgGAN.distillStep`), numbered on one global step counter.
///
/// Data: `--data` is a `carve data synth-fg` folder (its `train/`, `heldout/` and
/// `backgrounds/` are used) or any fg folder (CUB, boxes.csv or pre-cropped PNGs);
/// `--backgrounds` names the background pool (default DATA/backgrounds). Rank 0 alone prints
/// progress, appends metrics.jsonl, writes checkpoints (`G/` teacher, `D/`, `S/` student,
/// `opt/…`) and evaluates on DATA/heldout (or the training images when there is none).
struct FgTrainer {
    let config: Configuration
    let options: TrainOptions
    let communicator: any Communicator

    var isLeader: Bool { communicator.rank == 0 }

    // MARK: - Data

    /// The training images: DATA/train when it exists, else DATA itself.
    static func trainingFolder(data: String) -> String {
        let train = (data as NSString).appendingPathComponent("train")
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: train, isDirectory: &isDirectory) && isDirectory.boolValue ? train : data
    }

    /// The labelled evaluation set of `data`: DATA/heldout when it exists (or DATA itself when it
    /// is a folder of images with masks/), else the training images.
    static func evaluationData(data: String, size: Int) throws -> (data: FgDataset, description: String) {
        let fm = FileManager.default
        let heldout = (data as NSString).appendingPathComponent("heldout")
        if fm.fileExists(atPath: heldout) { return (try FgDataset.load(folder: heldout, size: size), heldout) }
        let train = trainingFolder(data: data)
        return (try FgDataset.load(folder: train, size: size), train == data ? data : train + " (training images: no heldout/)")
    }

    /// The background pool folder: `--backgrounds`, else DATA/backgrounds.
    static func backgroundFolder(data: String, backgrounds: String?) throws -> String {
        if let backgrounds { return backgrounds }
        let pool = (data as NSString).appendingPathComponent("backgrounds")
        guard FileManager.default.fileExists(atPath: pool) else { throw FgToolError.noBackgrounds(data: data) }
        return pool
    }

    // MARK: - Training

    func train() throws -> RunSummary {
        guard let dataPath = options.dataPath else {
            throw ConfigurationError("--data: preset \(config.preset) (fg) needs a dataset folder, e.g. one made by `carve data synth-fg --out DIR`")
        }
        // Data first, so a bad flag leaves no run folder behind.
        let size = config.imageSize
        let backgrounds = try Self.backgroundFolder(data: dataPath, backgrounds: options.backgroundsPath)
        let data = try FgDataset.load(folder: Self.trainingFolder(data: dataPath), size: size)
        let pool = try BackgroundPool.load(folder: backgrounds, size: size)
        guard data.count >= config.batchSize else {
            throw TrainingError.dataTooSmall(count: data.count, batch: config.batchSize)
        }
        let evaluationSet = isLeader ? try Self.evaluationData(data: dataPath, size: size) : nil
        let run = RunFolder(url: options.runDirectory)
        if isLeader {
            try run.create()
            try run.writeConfig(config, worldSize: communicator.worldSize)
        }
        let sharding = try Sharding(datasetSize: data.count, globalBatch: config.batchSize,
                                    worldSize: communicator.worldSize, seed: config.seed)
        let training = try TrainingRun(communicator: communicator, config: config, options: options, folder: run)
        defer { training.close() }
        let comm = training.comm, fault = training.fault

        let gan = FgGAN(config: config, communicator: comm)
        try gan.synchronizeReplicas()
        let firstStep = try training.resume(ModelState(networks: gan.networks, optimizers: gan.optimizers))

        let total = config.steps + config.distillSteps
        let stop = StopSignal.install()
        let progress = Progress(total: total, first: firstStep,
                                bar: options.progressBar ?? (isatty(2) != 0), enabled: isLeader && !options.quiet)
        let b = sharding.localBatch

        func evaluate(step: Int) throws {
            guard isLeader, let evaluationSet else { return }
            let evaluation = FgEvaluation(gan: gan, data: evaluationSet.data, dataDescription: evaluationSet.description)
            let (url, report) = try evaluation.run(step: step, samplesDirectory: run.samples, evalDirectory: run.eval)
            training.setLastEvaluation(url)
            if !options.quiet, let iou = report.meanIoU {
                progress.finish()
                var line = String(format: "carve: step %d eval: %@ mean IoU %.3f", step, report.model, iou)
                if report.distilled, let t = report.teacherMeanIoU { line += String(format: " (teacher %.3f)", t) }
                printLine(line)
            }
        }

        let schedule = StepSchedule(config: config, total: total)
        var step = firstStep
        while step < total {
            let started = DispatchTime.now().uptimeNanoseconds
            let commAtStart = comm.seconds
            let indices = sharding.localIndices(step: step, rank: communicator.rank)
            let samples = sharding.localSampleNumbers(step: step, rank: communicator.rank)
            let images = Tensor(shape: [b, 3, size, size]) { data.fillImages($0, indices: indices) }
            if let fault, fault.rank == communicator.rank, fault.step == step { images.data.update(repeating: .nan, count: images.count) }
            try BadBatchError.check(images, what: "images", step: step, samples: samples)
            let background = Tensor(shape: [b, 3, size, size]) {
                pool.fill($0, seed: config.seed, step: step, samples: samples)
            }
            try BadBatchError.check(background, what: "background patches", step: step, samples: samples)
            let batch = FgGAN.Batch(images: images, background: background, samples: samples)
            var record: [String: Any]
            let line: String
            if step < config.steps {
                let m = try gan.trainStep(batch, step: step)
                record = ["phase": "adversarial", "loss_d": m.lossD, "loss_g": m.lossG, "area": m.area,
                          "d_real": m.dReal, "d_fake": m.dFake, "mask_area": m.maskArea, "real_sign": m.realSign]
                if gan.augmentation != nil { record["augment_p"] = m.augmentP }
                line = String(format: "loss_d %.3f loss_g %.3f area %.3f D(x) %.2f D(G) %.2f",
                              m.lossD, m.lossG, m.maskArea, m.dReal, m.dFake)
            } else {
                let m = try gan.distillStep(batch, step: step)
                record = ["phase": "distill", "loss_distill": m.loss, "teacher_area": m.teacherArea,
                          "student_area": m.studentArea]
                line = String(format: "distill smooth_l1 %.4f area teacher %.3f student %.3f",
                              m.loss, m.teacherArea, m.studentArea)
            }
            step += 1
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            training.finished(step: step, seconds: seconds)

            if isLeader && (step % config.logEvery == 0 || step == total) {
                record["step"] = step
                record["step_seconds"] = seconds
                record["images_per_second"] = Double(config.batchSize) / seconds
                record["world_size"] = communicator.worldSize
                record["time"] = Date().timeIntervalSince1970
                try run.appendMetrics(record.merging(comm.metrics(since: commAtStart)) { a, _ in a })
            }
            progress.update(step: step, imagesPerSecond: Double(config.batchSize) / seconds, line: line)

            let stopping = try schedule.agreeToStop(stop, communicator: comm)
            let phaseEnd = step == config.steps && config.distillSteps > 0
            if schedule.checkpointDue(after: step, stopping: stopping) {
                try training.saveCheckpoint(step: step, epoch: sharding.position(step: step).epoch)
            }
            if schedule.evaluationDue(after: step, stopping: stopping, extra: phaseEnd) { try evaluate(step: step) }
            if stopping {
                training.interrupted(at: step, progress: progress)
                break
            }
        }
        return training.end(progress: progress)
    }
}
