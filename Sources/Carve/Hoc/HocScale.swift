import Foundation
import Imaging

// Note [hoc scale]
// The paper cuts hoc patches with a window of about 1.5× the largest instance and sets the area
// target a per dataset (Table 4). A user's image does not come with either. The classical
// baseline already finds most objects roughly (Otsu + watershed; over- or under-split ones are
// the minority), so `auto_scale` measures them: the equivalent diameter 2·√(area/π) of every
// instance that does not touch the border, the window = 2 × the 90th percentile diameter
// (1.5 × the largest instance, taking the largest as 4/3 of the 90th percentile rather than
// trusting the single largest, often two merged objects), and the area target = the 75th
// percentile instance area (the median would count the fragments of over-split objects) as a
// fraction of the patch at that scale. The baseline over-splits more than it merges, so both
// come out on the small side. The provider's mask envelope is then fitted to the object: its
// outer radius 1.5× the radius of a disc of the target area. With the envelope of the whole
// canvas (demo-hoc's 0.9) a provider is free to press its mask against the envelope's edge,
// and the masks come out as crescents (shape IoU 0.79 on nuclei_scratch_assay at step 500);
// fitted (0.5 there) they are compact blobs (0.885 at step 250). On the real nuclei sets the
// windows come out at 27 and 75 source pixels where 1.5 × the 95th-percentile diameter of the
// instance maps is 24 and 81, the area targets at 106 and 605 source pixels where the maps'
// median objects have 108 and 1 237 (nuclei_cells3d's baseline splits most nuclei in two).

/// The window and area target a hoc run needs, measured on its images (Note [hoc scale]).
struct HocScale {
    /// Source pixels per patch.
    var window: Int
    /// The typical object area (the instances' 75th percentile) as a fraction of the patch.
    var areaTarget: Double
    /// `mask_envelope` for objects of that area: 1.5× the radius of a disc of area `areaTarget`,
    /// in half patch sides, 3·√(a/π) (within 0.3…1).
    var envelope: Double { min(1, max(0.3, 3 * (areaTarget / Double.pi).squareRoot())) }

    /// Nil when the images show no object that does not touch a border.
    init?(images: [Image], patchSize: Int) {
        var diameters: [Double] = [], areas: [Double] = []
        var shortest = Int.max
        for image in images {
            shortest = min(shortest, image.height, image.width)
            let labels = ClassicalSegmentation.instances(of: image)
            for r in labels.instances() where r.minX > 0 && r.minY > 0 && r.maxX < labels.width - 1 && r.maxY < labels.height - 1 {
                areas.append(Double(r.area))
                diameters.append(2 * (Double(r.area) / Double.pi).squareRoot())
            }
        }
        guard !areas.isEmpty else { return nil }
        diameters.sort()
        areas.sort()
        let d90 = diameters[min(diameters.count - 1, Int(0.9 * Double(diameters.count)))]
        window = min(max(16, Int((2 * d90).rounded())), shortest)
        let scale = Double(patchSize) / Double(window)
        areaTarget = min(0.5, areas[min(areas.count - 1, 3 * areas.count / 4)] * scale * scale / Double(patchSize * patchSize))
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
