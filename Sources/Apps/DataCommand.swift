import ArgumentParser
import Carve
import Foundation

/// `carve data`: writes synthetic data sets with exact ground truth (docs/ARCHITECTURE.md, "Command line").
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Generate synthetic data sets with ground truth (synth-hoc, synth-fg), or box crops of labelled images (boxes).",
        subcommands: [SynthHocCommand.self, SynthFgCommand.self, BoxesCommand.self])
}

/// `carve data synth-hoc`: dense bean clusters with 16-bit instance label maps.
struct SynthHocCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-hoc",
        abstract: "Write dense clusters of overlapping beans with instance label maps.",
        discussion: """
            Writes image-NNN.png (RGB), instances-NNN.png (16-bit instance ids, 0 = gap),
            objects-NNN.json (every bean with its full, unoccluded area) and dataset.json (with
            the suggested patch window). Train on it with `carve train --preset demo-hoc --data DIR`.
            """)

    @Option(help: "The folder to write (created if needed).")
    var out: String

    @Option(help: "The number of cluster images.")
    var count: Int = 1

    @Option(help: "The seed; the same seed writes the same bytes.")
    var seed: UInt64 = 0

    @Option(help: "The side of each image in pixels.")
    var size: Int = 256

    func validate() throws {
        guard count >= 1 && count <= 1000 else { throw ValidationError("--count must be in 1...1000, got \(count)") }
        guard size >= 64 && size <= 4096 else { throw ValidationError("--size must be in 64...4096, got \(size)") }
    }

    func run() throws {
        try SynthHoc.write(to: out, count: count, seed: seed, height: size, width: size)
        print("wrote \(count) synth-hoc image(s) of \(size) × \(size) to \(out)")
    }
}

/// `carve data synth-fg`: beetles on backgrounds, box-cropped, with exact masks.
struct SynthFgCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth-fg",
        abstract: "Write beetle scenes with boxes and exact masks in the fg layout.",
        discussion: """
            Writes train/ and heldout/ (images/, masks/, boxes.csv), a background pool in
            backgrounds/ and dataset.json. Backgrounds are procedural unless --backgrounds names
            a folder of PNG or JPEG photos.
            """)

    @Option(help: "The folder to write (created if needed).")
    var out: String

    @Option(help: "The number of scenes (about 10 % are held out).")
    var count: Int = 200

    @Option(help: "The seed; the same seed writes the same bytes.")
    var seed: UInt64 = 0

    @Option(help: "The side of each scene in pixels.")
    var sceneSize: Int = 160

    @Option(help: "A folder of PNG or JPEG photos to paste the beetles on (default: procedural backgrounds).")
    var backgrounds: String?

    func validate() throws {
        guard count >= 2 && count <= 100_000 else { throw ValidationError("--count must be in 2...100000, got \(count)") }
        guard sceneSize >= 48 && sceneSize <= 2048 else {
            throw ValidationError("--scene-size must be in 48...2048, got \(sceneSize)")
        }
    }

    func run() throws {
        let photos = try backgrounds.map { try BackgroundPool.load(folder: $0, size: sceneSize) }
        try SynthFg.write(to: out, count: count, seed: seed, sceneSize: sceneSize, backgroundPhotos: photos)
        print("wrote \(count) synth-fg scenes of \(sceneSize) × \(sceneSize) to \(out)")
    }
}

/// `carve data boxes`: an fg data set of box crops from images with instance maps or masks.
struct BoxesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boxes",
        abstract: "Write one fg crop per labelled object, its mask, and a background pool.",
        discussion: """
            Reads NAME.png with NAME_instances.png (16-bit ids) or NAME_mask.png (0/255, one
            object) beside it (000_image.png pairs with 000_instances.png). Writes OUT/NNNN.png
            (each object's box, widened by --margin; where that ring leaves the image its edge
            pixels repeat), OUT/masks/NNNN.png (that object only, for evaluation),
            OUT/backgrounds/ (patches where no object is) and OUT/crops.json (the margin, which
            `carve train` takes as box_margin). Objects touching the image border are left out.
            Train with `carve train --preset real-fg --data OUT`.
            """)

    @Option(help: "The folder of images with instance maps or masks.")
    var from: String

    @Option(help: "The folder to write (created if needed).")
    var out: String

    @Option(help: "Widen each box by this fraction of its side on every side.")
    var margin: Double = 0

    @Option(help: "Leave out objects whose box is narrower than this, in pixels.")
    var minSide: Int = 6

    @Option(help: "Background patches cut from each image.")
    var backgroundsPerImage: Int = 8

    func validate() throws {
        guard margin.isFinite && margin >= 0 && margin <= 2 else { throw ValidationError("--margin must be in 0...2, got \(margin)") }
        guard minSide >= 1 && minSide <= 4096 else { throw ValidationError("--min-side must be in 1...4096, got \(minSide)") }
        guard backgroundsPerImage >= 0 && backgroundsPerImage <= 1000 else {
            throw ValidationError("--backgrounds-per-image must be in 0...1000, got \(backgroundsPerImage)")
        }
    }

    func run() throws {
        let s = try BoxCrops.write(from: from, to: out, margin: margin, minSide: minSide,
                                   backgroundsPerImage: backgroundsPerImage)
        print("wrote \(s.crops) crops from \(s.images) image(s) (\(s.skipped) objects left out: border or small) and \(s.backgrounds) background patches to \(out)")
    }
}
