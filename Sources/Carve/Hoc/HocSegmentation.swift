import Foundation
import Imaging
import Tensor

/// Instances of whole images from hoc's distilled segmenter: the image scaled so that one
/// training window becomes one patch, overlapping patches through the segmenter, the maps
/// stitched (Note [Stitching windows]) and decoded once (Note [Centre maps]), the labels scaled
/// back to the image.
///
/// ```swift
/// let found = HocSegmentation.instances(of: image, segmenter: gan.segmenter!, config: gan.config, window: 36)
/// print(found.count, "objects")
/// ```
public enum HocSegmentation {
    /// The instances of `image` (any size, any channel count) at the scale of `window` source
    /// pixels per patch of the run `config`, whose objects cover about `area_target` of a patch
    /// (cores under an eighth of that — half a disc's inner half — are not markers).
    public static func instances(of image: Image, segmenter: UNet, config: Configuration, window: Int) -> LabelMap {
        precondition(window >= 1, "HocSegmentation: window \(window)")
        let p = config.imageSize
        let scale = Double(p) / Double(window)
        let sh = max(1, Int((Double(image.height) * scale).rounded())), sw = max(1, Int((Double(image.width) * scale).rounded()))
        let scaled = image.rgb().resized(height: sh, width: sw)
        let padded = scaled.padded(toAtLeast: p, p)
        let windows = SlidingWindows(height: padded.height, width: padded.width, window: p)
        let was = segmenter.isTraining
        segmenter.train(false)
        defer { segmenter.train(was) }
        let maps = windows.stitch(channels: 2) { range in
            let batch = Tensor(shape: [range.count, 3, p, p]) { out in
                for (k, n) in range.enumerated() {
                    let o = windows.origins[n]
                    let patch = padded.cropped(x: o.x, y: o.y, width: p, height: p)
                    (out.baseAddress! + k * 3 * p * p).update(from: patch.pixels, count: 3 * p * p)
                }
            }
            let predicted = Autodiff.withoutRecording { segmenter(batch) }
            return Array(UnsafeBufferPointer(start: predicted.data, count: predicted.count))
        }
        // The maps of the scaled image (the padding cut off), decoded at that scale.
        let ph = padded.height, pw = padded.width
        var foreground = [Float](repeating: 0, count: sh * sw), centreness = foreground
        for y in 0..<sh {
            for x in 0..<sw {
                foreground[y * sw + x] = maps[y * pw + x]
                centreness[y * sw + x] = maps[ph * pw + y * pw + x]
            }
        }
        return decode(foreground: foreground, centreness: centreness, height: sh, width: sw, config: config)
            .resizedNearest(height: image.height, width: image.width)
    }

    /// `CentreMaps.decode` of maps at patch scale for objects of the run `config`: cores under an
    /// eighth of the objects' area (`area_target` of a patch; the core of a disc, centreness ≥ ½,
    /// is a quarter of it) are not markers, and the centreness is averaged with the foreground's
    /// distance transform over the radius of a disc of that area. Measured on
    /// nuclei_scratch_assay (AP@0.5 of one checkpoint): no minimum and no smoothing 0.735,
    /// smoothing 0.754, both 0.805.
    static func decode(foreground: [Float], centreness: [Float], height: Int, width: Int, config: Configuration) -> LabelMap {
        let area = config.areaTarget * Double(config.imageSize * config.imageSize)
        return CentreMaps.decode(foreground: foreground, centreness: centreness, height: height, width: width,
                                 minCoreArea: max(1, Int(area / 8)), objectRadius: Float((area / Double.pi).squareRoot()))
    }
}
