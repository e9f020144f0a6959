// hoc data (paper, "Learning Instance Appearances and Masks From One Image of HOC", Data
// Preparation): patches cut from one image of a dense homogeneous object cluster with a window
// of ~1.5× the largest instance, scaled to 64 × 64, optionally flipped; backgrounds are real
// patches with a black disk of radius ~20/64 of the patch at the centre.
// N = batch, P = patch size; batches are N × 3 × P × P, Float32, contiguous.
import Foundation
import Tensor

/// How patches are cut from a hoc image.
public struct HocOptions: Sendable, Equatable {
    /// The side of the square window in source pixels (~1.5× the largest instance); nil picks
    /// the dataset's recorded window (synthetic data, embedded photo) or a quarter of the
    /// shorter image side.
    public var window: Int?
    /// The distance between neighbouring windows in source pixels; nil is window / 16.
    public var stride: Int?
    /// The side of the square patches handed to the model.
    public var patchSize: Int
    /// Adds mirror images left ↔ right (doubles the patch count).
    public var horizontalFlips: Bool
    /// Adds mirror images top ↔ bottom (doubles the patch count).
    public var verticalFlips: Bool
    /// The background disk radius as a fraction of the patch side (paper: 20 px of 64).
    public var diskRadiusFraction: Float
    /// Keeps only the windows whose centre lies on Otsu's foreground of the (scaled, smoothed)
    /// image, so each patch has an object at its centre (all windows when none does).
    public var objectWindows: Bool

    /// Options with the paper's defaults (64 × 64 patches, disk radius 20/64, no flips, every window).
    public init(window: Int? = nil, stride: Int? = nil, patchSize: Int = 64, horizontalFlips: Bool = false,
                verticalFlips: Bool = false, diskRadiusFraction: Float = 20.0 / 64.0, objectWindows: Bool = false) {
        self.window = window
        self.stride = stride
        self.patchSize = patchSize
        self.horizontalFlips = horizontalFlips
        self.verticalFlips = verticalFlips
        self.diskRadiusFraction = diskRadiusFraction
        self.objectWindows = objectWindows
    }
}

/// A hoc data set, or its options, that cannot be used; names the file or option.
public enum DatasetError: LocalizedError, Equatable {
    /// The window does not fit the image, or another option is out of range.
    case badOption(name: String, reason: String)
    /// A folder or list has no usable images.
    case noImages(path: String)
    /// A box or list file has a line that cannot be parsed.
    case badLine(path: String, line: Int, reason: String)
    /// A file referred to by a list is missing or unusable.
    case missingFile(path: String, referencedFrom: String)

    public var errorDescription: String? {
        switch self {
        case .badOption(let name, let reason): "\(name): \(reason)"
        case .noImages(let path): "no PNG images found in \(path)"
        case .badLine(let path, let line, let reason): "\(path):\(line): \(reason)"
        case .missingFile(let path, let from): "\(path) (listed in \(from)) does not exist"
        }
    }
}

/// Real patches of one (or a few) hoc images, addressable by index, plus their backgrounds.
///
/// Each source image is scaled once by patchSize / window (area filter), so a patch is a plain
/// P × P copy; flips multiply the count (index = ((window · H) + h) · V + v style, see `locate`).
///
/// ```swift
/// let data = try HocDataset.load(path: "cluster.png", options: HocOptions(window: 90, horizontalFlips: true))
/// batch.withUnsafeMutableBufferPointer { data.fillPatches($0, indices: mySlice) }          // N × 3 × 64 × 64
/// bg.withUnsafeMutableBufferPointer { data.fillBackgrounds($0, seed: 1, step: t, indices: mySlice) }
/// ```
public struct HocDataset: Sendable {
    /// The options in effect, with `window` and `stride` resolved.
    public let options: HocOptions
    /// The sources as RGB, each scaled so that one window becomes `patchSize` pixels.
    public let scaledSources: [Image]
    /// Top-left corners (source, y, x) of every window in scaled coordinates.
    let origins: [(source: Int, y: Int, x: Int)]

