// Image: planar (CHW) Float32 pixels in [0, 1], read from PNG (PNGShim) or JPEG (JPEGShim,
// Image+JPEG.swift), chosen by the file's first bytes; written as PNG.
// C = channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), H × W = spatial.
import Foundation
import PNGShim

/// A planar Float32 image with values in [0, 1]: `pixels[(c · height + y) · width + x]`.
///
/// Channels are 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA), as stored in the PNG (a JPEG
/// always reads as RGB); call `rgb()` for the three colour channels every model expects.
///
/// ```swift
/// let photo = try Image.read(path: "Black_Footed_Albatross_0001_796111.jpg").rgb()
/// let patch = photo.cropped(x: 10, y: 20, width: 96, height: 96).resized(height: 64, width: 64)
/// try patch.write(path: "patch.png")
/// ```
public struct Image: Sendable, Equatable {
    /// The number of planes: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// Rows.
    public let height: Int
    /// Columns.
    public let width: Int
    /// CHW values in [0, 1]; `channels · height · width` of them.
    public var pixels: [Float]

    /// The largest width × height `read(path:)` accepts by default (8192 × 8192).
    public static let defaultMaxPixels = 1 << 26

    /// Wraps `pixels` (CHW, `channels · height · width` values).
    public init(channels: Int, height: Int, width: Int, pixels: [Float]) {
        precondition(channels >= 1 && height >= 1 && width >= 1,
                     "Image: shape [\(channels), \(height), \(width)] must be positive")
        precondition(pixels.count == channels * height * width,
                     "Image: \(pixels.count) values for shape [\(channels), \(height), \(width)]")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// An image of the given shape with every value `value`.
    public init(channels: Int, height: Int, width: Int, repeating value: Float = 0) {
        self.init(channels: channels, height: height, width: width,
                  pixels: [Float](repeating: value, count: channels * height * width))
    }

    /// The value at channel `c`, row `y`, column `x`.
    @inlinable
    public subscript(c: Int, y: Int, x: Int) -> Float {
        get { pixels[(c * height + y) * width + x] }
        set { pixels[(c * height + y) * width + x] = newValue }
    }

    /// The number of values in one plane (height · width).
    public var planeSize: Int { height * width }
}

/// An image that could not be read or written; every case names the file.
public enum ImageError: LocalizedError, Equatable {
    /// The file could not be opened (missing, a directory, no permission).
    case cannotOpen(path: String, reason: String)
    /// The file has zero bytes.
    case empty(path: String)
    /// A PNG-only reader (label maps) found no PNG signature.
    case notPNG(path: String)
    /// The file starts with neither the PNG signature nor the JPEG marker FF D8 FF.
    case unknownFormat(path: String)
    /// libpng or libjpeg rejected the data: a bad chunk, CRC, marker or compressed stream, or a
    /// truncated file.
    case corrupt(path: String, reason: String)
    /// A well-formed file Carve does not decode (e.g. a JPEG in an unusual colour space).
    case unsupported(path: String, reason: String)
    /// The header declares more pixels than allowed; nothing was allocated.
    case tooLarge(path: String, reason: String)
    /// Writing failed (disk full, unsupported format); no partial file is left behind.
    case writeFailed(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open image \(path): \(reason)"
        case .empty(let path): "image \(path) is empty (0 bytes)"
        case .notPNG(let path):
            "image \(path) is not a PNG file (label maps are read from 8- or 16-bit gray PNG only)"
        case .unknownFormat(let path): "image \(path) is neither a PNG nor a JPEG file (Carve reads those two)"
        case .corrupt(let path, let reason): "image \(path) is corrupt or truncated: \(reason)"
        case .unsupported(let path, let reason): "image \(path) cannot be read: \(reason)"
        case .tooLarge(let path, let reason): "image \(path) is too large: \(reason)"
        case .writeFailed(let path, let reason): "cannot write image \(path): \(reason)"
        }
    }
}

// MARK: - Raw samples (shared by Image and LabelMap)

/// Interleaved (HWC) 16-bit samples exactly as stored in a PNG, and its bit depth.
struct PNGSamples {
    var samples: [UInt16]
    var channels: Int
    var height: Int
    var width: Int
    var bitDepth: Int

