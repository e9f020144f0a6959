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
        guard config.refine == "none" else {
            throw ConfigurationError("refine refines an fg mask by its image's colours; hoc decodes its instances itself (set refine=none)")
        }
        guard config.maskTvContrast == 0 else {
            throw ConfigurationError("mask_tv_contrast weighs a mask by the edges of the image it was cut from: fg only (hoc masks are drawn from noise)")
        }
    }

    let config: Configuration
    let data: HocDataset
    /// What rank 0 knows of the real objects (nil elsewhere, or without instance maps).
    let reference: HocEvaluation.Reference
    /// The object-free backgrounds of the distillation steps (empty without distillation).
    let plates: [HocDataset.Plate]

    public init(config: Configuration, options: TrainOptions, isLeader: Bool) throws {
        self.config = config
        data = try Self.loadData(config: config, dataPath: options.dataPath)
        reference = isLeader ? try Self.reference(config: config, data: data, dataPath: options.dataPath) : HocEvaluation.Reference()
        plates = config.distillSteps > 0 ? data.plates() : []
    }

    public var datasetSize: Int { data.count }

    /// Adversarial steps: real patches and, as backgrounds, real patches with a black disk.
    /// Distillation steps (Note [hoc distillation]): object-free plates of the cluster's
    /// background colour as backgrounds.
    public func batch(step: Int, indices: [Int], samples: [Int]) -> TrainingBatch {
        let b = indices.count, size = config.imageSize
        let real = Tensor(shape: [b, 3, size, size]) { data.fillPatches($0, indices: indices) }
        var used: [HocDataset.Plate] = []
        let background = Tensor(shape: [b, 3, size, size]) {
            if step >= config.steps && !plates.isEmpty {
                used = data.fillPlates($0, plates: plates, seed: config.seed, step: step, samples: samples)
            } else {
                data.fillBackgrounds($0, seed: config.seed, step: step, samples: samples)
            }
        }
        return TrainingBatch(images: real, background: background, samples: samples, plates: used)
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
            patchSize: config.imageSize, horizontalFlips: config.flips, verticalFlips: config.flips,
            objectWindows: config.objectWindows)
        if let dataPath { return try HocDataset.load(path: dataPath, options: options) }
        return try HocDataset.embeddedDefault(options: options)
    }

    /// What the data says about its real objects: their median area in patch pixels (a synth-hoc
    /// folder's unoccluded areas, else the instance maps'), their outlines at patch scale, and the
    /// classical baseline's scores against the maps (`HocGroundTruth`).
    static func reference(config: Configuration, data: HocDataset, dataPath: String?) throws -> HocEvaluation.Reference {
        let truth = try HocGroundTruth.find(dataPath: dataPath)
        let scale = Double(config.imageSize) / Double(data.options.window ?? config.imageSize)
        let objects = truth?.objects(scale: scale)
        return HocEvaluation.Reference(
            objectArea: groundTruthObjectArea(config: config, dataPath: dataPath) ?? truth?.medianArea(scale: scale),
            objects: objects, realShape: objects.flatMap { ShapeMatching.realReference($0) },
            baseline: truth?.baseline(), truth: truth, window: data.options.window ?? config.imageSize)
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
    /// function of the run's seed and `step`; each instance is turned as the layout turns its
    /// provider's (`HocGAN.sampledInstances`). Returns the number of files written.
    static func sample(_ gan: HocGAN, step: Int, count: Int, out: URL) throws -> Int {
        try RunFolder.createFolder(out)
        let d = gan.config.zDim
        let z = Tensor(shape: [count, d]) { buffer in
            var rng = CounterRNG(seed: gan.config.seed, purpose: "sample-z", step: step)
            rng.fillNormal(buffer)
        }
        let instances = gan.sampledInstances(z: z, step: step)
        gan.generator.train(false)  // the composites below, too, in eval mode
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

    // MARK: - Segmenting images

    /// `carve segment` of a hoc checkpoint: the instances of every image in `images` (a folder,
    /// or one image file) by the distilled segmenter (`HocSegmentation`), written into `out`:
    /// `NAME_labels.png` (16-bit ids, 0 = background), `NAME-overlay.png` (outlines),
    /// `NAME.csv` (one row per instance: id, area, centroid, bounding box) and `counts.csv`
    /// (image, count). Returns the number of images.
    ///
    /// - Parameter window: source pixels per patch; nil takes the run's `window` (recorded by
    ///   `auto_scale` or `--set window=W`; a run that left it to the data needs it given).
    /// - Throws: `HocToolError` for a checkpoint without a trained segmenter or an unknown
    ///   window; `FgToolError.noImages`; `ImageError` naming an unreadable image.
    static func segment(_ gan: HocGAN, step: Int, file: String, images: String, out: URL, window: Int?) throws -> Int {
        guard gan.isDistilled(step: step), let segmenter = gan.segmenter else {
            throw HocToolError.notDistilled(file: file, steps: gan.config.steps)
        }
        let config = gan.config
        guard let window = window ?? (config.window > 0 ? config.window : nil) else { throw HocToolError.unknownWindow(file: file) }
        let paths = try segmentationInputs(images)
        let existed = FileManager.default.fileExists(atPath: out.path)
        try RunFolder.createFolder(out)
        var written = false
        defer { if !written && !existed { try? FileManager.default.removeItem(at: out) } }
        var counts = "image,count\n"
        for path in paths {
            let image = try Image.read(path: path)
            let labels = HocSegmentation.instances(of: image, segmenter: segmenter, config: config, window: window)
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            try labels.write(path: out.appendingPathComponent(stem + "_labels.png").path)
            written = true
            try labels.outlined(on: image).write(path: out.appendingPathComponent(stem + "-overlay.png").path)
            let found = labels.instances()
            let table = ([InstanceRecord.csvHeader] + found.map(\.csvRow)).joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(table.utf8), to: out.appendingPathComponent(stem + ".csv"))
            counts += "\((path as NSString).lastPathComponent),\(found.count)\n"
        }
        try AtomicFile.write(Data(counts.utf8), to: out.appendingPathComponent("counts.csv"))
        return paths.count
    }

    /// The images `carve segment` reads: `path` itself when it is a file, else the folder's
    /// images as training picks them (`HocDataset.imageNames(inHocFolder:)`: no instance maps or
    /// masks), without Carve's own outputs (`*_labels`, `*-overlay`).
    static func segmentationInputs(_ path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FgToolError.noImages(flag: "--images", path: path)
        }
        guard isDirectory.boolValue else { return [path] }
        let names = ((try? HocDataset.imageNames(inHocFolder: path)) ?? []).filter { name in
            let stem = (name as NSString).deletingPathExtension
            return !stem.hasSuffix("_labels") && !stem.hasSuffix("-overlay")
        }
        guard !names.isEmpty else { throw FgToolError.noImages(flag: "--images", path: path) }
        return names.map { (path as NSString).appendingPathComponent($0) }
    }
}

