import Foundation
import Imaging
import Tensor

/// The hoc application's data and evaluation (Note [Application seam]): patches cut from one
/// image of a dense cluster (or a folder of them; the embedded coins photo by default), real
/// patches with a black disk as backgrounds, and `HocEvaluation` of sampled instances.
public struct HocApplication: Application {
    public typealias Model = HocGAN
    public static let name = "hoc"
    public static let imagesDescription = "real patches"

    public static func validate(_ config: Configuration) throws {
        guard config.imageSize == 64 else { throw ConfigurationError("hoc networks (Table 2) need image_size 64") }
    }

    let config: Configuration
    let data: HocDataset
    /// What rank 0 knows of the real objects (nil elsewhere, or without instance maps).
    let reference: HocEvaluation.Reference

    public init(config: Configuration, options: TrainOptions, isLeader: Bool) throws {
        self.config = config
        data = try Self.loadData(config: config, dataPath: options.dataPath)
        reference = isLeader ? try Self.reference(config: config, data: data, dataPath: options.dataPath) : HocEvaluation.Reference()
    }

    public var datasetSize: Int { data.count }

    public func batch(step: Int, indices: [Int], samples: [Int]) -> TrainingBatch {
        let b = indices.count, size = config.imageSize
        let real = Tensor(shape: [b, 3, size, size]) { data.fillPatches($0, indices: indices) }
        let background = Tensor(shape: [b, 3, size, size]) {
            data.fillBackgrounds($0, seed: config.seed, step: step, samples: samples)
        }
        return TrainingBatch(images: real, background: background, samples: samples)
    }

    public func evaluate(_ model: HocGAN, step: Int, run: RunFolder) throws -> EvaluationOutcome {
        let evaluation = HocEvaluation(gan: model, data: data, config: config, reference: reference)
        return try evaluation.measure(step: step).write(into: run, step: step)
    }

    public static func evaluate(_ model: HocGAN, step: Int, file: String, dataPath: String?, out: URL) throws -> URL {
        let config = model.config
        let data = try loadData(config: config, dataPath: dataPath)  // before creating `out`
        let reference = try Self.reference(config: config, data: data, dataPath: dataPath)
        try RunFolder.createFolder(out)
        let evaluation = HocEvaluation(gan: model, data: data, config: config, reference: reference)
        return try evaluation.measure(step: step).write(into: out)
    }

    // MARK: - Data

    /// The hoc patches the configuration asks for, from `dataPath` (an image or a folder of them) or
    /// the embedded photo.
    static func loadData(config: Configuration, dataPath: String?) throws -> HocDataset {
        let options = HocOptions(
            window: config.window > 0 ? config.window : nil, stride: config.patchStride > 0 ? config.patchStride : nil,
            patchSize: config.imageSize, horizontalFlips: config.flips, verticalFlips: config.flips)
        if let dataPath { return try HocDataset.load(path: dataPath, options: options) }
        return try HocDataset.embeddedDefault(options: options)
    }

    /// What the data says about its real objects: their median area in patch pixels (a synth-hoc
    /// folder's unoccluded areas, else the instance maps'), their outlines at patch scale, and the
    /// classical baseline's scores against the maps (`HocGroundTruth`).
    static func reference(config: Configuration, data: HocDataset, dataPath: String?) throws -> HocEvaluation.Reference {
        let truth = try HocGroundTruth.find(dataPath: dataPath)
        let scale = Double(config.imageSize) / Double(data.options.window ?? config.imageSize)
        return HocEvaluation.Reference(
            objectArea: groundTruthObjectArea(config: config, dataPath: dataPath) ?? truth?.medianArea(scale: scale),
            objects: truth?.objects(scale: scale), baseline: truth?.baseline())
    }

    /// The median full (unoccluded) area of a ground-truth object in patch pixels, when the data
    /// is a `carve data synth-hoc` folder (objects-*.json); nil otherwise.
    static func groundTruthObjectArea(config: Configuration, dataPath: String?) -> Double? {
        guard let path = dataPath, let info = try? SynthHocInfo.read(folder: path),
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

    // MARK: - Sampling

    /// `carve sample`: `count` sampled instances (RGB), masks (grey) and carved instances, plus
    /// composites, written into `out` (created).
    ///
    /// Files: `instance-NNNN.png`, `mask-NNNN.png`, `carved-NNNN.png` (instance × mask) for each of
    /// the `count` samples and `composite-NNNN.png` for the first min(count, 8); the noise is a
    /// function of the run's seed and `step`. Returns the number of files written.
    static func sample(_ gan: HocGAN, step: Int, count: Int, out: URL) throws -> Int {
        try RunFolder.createFolder(out)
        gan.generator.train(false)
        let d = gan.config.zDim
        let z = Tensor(shape: [count, d]) { buffer in
            var rng = CounterRNG(seed: gan.config.seed, purpose: "sample-z", step: step)
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
            gan.generate(background: Tensor(shape: [b, 3, s, s], repeating: 0), samples: Array(0..<b), step: step).composite
        }
        for i in 0..<b {
            let image = Image(channels: 3, height: s, width: s,
                              pixels: Array(UnsafeBufferPointer(start: composite.data + i * 3 * hw, count: 3 * hw)))
            try image.write(path: out.appendingPathComponent(String(format: "composite-%04d.png", i)).path)
            written += 1
        }
        return written
    }
}