    /// Reads `path` through libpng; errors name the file.
    static func read(path: String, maxPixels: Int) throws -> PNGSamples {
        var message = [CChar](repeating: 0, count: 256)
        var data: UnsafeMutablePointer<UInt16>? = nil
        var channels: Int32 = 0, height: Int32 = 0, width: Int32 = 0, depth: Int32 = 0
        let status = carve_png_read(path, UInt64(max(0, maxPixels)), &data, &channels, &height, &width,
                                    &depth, &message, message.count)
        let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard status == Int32(CARVE_PNG_OK), let data else {
            switch Int(status) {
            case Int(CARVE_PNG_CANNOT_OPEN): throw ImageError.cannotOpen(path: path, reason: reason)
            case Int(CARVE_PNG_EMPTY): throw ImageError.empty(path: path)
            case Int(CARVE_PNG_NOT_PNG): throw ImageError.notPNG(path: path)
            case Int(CARVE_PNG_TOO_LARGE): throw ImageError.tooLarge(path: path, reason: reason)
            default: throw ImageError.corrupt(path: path, reason: reason)
            }
        }
        defer { carve_png_free(data) }
        let count = Int(channels) * Int(height) * Int(width)
        return PNGSamples(samples: Array(UnsafeBufferPointer(start: data, count: count)),
                          channels: Int(channels), height: Int(height), width: Int(width),
                          bitDepth: Int(depth))
    }

    /// Writes atomically: to a temporary file next to `path`, then renamed over it.
    func write(path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp").path
        var message = [CChar](repeating: 0, count: 256)
        let status = samples.withUnsafeBufferPointer {
            carve_png_write(temporary, $0.baseAddress, Int32(channels), Int32(height), Int32(width),
                            Int32(bitDepth), &message, message.count)
        }
        guard status == Int32(CARVE_PNG_OK) else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ImageError.writeFailed(path: path, reason: reason)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ImageError.writeFailed(path: path, reason: reason)
        }
    }
}

// MARK: - Reading (PNG or JPEG) and writing (PNG)

/// The formats `Image.read(path:)` decodes, told apart by the file's first bytes.
enum ImageFormat: Equatable {
    case png
    case jpeg

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    static let jpegMagic: [UInt8] = [0xff, 0xd8, 0xff]  // SOI marker, then the next marker's FF

    /// The format of `path` from its first 8 bytes (the extension is not looked at).
    /// - Throws: `ImageError.cannotOpen` (missing, a folder, no permission), `.empty`, or
    ///   `.unknownFormat` naming the file.
    static func of(path: String) throws -> ImageFormat {
        guard let file = fopen(path, "rb") else {
            throw ImageError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var head = [UInt8](repeating: 0, count: 8)
        let got = fread(&head, 1, head.count, file)
        if got == 0 {
            if ferror(file) != 0 {  // e.g. a folder: fopen succeeds, fread fails with EISDIR
                throw ImageError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            throw ImageError.empty(path: path)
        }
        if got >= 3 && Array(head[0..<3]) == jpegMagic { return .jpeg }
        if got == 8 && head == pngSignature { return .png }
        throw ImageError.unknownFormat(path: path)
    }
}

extension Image {
    /// Reads a PNG or a JPEG, chosen by the file's first bytes (not its extension), into [0, 1]
    /// floats.
    ///
    /// A PNG keeps its channels (gray, gray+alpha, RGB or RGBA; palette becomes RGB or RGBA;
    /// 1–16 bits). A JPEG (baseline or progressive; gray, YCbCr, RGB, CMYK or YCCK) always
    /// reads as 3 × H × W RGB, 8-bit values k / 255; gray gives three equal channels.
    ///
    /// ```swift
    /// let bird = try Image.read(path: "images/001.Black_footed_Albatross/Black_Footed_Albatross_0001_796111.jpg")
    /// let crop = bird.region(x: 60, y: 27, width: 325, height: 304, resizedTo: 128, 128)
    /// ```
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - maxPixels: the largest width × height accepted; checked from the header before
    ///     anything is allocated.
    /// - Throws: `ImageError` naming the file when it is missing, empty, neither PNG nor JPEG,
    ///   corrupt, truncated, too large or (JPEG) in an unsupported colour space.
    public static func read(path: String, maxPixels: Int = Image.defaultMaxPixels) throws -> Image {
        switch try ImageFormat.of(path: path) {
        case .jpeg: return try readJPEG(path: path, maxPixels: maxPixels)
        case .png: return try readPNG(path: path, maxPixels: maxPixels)
        }
    }

    /// Reads a PNG through libpng (see `read(path:maxPixels:)`).
    static func readPNG(path: String, maxPixels: Int) throws -> Image {
        let raw = try PNGSamples.read(path: path, maxPixels: maxPixels)
        let c = raw.channels, h = raw.height, w = raw.width
        let maxValue: Float = raw.bitDepth == 16 ? 65535 : 255  // divide (not multiply) so k/255 is exact-rounded
        var pixels = [Float](repeating: 0, count: c * h * w)
        raw.samples.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                // HWC → CHW
                for i in 0..<(h * w) {
                    for k in 0..<c { dst[k * h * w + i] = Float(src[i * c + k]) / maxValue }
                }
            }
        }
        return Image(channels: c, height: h, width: w, pixels: pixels)
    }