    /// The side of every patch.
    public var patchSize: Int { options.patchSize }
    /// The number of distinct windows (before flips).
    public var windowCount: Int { origins.count }
    /// The number of patches, flips included.
    public var count: Int { origins.count * (options.horizontalFlips ? 2 : 1) * (options.verticalFlips ? 2 : 1) }

    /// Cuts patches from `images` (any channel count; converted to RGB).
    /// - Throws: `DatasetError.badOption` when the window is larger than an image or sizes are not positive.
    public init(images: [Image], options: HocOptions) throws {
        guard let first = images.first else { throw DatasetError.noImages(path: "<memory>") }
        var resolved = options
        let shortest = images.map { min($0.height, $0.width) }.min()!
        let window = options.window ?? max(16, min(first.height, first.width) / 4)
        guard options.patchSize >= 4 else {
            throw DatasetError.badOption(name: "patch size", reason: "\(options.patchSize) must be at least 4")
        }
        guard window >= 1 && window <= shortest else {
            throw DatasetError.badOption(name: "window", reason: "\(window) px must be in 1...\(shortest) (the shorter image side)")
        }
        let stride = options.stride ?? max(1, window / 16)
        guard stride >= 1 else { throw DatasetError.badOption(name: "stride", reason: "\(stride) must be at least 1") }
        resolved.window = window
        resolved.stride = stride

        let scale = Double(options.patchSize) / Double(window)
        var sources = [Image](), origins = [(source: Int, y: Int, x: Int)]()
        for (s, image) in images.enumerated() {
            let sh = max(options.patchSize, Int((Double(image.height) * scale).rounded()))
            let sw = max(options.patchSize, Int((Double(image.width) * scale).rounded()))
            sources.append(image.rgb().resized(height: sh, width: sw))
            var y = 0
            while y + window <= image.height {
                var x = 0
                while x + window <= image.width {
                    let sy = min(Int((Double(y) * scale).rounded()), sh - options.patchSize)
                    let sx = min(Int((Double(x) * scale).rounded()), sw - options.patchSize)
                    origins.append((s, sy, sx))
                    x += stride
                }
                y += stride
            }
        }
        if options.objectWindows {
            let p = options.patchSize
            let foregrounds = sources.map { ClassicalSegmentation.smoothedForeground(of: $0) }
            let centred = origins.filter { o in
                foregrounds[o.source][(o.y + p / 2) * sources[o.source].width + o.x + p / 2]
            }
            if !centred.isEmpty { origins = centred }
        }
        self.options = resolved
        self.scaledSources = sources
        self.origins = origins
    }

    /// Cuts patches from one image.
    public init(image: Image, options: HocOptions) throws {
        try self.init(images: [image], options: options)
    }

    // MARK: - Loading

    /// Loads a hoc image (PNG or JPEG), or a folder of them (e.g. `carve data synth-hoc` output).
    ///
    /// In a folder, images named `image-*` or `*_image.*` are used if present, otherwise every
    /// image but instance maps (`instances-*`, `*_instances.*`) and masks (`*_mask.*`)
    /// (`Image.imageNames(inFolder:)`: .png, .jpg, .jpeg); a
    /// `dataset.json` with a `"window"` entry provides the default window.
    /// - Throws: `ImageError` or `DatasetError` naming the file.
    /// The images of a hoc folder, never their label maps or masks: `image-*` (synth-hoc) or
    /// `*_image.*` (image/mask/instance-map sets) when the folder names them so, else every other
    /// image (`Image.imageNames(inFolder:)`).
    /// - Throws: `DatasetError.noImages` when there is none; `ImageError` for an unreadable folder.
    public static func imageNames(inHocFolder path: String) throws -> [String] {
        let names = try Image.imageNames(inFolder: path)
        func stem(_ name: String) -> String { (name as NSString).deletingPathExtension }
        let preferred = names.filter { $0.hasPrefix("image-") || stem($0).hasSuffix("_image") }
        let chosen = preferred.isEmpty
            ? names.filter { !$0.hasPrefix("instances-") && !stem($0).hasSuffix("_instances") && !stem($0).hasSuffix("_mask") }
            : preferred
        guard !chosen.isEmpty else { throw DatasetError.noImages(path: path) }
        return chosen
    }

