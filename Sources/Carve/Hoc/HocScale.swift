import Foundation
import Imaging

// Note [hoc scale]
// The paper cuts hoc patches with a window of about 1.5× the largest instance and sets the area
// target a per dataset (Table 4). A user's image does not come with either, so `auto_scale`
// measures its objects: the connected components of the classical baseline's foreground
// (binomial smoothing, Otsu's threshold, specks removed) that do not touch the image border, the
// equivalent diameter 2·√(area/π) of each; the window = 1.5 × their 90th-percentile diameter
// (the largest object, without trusting the single largest component, often two touching
// objects) and the area target = their median area as a fraction of the patch at that scale.
// Components, not the baseline's watershed instances: the watershed splits big nuclei in two
// (nuclei_cells3d's baseline finds 1.8× too many objects), which halves the measured size,
// while in a cluster most components are single objects. On the real nuclei sets this gives
// windows of 24 and 78 source pixels where 1.5 × the instance maps' 95th-percentile diameter is
// 24 and 80, and median areas of 104 and 1 420 where the maps' are 109 and 1 333.
// The provider's mask envelope is then fitted to the object: its outer radius 1.5× the radius
// of a disc of the target area. With the envelope of the whole canvas (demo-hoc's 0.9) a
// provider is free to press its mask against the envelope's edge, and the masks come out as
// crescents (shape IoU 0.79 on nuclei_scratch_assay at step 500); fitted (0.5 there) they are
// compact blobs (0.885 at step 250, 0.905 at 750).
// A sparse image (the components cover less than 15 % of it: nuclei_scratch_assay 6 %, against
// 23–35 % on nuclei_cells3d and 39 % on the coins) is not the dense cluster the paper assumes:
// most windows show background only, so most providers learn to paint background (trained on
// one scratch-assay image, every one of them) and the segmenter has no objects to learn from
// (AP@0.5 0.28, below the classical baseline's 0.56). There `auto_scale` also sets
// `object_windows`, which cuts only windows centred on the foreground: every real patch then
// holds an object under the black disk, and the providers learn objects (the same image: AP@0.5
// 0.92, count error 0.05). On a dense image it is left off (nuclei_cells3d, one seed: AP@0.5
// 0.61 → 0.57, count error 0.08 → 0.22 with it).
// Some images out of focus against the rest (a z-stack's outer slices) need a segmenter that knows
// blurred objects, while the generator learns mostly the sharp ones (Note [hoc distillation]).
// Each image's edge width — its objects' and background's median intensities apart over the median
// gradient on the foreground's outline, in pixels (sharp images after the baseline's smoothing
// measure 3.0–3.6) — measures the focus: nuclei_cells3d's nine slices 3.5–4.7 and 5.7, 6.0, 8.2
// (slice 000, where the segmenter found 0–3 of 18 nuclei, with 32 8 of them);
// nuclei_scratch_assay's ten 3.18–3.25; one image of coins, galaxies, nuclei_fluor: 3.0, 3.2,
// 11.0. Where the blurriest image's width is at least 1.5× the median image's, `auto_scale` raises
// `distill_blur` to 32 (σ up to 5.7 px): on nuclei_cells3d AP@0.5 0.65 / 0.60 / 0.63 → 0.66 / 0.74
// / 0.73 over three seeds, count error 0.14 / 0.16 / 0.12 → 0.07 / 0.07 / 0.13. Not on images of
// one focus: 32 on nuclei_scratch_assay moved AP@0.5 by −0.02…+0.02, and trained on the one sharp
// slice 004 it merged nuclei (0.80 / 0.65 → 0.36 / 0.19); 8, or half the inputs sharp and half
// smoothed 1…32 times, helped one seed and hurt another (0.60 → 0.53, 0.65 → 0.39). A single image
// gets none: its generator learns the focus it sees (reasoned, not measured on a blurry one).

