// Reading JPEG through JPEGShim (libjpeg-turbo): CUB-200-2011 and CelebA, the paper's fg data
// sets, ship as JPEG. The shim decodes to interleaved 8-bit RGB; here it becomes CHW floats.
// C = 3 (RGB), H × W = spatial.
import Foundation
import JPEGShim

extension Image {
    /// Reads a JPEG through libjpeg-turbo into a 3 × H × W RGB image with values k / 255.
    ///
    /// Called by `read(path:maxPixels:)` when the file starts with FF D8 FF. Gray JPEGs give
    /// three equal channels; CMYK/YCCK ones are converted without a colour profile (Adobe
    /// inverted samples, as Photoshop writes them). Truncated or damaged entropy data is an
    /// error, not grey or garbage rows.
    ///
    /// ```swift
    /// let image = try Image.readJPEG(path: "photo.jpg", maxPixels: Image.defaultMaxPixels)
    /// // image.channels == 3
    /// ```
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - maxPixels: the largest width × height accepted; checked from the header before the
    ///     pixels are allocated.
    /// - Throws: `ImageError` naming the file: `.cannotOpen`, `.empty`, `.unknownFormat`,
    ///   `.corrupt` (libjpeg's message), `.tooLarge` or `.unsupported` (colour space).
    static func readJPEG(path: String, maxPixels: Int) throws -> Image {
        var message = [CChar](repeating: 0, count: 256)
        var data: UnsafeMutablePointer<UInt8>? = nil
        var height: Int32 = 0, width: Int32 = 0
        let status = carve_jpeg_read(path, UInt64(max(0, maxPixels)), &data, &height, &width,
                                     &message, message.count)
        let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard status == Int32(CARVE_JPEG_OK), let data else {
            switch Int(status) {
            case Int(CARVE_JPEG_CANNOT_OPEN): throw ImageError.cannotOpen(path: path, reason: reason)
            case Int(CARVE_JPEG_EMPTY): throw ImageError.empty(path: path)
            case Int(CARVE_JPEG_NOT_JPEG): throw ImageError.unknownFormat(path: path)
            case Int(CARVE_JPEG_TOO_LARGE): throw ImageError.tooLarge(path: path, reason: reason)
            case Int(CARVE_JPEG_UNSUPPORTED): throw ImageError.unsupported(path: path, reason: reason)
            default: throw ImageError.corrupt(path: path, reason: reason)
            }
        }
        defer { carve_jpeg_free(data) }
        let h = Int(height), w = Int(width), n = h * w
        var pixels = [Float](repeating: 0, count: 3 * n)
        pixels.withUnsafeMutableBufferPointer { dst in
            // HWC → CHW; divide (not multiply) so k / 255 is exact-rounded, as for PNG.
            for i in 0..<n {
                for k in 0..<3 { dst[k * n + i] = Float(data[i * 3 + k]) / 255 }
            }
        }
        return Image(channels: 3, height: h, width: w, pixels: pixels)
    }
}