    public static func load(path: String, options: HocOptions = HocOptions()) throws -> HocDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImageError.cannotOpen(path: path, reason: "no such file or directory")
        }
        var options = options
        if !isDirectory.boolValue {
            do {
                return try HocDataset(image: Image.read(path: path), options: options)
            } catch DatasetError.badOption(let name, let reason) {
                throw DatasetError.badOption(name: name, reason: "\(reason), for \(path)")
            }
        }
        let chosen = try imageNames(inHocFolder: path)
        if options.window == nil, let info = try? SynthHocInfo.read(folder: path) {
            options.window = info.window
        }
        let images = try chosen.map { try Image.read(path: (path as NSString).appendingPathComponent($0)) }
        do {
            return try HocDataset(images: images, options: options)
        } catch DatasetError.badOption(let name, let reason) {
            throw DatasetError.badOption(name: name, reason: "\(reason), for the images of \(path)")
        }
    }

    /// The coins photo shipped with Carve (scikit-image's `coins`; see Resources/CREDITS.md)
    /// with a 90-pixel window (~1.5× the largest coin), or synthetic beans if the resource
    /// cannot be found. This is what `carve train` uses for hoc presets without `--data`.
    public static func embeddedDefault(options: HocOptions = HocOptions()) throws -> HocDataset {
        var options = options
        let (image, window) = embeddedImage()
        if options.window == nil { options.window = window }
        return try HocDataset(image: image, options: options)
    }

    /// The embedded image and its recorded window: the coins photo (90), or where its resource
    /// bundle cannot be found a synthetic cluster (its generator's window).
    public static func embeddedImage() -> (image: Image, window: Int) {
        if let url = embeddedCoinsURL, let image = try? Image.read(path: url.path) { return (image, 90) }
        let synthetic = SynthHoc.generate(seed: 0, height: 256, width: 256)
        return (synthetic.image, synthetic.info.window)
    }

    /// The location of the shipped coins photo, if the resource bundle can be found.
    ///
    /// Looks next to the executable (SwiftPM's `carve_Imaging.resources` folder) and then in
    /// the source tree this file was built from. Deliberately avoids `Bundle.module`, which
    /// traps when the bundle is missing (e.g. a `carve` binary copied elsewhere).
    public static var embeddedCoinsURL: URL? {
        let executableFolder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".")
            .resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            Bundle.main.bundleURL.appendingPathComponent("carve_Imaging.resources/Resources/coins.png"),
            executableFolder.appendingPathComponent("carve_Imaging.resources/Resources/coins.png"),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources/coins.png"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    // MARK: - Patches

    /// Which window and which flips make patch `index`: index = (window · H + h) · V + v.
    func locate(_ index: Int) -> (origin: Int, flipH: Bool, flipV: Bool) {
        precondition(index >= 0 && index < count, "HocDataset: patch index \(index) outside 0..<\(count)")
        let v = options.verticalFlips ? 2 : 1, h = options.horizontalFlips ? 2 : 1
        return (index / (v * h), (index / v) % h == 1, index % v == 1)
    }

    /// Writes patch `index` (3 × P × P) to `out`.
    public func writePatch(_ index: Int, to out: UnsafeMutablePointer<Float>) {
        let (o, flipH, flipV) = locate(index)
        let origin = origins[o]
        let source = scaledSources[origin.source]
        let p = patchSize, w = source.width, h = source.height
        source.pixels.withUnsafeBufferPointer { src in
            for c in 0..<3 {
                for r in 0..<p {
                    let sy = origin.y + (flipV ? p - 1 - r : r)
                    let from = src.baseAddress! + (c * h + sy) * w + origin.x
                    let to = out + (c * p + r) * p
                    if flipH {
                        for x in 0..<p { to[x] = from[p - 1 - x] }
                    } else {
                        to.update(from: from, count: p)
                    }
                }
            }
        }
    }

    /// Patch `index` as an image (3 × P × P).
    public func patch(_ index: Int) -> Image {
        var image = Image(channels: 3, height: patchSize, width: patchSize)
        image.pixels.withUnsafeMutableBufferPointer { writePatch(index, to: $0.baseAddress!) }
        return image
    }

    /// Fills `out` (N × 3 × P × P, N = indices.count) with the patches `indices` (dataset indices,
    /// e.g. this rank's slice of `Sharding.globalBatch`).
    public func fillPatches(_ out: UnsafeMutableBufferPointer<Float>, indices: [Int]) {
        let size = 3 * patchSize * patchSize
        precondition(out.count == indices.count * size,
                     "HocDataset.fillPatches: buffer of \(out.count) floats for \(indices.count) × 3 × \(patchSize) × \(patchSize)")
        for (n, index) in indices.enumerated() { writePatch(index, to: out.baseAddress! + n * size) }
    }

    /// Fills `out` (N × 3 × P × P) with backgrounds: for global sample `g` = `samples[n]`, a real
    /// patch chosen by CounterRNG(seed, "hoc-background", step, g) with a black disk of radius
    /// `diskRadiusFraction · P` at its centre. Pure function of (seed, step, g).
    public func fillBackgrounds(_ out: UnsafeMutableBufferPointer<Float>, seed: UInt64, step: Int, samples: [Int]) {
        let size = 3 * patchSize * patchSize
        precondition(out.count == samples.count * size,
                     "HocDataset.fillBackgrounds: buffer of \(out.count) floats for \(samples.count) × 3 × \(patchSize) × \(patchSize)")
        for (n, g) in samples.enumerated() {
            var rng = CounterRNG(seed: seed, purpose: "hoc-background", step: step, index: g)
            let target = out.baseAddress! + n * size
            writePatch(rng.int(below: count), to: target)
            blackDisk(target, channels: 3, size: patchSize, radius: options.diskRadiusFraction * Float(patchSize))
        }
    }
}

