import Foundation
import Imaging
import Tensor

/// The fg application's data and evaluation (Note [Application seam]): box-cropped images of one
/// category, patches of a background pool, and `FgEvaluation` of the teacher's (and, once
/// distilled, the student's) masks against ground truth.
///
/// Data: `--data` is a `carve data synth-fg` or `carve data boxes` folder (its `train/`,
/// `heldout/` and `backgrounds/` are used) or any fg folder (CUB, boxes.csv or pre-cropped PNG/JPEG images);
/// `--backgrounds` names the background pool (default DATA/backgrounds). Rank 0 evaluates on
/// DATA/heldout (or the training images when there is none).
public struct FgApplication: Application {
    public typealias Model = FgGAN
    public static let name = "fg"
    public static let imagesDescription = "images"

    public static func validate(_ config: Configuration) throws {
        guard config.imageSize % 64 == 0 else { throw ConfigurationError("fg networks (Table 1) need image_size a multiple of 64") }
    }

    let config: Configuration
    let data: FgDataset
    let pool: BackgroundPool
    /// Rank 0's labelled evaluation set, how to name it, and GrabCut's score on it (computed
    /// once: it depends on the crops alone).
    let evaluationSet: (data: FgDataset, description: String, grabcutIoU: Double?)?

    public init(config: Configuration, options: TrainOptions, isLeader: Bool) throws {
        guard let dataPath = options.dataPath else {
            throw ConfigurationError("--data: preset \(config.preset) (fg) needs a dataset folder, e.g. one made by `carve data synth-fg --out DIR`")
        }
        self.config = config
        let size = config.imageSize
        let backgrounds = try Self.backgroundFolder(data: dataPath, backgrounds: options.backgroundsPath)
        data = try FgDataset.load(folder: Self.trainingFolder(data: dataPath), size: size, margin: config.boxMargin)
        pool = try BackgroundPool.load(folder: backgrounds, size: size)
        if isLeader {
            let (labelled, description) = try Self.evaluationData(data: dataPath, size: size, margin: config.boxMargin)
            evaluationSet = (labelled, description, FgEvaluation.grabcutIoU(data: labelled, margin: config.boxMargin))
        } else {
            evaluationSet = nil
        }
    }

    /// A new run on crops cut with a ring of context (`carve data boxes --margin m`, recorded in
    /// DATA/crops.json) gets `box_margin` m (Note [Box in its surroundings]): the user need not
    /// know it. A different non-zero `box_margin` is an error, as the window would not be the box.
    /// - Throws: `ConfigurationError` on that conflict; `DatasetError` naming an unreadable record.
    public static func prepare(_ config: Configuration, dataPath: String?) throws -> Configuration {
        guard let dataPath, let margin = try BoxCrops.margin(ofCropsIn: dataPath) else { return config }
        guard config.boxMargin == 0 || config.boxMargin == margin else {
            throw ConfigurationError("box_margin \(config.boxMargin): \(dataPath) was cut with margin \(margin) (\(BoxCrops.recordName)); leave box_margin unset")
        }
        var out = config
        out.boxMargin = margin
        return out
    }

    /// Crops cut with a recorded margin other than the checkpoint's `box_margin` would put its
    /// window off the box (`carve ckpt eval`): one error naming both.
    static func checkMargin(_ boxMargin: Double, file: String, dataPath: String) throws {
        guard let recorded = try BoxCrops.margin(ofCropsIn: dataPath), recorded != boxMargin else { return }
        throw ConfigurationError("--data \(dataPath) was cut with margin \(recorded) (\(BoxCrops.recordName)) but \(file) was trained with box_margin \(boxMargin); evaluate it on crops cut as it was trained")
    }

    public var datasetSize: Int { data.count }

    public func batch(step: Int, indices: [Int], samples: [Int]) -> TrainingBatch {
        let b = indices.count, size = config.imageSize
        let images = Tensor(shape: [b, 3, size, size]) { data.fillImages($0, indices: indices) }
        let background = Tensor(shape: [b, 3, size, size]) { pool.fill($0, seed: config.seed, step: step, samples: samples) }
        return TrainingBatch(images: images, background: background, samples: samples)
    }

    public func evaluate(_ model: FgGAN, step: Int, run: RunFolder) throws -> EvaluationOutcome {
        guard let evaluationSet else { throw ConfigurationError("fg evaluation: no evaluation set on this rank") }
        let evaluation = FgEvaluation(gan: model, data: evaluationSet.data, dataDescription: evaluationSet.description,
                                      grabcutIoU: evaluationSet.grabcutIoU)
        return try evaluation.measure(step: step).write(into: run, step: step)
    }

