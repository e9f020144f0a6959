import Foundation
import Imaging
import Tensor

/// `carve ckpt eval` and `carve sample`: the same evaluation code the trainer's rank 0 runs.
public enum Evaluator {
    /// Evaluates `checkpoint` into `out`: `metrics.json` and a panel PNG (fg: also `per-image.csv`);
    /// returns metrics.json's URL. Dispatches on the checkpoint's application (hoc or fg).
    ///
    /// `metrics.json` keys: hoc `mask_area_mean`, `single_component_rate` and, when `dataPath` is
    /// a synth-hoc folder (objects-*.json), `single_object_rate` (`HocEvaluation`); fg `mean_iou`,
    /// `precision`, `recall` at threshold 0.5 plus `iou_by_threshold` and the teacher's numbers
    /// (`FgEvaluation`). `out` is created only once the checkpoint and data have loaded.
    /// - Parameters:
    ///   - url: the checkpoint (optimizer state optional, so merged checkpoints work).
    ///   - dataPath: hoc: images (default: the embedded photo); fg: a labelled folder (required).
    ///   - out: the output folder (created).
    ///
    /// ```swift
    /// let metrics = try Evaluator.evaluate(checkpoint: ckpt, dataPath: "synth-fg", out: URL(fileURLWithPath: "eval"))
    /// ```
    public static func evaluate(checkpoint url: URL, dataPath: String?, out: URL) throws -> URL {
        let checkpoint = try Checkpoint.load(from: url)
        if try CheckpointTools.configuration(of: checkpoint, file: url.path).application == "fg" {
            return try evaluateFg(checkpoint, file: url.path, dataPath: dataPath, out: out)
        }
        let gan = try CheckpointTools.hocModel(from: checkpoint, file: url.path)
        let config = gan.config
        let options = TrainOptions(runDirectory: out, dataPath: dataPath)
        let trainer = try Trainer(config: config, options: options, communicator: LocalCommunicator())
        let data = try trainer.loadHocData()  // before creating `out`, so bad data leaves nothing behind
        try createFolder(out)
        let evaluation = HocEvaluation(gan: gan, data: data, config: config, objectArea: trainer.groundTruthObjectArea())
        let (report, instances) = evaluation.measure(step: checkpoint.step)
        try evaluation.panel(instances: instances, step: checkpoint.step).write(path: out.appendingPathComponent("panel.png").path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let metrics = out.appendingPathComponent("metrics.json")
        try AtomicFile.write(try encoder.encode(report), to: metrics)
        return metrics
    }

    /// Writes `count` sampled instances (RGB), masks (grey) and carved instances, plus composites.
    ///
    /// Files in `out`: `instance-NNNN.png`, `mask-NNNN.png`, `carved-NNNN.png` (instance × mask)
    /// for each of the `count` samples and `composite-NNNN.png` for the first min(count, 8);
    /// the noise is a function of the run's seed and the checkpoint's step. Returns the number
    /// of files written.
    /// - Throws: the loader's error for a bad file; `ConfigurationError` for an fg checkpoint.
    public static func sample(checkpoint url: URL, count: Int, out: URL) throws -> Int {
        let checkpoint = try Checkpoint.load(from: url)
        let gan = try CheckpointTools.hocModel(from: checkpoint, file: url.path)
        try createFolder(out)
        gan.generator.train(false)
        let d = gan.config.zDim
        let z = Tensor(shape: [count, d]) { buffer in
            var rng = CounterRNG(seed: gan.config.seed, purpose: "sample-z", step: checkpoint.step)
            rng.fillNormal(buffer)
        }
        let instances = Autodiff.withoutRecording { gan.generator(z) }
        let s = gan.config.imageSize, hw = s * s
        var written = 0
        for i in 0..<count {
            let base = instances.data + i * 4 * hw
            let rgb = Image(channels: 3, height: s, width: s, pixels: Array(UnsafeBufferPointer(start: base, count: 3 * hw)))
            let mask = Image(channels: 1, height: s, width: s, pixels: Array(UnsafeBufferPointer(start: base + 3 * hw, count: hw)))
            var carved = rgb
            for c in 0..<3 { for j in 0..<hw { carved.pixels[c * hw + j] *= mask.pixels[j] } }
            let stem = String(format: "%04d", i)
            try rgb.write(path: out.appendingPathComponent("instance-\(stem).png").path)
            try mask.write(path: out.appendingPathComponent("mask-\(stem).png").path)
            try carved.write(path: out.appendingPathComponent("carved-\(stem).png").path)
            written += 3
        }
        // Composites of the learned instances over black, as the generator makes them.
        let b = min(count, 8)
        let composite = Autodiff.withoutRecording {
            gan.generate(background: Tensor(shape: [b, 3, s, s], repeating: 0), samples: Array(0..<b), step: checkpoint.step).composite
        }
        for i in 0..<b {
            let image = Image(channels: 3, height: s, width: s,
                              pixels: Array(UnsafeBufferPointer(start: composite.data + i * 3 * hw, count: 3 * hw)))
            try image.write(path: out.appendingPathComponent(String(format: "composite-%04d.png", i)).path)
            written += 1
        }
        return written
    }

    /// fg evaluation: teacher and (when distilled) student against the masks of `dataPath`
    /// (a synth-fg folder's heldout/, or any folder of images with masks/).
    static func evaluateFg(_ checkpoint: Checkpoint, file: String, dataPath: String?, out: URL) throws -> URL {
        let gan = try CheckpointTools.fgModel(from: checkpoint, file: file)
        guard let dataPath else { throw FgToolError.needsLabelledData(file: file) }
        let (data, description) = try FgTrainer.evaluationData(data: dataPath, size: gan.config.imageSize)
        // Without ground truth there is no mean_iou, precision or recall to report.
        guard data.hasMasks else {
            throw ConfigurationError("--data \(dataPath): no ground-truth masks (masks/ beside images/) in \(description); evaluating an fg checkpoint needs a labelled set, e.g. a synth-fg folder")
        }
        try createFolder(out)
        let evaluation = FgEvaluation(gan: gan, data: data, dataDescription: description)
        let result = evaluation.measure(step: checkpoint.step)
        let metrics = out.appendingPathComponent("metrics.json")
        try evaluation.write(result, json: metrics, csv: out.appendingPathComponent("per-image.csv"),
                             panel: out.appendingPathComponent("panel.png"))
        return metrics
    }

    /// `carve segment`: one mask PNG (same base name) in `out` per PNG in `images`, from the
    /// student when the checkpoint was distilled, else the teacher. Each image is resized to the
    /// model's input and its mask back to the image's size. Returns the number of masks written.
    ///
    /// - Throws: `FgToolError.noImages` for a folder without PNGs; `FgToolError.notFg` for a hoc
    ///   checkpoint; `ImageError` naming an unreadable image.
    public static func segment(checkpoint url: URL, images: String, out: URL) throws -> Int {
        let checkpoint = try Checkpoint.load(from: url)
        let gan = try CheckpointTools.fgModel(from: checkpoint, file: url.path)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: images)
                .filter { $0.lowercased().hasSuffix(".png") && !$0.hasPrefix(".") }.sorted()
        } catch {
            throw FgToolError.noImages(flag: "--images", path: images)
        }
        guard !names.isEmpty else { throw FgToolError.noImages(flag: "--images", path: images) }
        try createFolder(out)
        let network = gan.isDistilled(step: checkpoint.step) ? gan.student : gan.teacher
        let s = gan.config.imageSize, hw = s * s
        let chunk = 8
        for start in stride(from: 0, to: names.count, by: chunk) {
            let batch = Array(names[start..<min(start + chunk, names.count)])
            let originals = try batch.map { try Image.read(path: (images as NSString).appendingPathComponent($0)).rgb() }
            let input = Tensor(shape: [batch.count, 3, s, s]) { buffer in
                for (k, image) in originals.enumerated() {
                    image.resized(height: s, width: s).copy(into: buffer.baseAddress! + k * 3 * hw)
                }
            }
            let masks = FgGAN.masks(of: network, images: input)
            for (k, name) in batch.enumerated() {
                let mask = Image(channels: 1, height: s, width: s,
                                 pixels: Array(UnsafeBufferPointer(start: masks.data + k * hw, count: hw)))
                let stem = (name as NSString).deletingPathExtension
                try mask.resized(height: originals[k].height, width: originals[k].width)
                    .write(path: out.appendingPathComponent(stem + ".png").path)
            }
        }
        return names.count
    }

    static func createFolder(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.runDirectory(path: url.path, reason: "cannot create it (\(error.localizedDescription))")
        }
    }
}