/// Refusals of the hoc checkpoint tools, one line each.
public enum HocToolError: LocalizedError, Equatable {
    /// `carve segment` of a checkpoint from before (or without) the distillation phase.
    case notDistilled(file: String, steps: Int)
    /// The run chose its window from its data, which the checkpoint does not record.
    case unknownWindow(file: String)

    public var errorDescription: String? {
        switch self {
        case let .notDistilled(file, steps):
            return "\(file) has no trained instance segmenter: its run distils one after step \(steps) only with distill_steps > 0 (e.g. --preset real-hoc)"
        case let .unknownWindow(file):
            return "\(file): the run took its window from its data; pass --window W (source pixels per patch)"
        }
    }
}

// MARK: - Scale from the data

extension HocApplication {
    /// `auto_scale` (Note [hoc scale]): a new run with `window` 0 gets the window, area target and
    /// mask envelope its image's objects call for, object-centred windows on a sparse image, and
    /// `distill_blur` 32 (at least) where some of its images are out of focus against the rest.
    /// - Throws: `ImageError` or `DatasetError` naming an unreadable image.
    public static func prepare(_ config: Configuration, dataPath: String?) throws -> Configuration {
        guard config.autoScale && config.window == 0 else { return config }
        let images = try dataPath.map { try HocScale.images(at: $0) } ?? [HocDataset.embeddedImage().image]
        guard let scale = HocScale(images: images, patchSize: config.imageSize) else { return config }
        var out = config
        out.window = scale.window
        out.areaTarget = scale.areaTarget
        out.maskEnvelope = scale.envelope
        if scale.isSparse { out.objectWindows = true }
        if scale.hasOutOfFocusImages { out.distillBlur = max(out.distillBlur, 32) }
        return out
    }
}