    /// Writes the image as a PNG, atomically (temporary file + rename).
    ///
    /// Values are clamped to [0, 1] and rounded. 8-bit works for 1–4 channels; `bitDepth: 16`
    /// is for gray images (height maps, masks).
    /// - Throws: `ImageError.writeFailed` naming the file, also when a value is NaN or infinite
    ///   (what a diverged model draws); nothing is written then.
    public func write(path: String, bitDepth: Int = 8) throws {
        precondition(bitDepth == 8 || (bitDepth == 16 && channels == 1),
                     "Image.write: bit depth \(bitDepth) with \(channels) channels (16 bits is gray only)")
        if let bad = pixels.firstIndex(where: { !$0.isFinite }) {
            throw ImageError.writeFailed(path: path, reason: "pixel value \(pixels[bad]) at sample \(bad) is not finite (the model's output is NaN or infinite)")
        }
        let maxValue: Float = bitDepth == 16 ? 65535 : 255
        let c = channels, n = planeSize
        var samples = [UInt16](repeating: 0, count: c * n)
        pixels.withUnsafeBufferPointer { src in
            samples.withUnsafeMutableBufferPointer { dst in
                // CHW → HWC
                for k in 0..<c {
                    for i in 0..<n {
                        let v = min(max(src[k * n + i], 0), 1)
                        dst[i * c + k] = UInt16((v * maxValue).rounded())
                    }
                }
            }
        }
        try PNGSamples(samples: samples, channels: c, height: height, width: width, bitDepth: bitDepth)
            .write(path: path)
    }
}

// MARK: - Label maps

/// A 16-bit instance label map: 0 is background, 1...65535 are instance ids.
///
/// Stored as a 16-bit gray PNG so the ids survive exactly.
///
/// ```swift
/// let labels = try LabelMap.read(path: "instances-000.png")
/// let pixelsOfObject3 = labels.labels.filter { $0 == 3 }.count
/// ```
public struct LabelMap: Sendable, Equatable {
    /// Rows.
    public let height: Int
    /// Columns.
    public let width: Int
    /// Row-major ids, `height · width` of them.
    public var labels: [UInt16]

    /// Wraps row-major `labels`.
    public init(height: Int, width: Int, labels: [UInt16]) {
        precondition(labels.count == height * width, "LabelMap: \(labels.count) labels for \(height) × \(width)")
        self.height = height
        self.width = width
        self.labels = labels
    }

    /// Reads a 16-bit (or 8-bit) gray PNG; the stored values are the ids.
    /// - Throws: `ImageError` naming the file; `.corrupt` if it is not single-channel.
    public static func read(path: String) throws -> LabelMap {
        let raw = try PNGSamples.read(path: path, maxPixels: Image.defaultMaxPixels)
        guard raw.channels == 1 else {
            throw ImageError.corrupt(path: path, reason: "a label map must be gray, found \(raw.channels) channels")
        }
        return LabelMap(height: raw.height, width: raw.width, labels: raw.samples)
    }

    /// Writes a 16-bit gray PNG atomically.
    public func write(path: String) throws {
        try PNGSamples(samples: labels, channels: 1, height: height, width: width, bitDepth: 16).write(path: path)
    }
}
