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

    /// Nil when the images show no object that does not touch a border.
    init?(images: [Image], patchSize: Int) {
        var areas: [Double] = []
        var shortest = Int.max, pixels = 0, covered = 0
        for image in images {
            shortest = min(shortest, image.height, image.width)
            let h = image.height, w = image.width
            let fg = ClassicalSegmentation.withoutSpeckle(ClassicalSegmentation.smoothedForeground(of: image), height: h, width: w)
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