/// The window and area target a hoc run needs, measured on its images (Note [hoc scale]).
struct HocScale {
    /// Source pixels per patch.
    var window: Int
    /// The median object area as a fraction of the patch.
    var areaTarget: Double
    /// `mask_envelope` for objects of that area: 1.5× the radius of a disc of area `areaTarget`,
    /// in half patch sides, 3·√(a/π) (within 0.3…1).
    var envelope: Double { min(1, max(0.3, 3 * (areaTarget / Double.pi).squareRoot())) }
    /// The fraction of the images' pixels on the objects' side.
    var foregroundFraction: Double
    /// Whether the objects cover less than 15 % of the images (Note [hoc scale]).
    var isSparse: Bool { foregroundFraction < 0.15 }
    /// Each image's edge width in source pixels: the objects' and the background's median
    /// intensity apart, over the median gradient on the objects' outline (`edgeWidth`).
    var edgeWidths: [Double]
    /// Whether some images are out of focus against the rest: two or more images, the blurriest
    /// one's edge width at least 1.5× the median image's (Note [hoc scale]).
    var hasOutOfFocusImages: Bool {
        guard edgeWidths.count >= 2 else { return false }
        let sorted = edgeWidths.sorted()
        return sorted[sorted.count - 1] >= 1.5 * sorted[(sorted.count - 1) / 2]
    }

    /// Nil when the images show no object that does not touch a border.
    init?(images: [Image], patchSize: Int) {
        var areas: [Double] = []
        var shortest = Int.max, pixels = 0, covered = 0
        edgeWidths = []
        for image in images {
            shortest = min(shortest, image.height, image.width)
            let h = image.height, w = image.width
            let (gray, threshold) = ClassicalSegmentation.smoothedThreshold(of: image)
            let fg = ClassicalSegmentation.withoutSpeckle(gray.pixels.map(threshold.isObject), height: h, width: w)
            if let width = Self.edgeWidth(gray, foreground: fg) { edgeWidths.append(width) }
            pixels += h * w
            covered += fg.filter { $0 }.count
            let (labels, _) = ClassicalSegmentation.components(fg, height: h, width: w)
            let map = LabelMap(height: h, width: w, labels: labels.map { UInt16(clamping: $0) })
            for r in map.instances() where r.minX > 0 && r.minY > 0 && r.maxX < w - 1 && r.maxY < h - 1 {
                areas.append(Double(r.area))
            }
        }
        guard !areas.isEmpty else { return nil }
        foregroundFraction = Double(covered) / Double(pixels)
        areas.sort()
        let d90 = 2 * (areas[min(areas.count - 1, Int(0.9 * Double(areas.count)))] / Double.pi).squareRoot()
        window = min(max(16, Int((1.5 * d90).rounded())), shortest)
        let scale = Double(patchSize) / Double(window)
        areaTarget = min(0.5, areas[areas.count / 2] * scale * scale / Double(patchSize * patchSize))
    }

    /// How many pixels an edge of `gray` (smoothed) takes from background to object: |median of
    /// the objects − median of the background| / median gradient magnitude (central differences)
    /// over the foreground's outline (its pixels with a 4-neighbour off it); nil without an
    /// outline or a gradient. Sharp images, smoothed by the binomial kernel, measure 3–3.6 pixels.
    static func edgeWidth(_ gray: Image, foreground fg: [Bool]) -> Double? {
        let h = gray.height, w = gray.width, p = gray.pixels
        var objects: [Float] = [], background: [Float] = [], gradients: [Float] = []
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                guard fg[i] else { background.append(p[i]); continue }
                objects.append(p[i])
                guard y > 0 && x > 0 && y < h - 1 && x < w - 1,
                      !fg[i - 1] || !fg[i + 1] || !fg[i - w] || !fg[i + w] else { continue }
                let gx = (p[i + 1] - p[i - 1]) / 2, gy = (p[i + w] - p[i - w]) / 2
                gradients.append((gx * gx + gy * gy).squareRoot())
            }
        }
        func median(_ v: [Float]) -> Double { let s = v.sorted(); return Double(s[s.count / 2]) }
        guard !objects.isEmpty && !background.isEmpty && !gradients.isEmpty else { return nil }
        let g = median(gradients)
        return g > 0 ? abs(median(objects) - median(background)) / g : nil
    }

    /// The images of a hoc `--data` path as `HocDataset.load` picks them (a file, or a folder's
    /// images without masks and instance maps).
    static func images(at path: String) throws -> [Image] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return [try Image.read(path: path)]
        }
        return try HocDataset.imageNames(inHocFolder: path).map { try Image.read(path: (path as NSString).appendingPathComponent($0)) }
    }
}
