import Foundation
import Imaging
import Tensor

/// `carve ckpt eval` and `carve sample`: the same evaluation code the trainer's rank 0 runs.
public enum Evaluator {
    /// Evaluates `checkpoint` into `out`: `metrics.json` and a panel PNG; returns metrics.json's URL.
    public static func evaluate(checkpoint url: URL, dataPath: String?, out: URL) throws -> URL {
        let checkpoint = try Checkpoint.load(from: url)
        let gan = try CheckpointTools.hocModel(from: checkpoint, file: url.path)
        let config = gan.config
        try createFolder(out)
        let options = TrainOptions(runDirectory: out, dataPath: dataPath)
        let trainer = try Trainer(config: config, options: options, communicator: LocalCommunicator())
        let data = try trainer.loadHocData()
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

    static func createFolder(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.runDirectory(path: url.path, reason: "cannot create it (\(error.localizedDescription))")
        }
    }
}
