import Foundation
import Imaging
import Tensor

/// `carve ckpt eval`, `carve sample` and `carve segment`: checkpoints in, files out, with the same
/// evaluation code the trainer's rank 0 runs. No trainer is involved: each application loads its
/// own data (Note [Application seam]).
public enum Evaluator {
    /// Evaluates `checkpoint` into `out`: `metrics.json` and a panel PNG (fg: also `per-image.csv`);
    /// returns metrics.json's URL. The checkpoint's configuration picks the application.
    ///
    /// `metrics.json` keys: hoc `mask_area_mean`, `single_component_rate` and, when `dataPath` is
    /// a synth-hoc folder (objects-*.json), `single_object_rate` (`HocEvaluation`); fg `mean_iou`,
    /// `precision`, `recall` at threshold 0.5 plus `iou_by_threshold`, the teacher's numbers and
    /// the box and ellipse baselines (`FgEvaluation`). `out` is created only once the checkpoint
    /// and data have loaded.
    /// - Parameters:
    ///   - url: the checkpoint (optimizer state optional, so merged checkpoints work).
    ///   - dataPath: hoc: images (default: the embedded photo); fg: a labelled folder (required).
    ///   - out: the output folder (created).
    ///
    /// ```swift
    /// let metrics = try Evaluator.evaluate(checkpoint: ckpt, dataPath: "synth-fg", out: URL(fileURLWithPath: "eval"))
    /// ```
    ///   - refine: fg: "none", "colour" or "grabcut" instead of the checkpoint's `refine` (nil: its own).
    public static func evaluate(checkpoint url: URL, dataPath: String?, out: URL, refine: String? = nil) throws -> URL {
        let checkpoint = try Checkpoint.load(from: url)
        let application = try Applications.named(try CheckpointTools.configuration(of: checkpoint, file: url.path).application)
        return try evaluate(application, checkpoint, file: url.path, dataPath: dataPath, out: out, refine: refine)
    }

    /// The configuration change of `--refine` (validated, so hoc refuses it by name).
    static func refining(_ refine: String?) -> (inout Configuration) throws -> Void {
        { config in
            guard let refine else { return }
            config.refine = refine
            try config.validate()
        }
    }

    private static func evaluate<A: Application>(_ application: A.Type, _ checkpoint: Checkpoint, file: String,
                                                 dataPath: String?, out: URL, refine: String?) throws -> URL {
        let model = try CheckpointTools.model(of: A.self, from: checkpoint, file: file, adjusting: refining(refine))
        return try A.evaluate(model, step: checkpoint.step, file: file, dataPath: dataPath, out: out)
    }

    /// `carve sample` (hoc): `count` sampled instances, masks, carved instances and composites in
    /// `out` (see `HocApplication.sample`); returns the number of files written.
    /// - Throws: the loader's error for a bad file; `ConfigurationError` for an fg checkpoint.
    public static func sample(checkpoint url: URL, count: Int, out: URL) throws -> Int {
        let checkpoint = try Checkpoint.load(from: url)
        let gan = try CheckpointTools.model(of: HocApplication.self, from: checkpoint, file: url.path)
        return try HocApplication.sample(gan, step: checkpoint.step, count: count, out: out)
    }

    /// `carve segment`: fg, one mask PNG per PNG or JPEG in `images`, written into `out` (see
    /// `FgApplication.segment`); hoc, the instances of each image by the distilled segmenter
    /// (label map, overlay, CSV; `HocApplication.segment`). Returns the number of images.
    /// - Throws: `FgToolError.noImages` for a folder without images; `HocToolError` for a hoc
    ///   checkpoint without a segmenter; `ImageError` naming an unreadable image.
    /// - Parameters:
    ///   - threshold: write 0/1 masks (foreground where ≥ threshold) instead of soft ones.
    ///   - overlay: also write `NAME-overlay.png`, the image with its background dimmed (fg).
    ///   - window: hoc: source pixels per patch (default: the run's).
    ///   - refine: fg: "none", "colour" or "grabcut" instead of the checkpoint's `refine`.
    public static func segment(checkpoint url: URL, images: String, out: URL, threshold: Float? = nil,
                               overlay: Bool = false, window: Int? = nil, refine: String? = nil) throws -> Int {
        let checkpoint = try Checkpoint.load(from: url)
        if try CheckpointTools.configuration(of: checkpoint, file: url.path).application == HocApplication.name {
            // --refine colour is refused by name (hoc decodes its instances itself).
            let gan = try CheckpointTools.model(of: HocApplication.self, from: checkpoint, file: url.path, adjusting: refining(refine))
            return try HocApplication.segment(gan, step: checkpoint.step, file: url.path, images: images, out: out, window: window)
        }
        let gan = try CheckpointTools.model(of: FgApplication.self, from: checkpoint, file: url.path, adjusting: refining(refine))
        return try FgApplication.segment(gan, step: checkpoint.step, images: images, out: out, threshold: threshold,
                                         overlay: overlay)
    }
}
