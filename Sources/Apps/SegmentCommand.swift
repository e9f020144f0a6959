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
            mask is resized back to its image's size; masks keep the image's base name.
            """)
    @Argument(help: "The fg checkpoint.") var checkpoint: String
    @Option(help: "A folder of PNG or JPEG images.") var images: String
    @Option(help: "The output folder for the masks.") var out: String

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: images, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--images \(images): no such directory")
        }
    }

    func run() throws {
        try reportingErrors {
            let n = try Evaluator.segment(checkpoint: URL(fileURLWithPath: checkpoint), images: images,
                                          out: URL(fileURLWithPath: out))
            print("carve: wrote \(n) mask\(n == 1 ? "" : "s") to \(out)")
        }
    }
}