/// Sets to 0 every pixel whose centre lies within `radius` of the image centre (C × S × S at `p`).
public func blackDisk(_ p: UnsafeMutablePointer<Float>, channels: Int, size: Int, radius: Float) {
    let centre = Float(size) / 2
    for y in 0..<size {
        let dy = Float(y) + 0.5 - centre
        for x in 0..<size {
            let dx = Float(x) + 0.5 - centre
            if dx * dx + dy * dy <= radius * radius {
                for c in 0..<channels { p[(c * size + y) * size + x] = 0 }
            }
        }
    }
}

// MARK: - Object-free plates

extension HocDataset {
    /// The colour of the cluster's background, per source: mean and standard deviation of each
    /// channel over the pixels Otsu's threshold puts on the background side (`ClassicalSegmentation
    /// .foreground`, smoothed first as the baseline does), and the colour of the other side (the
    /// objects).
    public struct Plate: Sendable, Equatable {
        public var mean: [Float]
        public var deviation: [Float]
        /// The objects' colour (the mean of Otsu's foreground side, clipped as `plates()` says);
        /// nil when not measured.
        public var objectColour: [Float]?

        public init(mean: [Float], deviation: [Float], objectColour: [Float]? = nil) {
            self.mean = mean
            self.deviation = deviation
            self.objectColour = objectColour
        }