    public static func evaluate(_ model: FgGAN, step: Int, file: String, dataPath: String?, out: URL) throws -> URL {
        guard let dataPath else { throw FgToolError.needsLabelledData(file: file) }
        try checkMargin(model.config.boxMargin, file: file, dataPath: dataPath)
        let (data, description) = try evaluationData(data: dataPath, size: model.config.imageSize, margin: model.config.boxMargin)
        // Without ground truth there is no mean_iou, precision or recall to report.
        guard data.hasMasks else {
            throw ConfigurationError("--data \(dataPath): no ground-truth masks (masks/ beside images/) in \(description); evaluating an fg checkpoint needs a labelled set, e.g. a synth-fg folder")
        }
        try RunFolder.createFolder(out)
        return try FgEvaluation(gan: model, data: data, dataDescription: description).measure(step: step).write(into: out)
    }

    // MARK: - Data

    /// The training images: DATA/train when it exists, else DATA itself.
    static func trainingFolder(data: String) -> String {
        let train = (data as NSString).appendingPathComponent("train")
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: train, isDirectory: &isDirectory) && isDirectory.boolValue ? train : data
    }

    /// The labelled evaluation set of `data`: DATA/heldout when it exists (or DATA itself when it
    /// is a folder of images with masks/), else the training images.
    static func evaluationData(data: String, size: Int, margin: Double = 0) throws -> (data: FgDataset, description: String) {
        let heldout = (data as NSString).appendingPathComponent("heldout")
        if FileManager.default.fileExists(atPath: heldout) { return (try FgDataset.load(folder: heldout, size: size, margin: margin), heldout) }
        let train = trainingFolder(data: data)
        return (try FgDataset.load(folder: train, size: size, margin: margin), train == data ? data : train + " (training images: no heldout/)")
    }

    /// The background pool folder: `--backgrounds`, else DATA/backgrounds.
    static func backgroundFolder(data: String, backgrounds: String?) throws -> String {
        if let backgrounds { return backgrounds }
        let pool = (data as NSString).appendingPathComponent("backgrounds")
        guard FileManager.default.fileExists(atPath: pool) else { throw FgToolError.noBackgrounds(data: data) }
        return pool
    }

    // MARK: - Segmentation

    /// The image with its background dimmed and tinted blue (`FgEvaluation.tint`), as the
    /// evaluation panels show it (image RGB, mask one channel of the same size).
    static func overlay(_ image: Image, mask: Image) -> Image {
        let hw = image.height * image.width
        var out = image
        for c in 0..<3 {
            for i in 0..<hw { out.pixels[c * hw + i] = FgEvaluation.tint(image.pixels[c * hw + i], mask: mask.pixels[i], channel: c) }
        }
        return out
    }

    /// `carve segment`: one mask PNG (same base name) in `out` per PNG or JPEG in `images`, from the
    /// student when the model was distilled at `step`, else the teacher (refined as the model's
    /// `refine` says, `FgGAN.outputMasks`, at the model's input size). Each image is resized to
    /// the model's input and its mask back to the image's size. Returns the number of masks written.
    ///
    /// - Throws: `FgToolError.noImages` for a folder without images; `ImageError` naming an
    ///   unreadable image.
    static func segment(_ gan: FgGAN, step: Int, images: String, out: URL, threshold: Float? = nil,
                        overlay: Bool = false) throws -> Int {
        let names: [String]
        do {
            names = try Image.imageNames(inFolder: images)
        } catch {
            throw FgToolError.noImages(flag: "--images", path: images)
        }
        guard !names.isEmpty else { throw FgToolError.noImages(flag: "--images", path: images) }
        let existed = FileManager.default.fileExists(atPath: out.path)
        try RunFolder.createFolder(out)
        var written = false
        defer {
            // A failure before the first mask (an unreadable image) leaves no empty folder behind.
            if !written && !existed { try? FileManager.default.removeItem(at: out) }
        }
        let network = gan.isDistilled(step: step) ? gan.student : gan.teacher
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
            let masks = gan.outputMasks(of: network, images: input)
            for (k, name) in batch.enumerated() {
                let soft = Image(channels: 1, height: s, width: s,
                                 pixels: Array(UnsafeBufferPointer(start: masks.data + k * hw, count: hw)))
                var mask = soft.resized(height: originals[k].height, width: originals[k].width)
                if let threshold { mask.pixels = mask.pixels.map { $0 >= threshold ? 1 : 0 } }
                let stem = (name as NSString).deletingPathExtension
                try mask.write(path: out.appendingPathComponent(stem + ".png").path)
                written = true
                if overlay {
                    try Self.overlay(originals[k], mask: mask).write(path: out.appendingPathComponent(stem + "-overlay.png").path)
                }
            }
        }
        return names.count
    }
}
