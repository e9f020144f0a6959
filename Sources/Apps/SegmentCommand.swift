import ArgumentParser
import Carve
import Foundation

/// `carve segment`: foreground masks for a folder of images from an fg checkpoint.
struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Segment images: fg masks, or hoc instances (label map, overlay, CSV).",
        discussion: """
            hoc checkpoint (trained with distill_steps > 0, e.g. --preset real-hoc): the instances \
            of each image (--images: a folder or one image, any size) by the distilled segmenter, \
            in overlapping windows at the run's window scale, stitched: NAME_labels.png (16-bit \
            ids), NAME-overlay.png (outlines), NAME.csv (id, area, centroid, bounding box) and \
            counts.csv. fg checkpoint: uses the distilled student when the checkpoint has one (trained past the adversarial \
            steps), else the teacher. Images of any size are resized to the model's input and each \
            mask is resized back to its image's size; masks keep the image's base name. Masks are \
            soft (grey levels = probability) unless --threshold T makes them 0/255; --overlay also \
            writes NAME-overlay.png, the image with the background dimmed and tinted blue.
            """)
    @Argument(help: "The fg or hoc checkpoint.") var checkpoint: String
    @Option(help: "A folder of PNG or JPEG images (hoc: or one image).") var images: String
    @Option(help: "The output folder for the masks.") var out: String
    @Option(help: "Write 0/255 masks: foreground where the soft mask is at least T (in (0, 1)).") var threshold: Double?
    @Flag(help: "Also write NAME-overlay.png (the image, background dimmed) beside each mask.") var overlay = false
    @Option(help: "hoc: source pixels per training patch (default: the run's window).") var window: Int?
    @Option(help: "fg: the masks' last step, none, colour or grabcut (default: the checkpoint's refine).") var refine: String?

    func validate() throws {
        if let threshold, !(threshold > 0 && threshold < 1) { throw ValidationError("--threshold must be in (0, 1), got \(threshold)") }
        if let window, window < 1 { throw ValidationError("--window must be at least 1, got \(window)") }
        guard FileManager.default.fileExists(atPath: images) else {
            throw ValidationError("--images \(images): no such file or directory")
        }
    }

    func run() throws {
        try reportingErrors {
            let n = try Evaluator.segment(checkpoint: URL(fileURLWithPath: checkpoint), images: images,
                                          out: URL(fileURLWithPath: out), threshold: threshold.map(Float.init), overlay: overlay,
                                          window: window, refine: refine)
            print("carve: segmented \(n) image\(n == 1 ? "" : "s") into \(out)")
        }
    }
}
