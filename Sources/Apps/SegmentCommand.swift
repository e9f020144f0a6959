import ArgumentParser
import Carve
import Foundation

/// `carve segment`: foreground masks for a folder of images from an fg checkpoint.
struct SegmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Write one foreground mask PNG per input image using an fg checkpoint.",
        discussion: """
            Uses the distilled student when the checkpoint has one (trained past the adversarial \
            steps), else the teacher. Images of any size are resized to the model's input and each \
            mask is resized back to its image's size; masks keep the image's base name. Masks are \
            soft (grey levels = probability) unless --threshold T makes them 0/255; --overlay also \
            writes NAME-overlay.png, the image with the background dimmed and tinted blue.
            """)
    @Argument(help: "The fg checkpoint.") var checkpoint: String
    @Option(help: "A folder of PNG or JPEG images.") var images: String
    @Option(help: "The output folder for the masks.") var out: String
    @Option(help: "Write 0/255 masks: foreground where the soft mask is at least T (in (0, 1)).") var threshold: Double?
    @Flag(help: "Also write NAME-overlay.png (the image, background dimmed) beside each mask.") var overlay = false

    func validate() throws {
        if let threshold, !(threshold > 0 && threshold < 1) { throw ValidationError("--threshold must be in (0, 1), got \(threshold)") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: images, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--images \(images): no such directory")
        }
    }

    func run() throws {
        try reportingErrors {
            let n = try Evaluator.segment(checkpoint: URL(fileURLWithPath: checkpoint), images: images,
                                          out: URL(fileURLWithPath: out), threshold: threshold.map(Float.init), overlay: overlay)
            print("carve: wrote \(n) mask\(n == 1 ? "" : "s") to \(out)")
        }
    }
}