        /// The statistics of an RGB image (3 planes of `planeSize` at `p`) over the pixels
        /// `including` keeps (all of them by default).
        public init(measuring p: UnsafePointer<Float>, planeSize: Int, including: ((Int) -> Bool)? = nil) {
            let pixels = (0..<planeSize).filter { including?($0) ?? true }
            let chosen = pixels.isEmpty ? Array(0..<planeSize) : pixels
            mean = [Float](repeating: 0, count: 3)
            deviation = mean
            for c in 0..<3 {
                var s = 0.0, s2 = 0.0
                for i in chosen { let v = Double(p[c * planeSize + i]); s += v; s2 += v * v }
                let m = s / Double(chosen.count)
                mean[c] = Float(m)
                deviation[c] = Float(max(s2 / Double(chosen.count) - m * m, 0).squareRoot())
            }
        }
    }

    /// The plate of the whole cluster: the channel-wise average of `plates` (means, deviations
    /// and objects' colours).
    public static func averagePlate(_ plates: [Plate]) -> Plate? {
        guard let first = plates.first else { return nil }
        func average(_ values: [[Float]]) -> [Float] {
            (0..<3).map { c in values.map { $0[c] }.reduce(0, +) / Float(values.count) }
        }
        var plate = first
        plate.mean = average(plates.map(\.mean))
        plate.deviation = average(plates.map(\.deviation))
        let objects = plates.compactMap(\.objectColour)
        plate.objectColour = objects.count == plates.count ? average(objects) : nil
        return plate
    }

    /// One `Plate` per source image: its pixels on Otsu's background side; the objects' colour
    /// is the mean over every source's foreground side (one colour for the whole cluster, so
    /// that a layer is judged alike over every plate), each value clipped as the threshold's
    /// intensities were where Note [Outlier tail] clipped them (a few saturated nuclei would
    /// otherwise pull the colour of ~70 dim ones up: Note [hoc distillation]).
    public func plates() -> [Plate] {
        var sums = [Double](repeating: 0, count: 3), count = 0
        let plates = scaledSources.map { source in
            let (gray, threshold) = ClassicalSegmentation.smoothedThreshold(of: source)
            let fg = gray.pixels.map(threshold.isObject)
            return source.pixels.withUnsafeBufferPointer { p in
                for i in 0..<source.planeSize where fg[i] {
                    count += 1
                    for c in 0..<3 {
                        var v = p[c * source.planeSize + i]
                        if let clip = threshold.clip { v = min(max(v, clip.lowerBound), clip.upperBound) }
                        sums[c] += Double(v)
                    }
                }
                return Plate(measuring: p.baseAddress!, planeSize: source.planeSize, including: { !fg[$0] })
            }
        }
        guard count > 0 else { return plates }
        let objects = sums.map { Float($0 / Double(count)) }
        return plates.map { var p = $0; p.objectColour = objects; return p }
    }

    /// Fills `out` (N × 3 × P × P) with object-free plates: for global sample `g` = `samples[n]`,
    /// the `Plate` of a source chosen by CounterRNG(seed, "hoc-plate", step, g) with Gaussian
    /// noise of its deviation, clamped to [0, 1]. Pure function of (seed, step, g).
    /// - Returns: the plate of each sample.
    @discardableResult
    public func fillPlates(_ out: UnsafeMutableBufferPointer<Float>, plates: [Plate], seed: UInt64, step: Int,
                           samples: [Int]) -> [Plate] {
        var chosen: [Plate] = []
        let p = patchSize, size = 3 * p * p
        precondition(out.count == samples.count * size && !plates.isEmpty,
                     "HocDataset.fillPlates: buffer of \(out.count) floats for \(samples.count) × 3 × \(p) × \(p)")
        for (n, g) in samples.enumerated() {
            var rng = CounterRNG(seed: seed, purpose: "hoc-plate", step: step, index: g)
            let plate = plates[rng.int(below: plates.count)]
            chosen.append(plate)
            for c in 0..<3 {
                for i in 0..<(p * p) {
                    out[n * size + c * p * p + i] = min(max(plate.mean[c] + plate.deviation[c] * rng.normal(), 0), 1)
                }
            }
        }
        return chosen
    }
}
