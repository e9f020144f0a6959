import Foundation
import Imaging

/// The real objects of hoc data, when their instance maps are known: `NAME_instances.png` beside
/// `NAME.png` (a user's annotated image; `carve data boxes` reads the same pairs) or a
/// `carve data synth-hoc` folder's `instances-NNN.png` beside `image-NNN.png`. 16-bit ids, 0 is
/// background.
///
/// hoc evaluation uses it for the objects' sizes (the single-object rate), their outlines (the
/// shape measure of sampled masks) and the classical baseline's scores (Otsu + watershed).
///
/// ```swift
/// if let truth = try HocGroundTruth.find(dataPath: "data/nuclei.png") {
///     let baseline = truth.baseline()     // AP@0.5, AP@0.5:0.95, count error of Otsu + watershed
/// }
/// ```
struct HocGroundTruth {
    /// Each image with its instance map.
    var pairs: [(name: String, image: Image, labels: LabelMap)]

    /// The instance maps that go with `dataPath`, or nil when there are none.
    /// - Throws: `ImageError` naming a map that cannot be read or does not fit its image.
    static func find(dataPath: String?) throws -> HocGroundTruth? {
        guard let dataPath else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataPath, isDirectory: &isDirectory) else { return nil }
        var images: [String] = []
        if isDirectory.boolValue {
            let names = (try? Image.imageNames(inFolder: dataPath)) ?? []
            let synth = names.filter { $0.hasPrefix("image-") }
            images = (synth.isEmpty ? names.filter { !$0.contains("_instances") && !$0.hasPrefix("instances-") } : synth)
                .map { (dataPath as NSString).appendingPathComponent($0) }
        } else {
            images = [dataPath]
        }
        var pairs: [(name: String, image: Image, labels: LabelMap)] = []
        for path in images {
            guard let map = Self.mapPath(of: path), FileManager.default.fileExists(atPath: map) else { continue }
            let image = try Image.read(path: path), labels = try LabelMap.read(path: map)
            guard labels.height == image.height && labels.width == image.width else {
                throw ImageError.corrupt(path: map, reason: "instance map is \(labels.height) × \(labels.width), its image \(image.height) × \(image.width)")
            }
            pairs.append(((path as NSString).lastPathComponent, image, labels))
        }
        return pairs.isEmpty ? nil : HocGroundTruth(pairs: pairs)
    }

    /// The instance map's path for an image: `NAME_instances.png` (also for `NAME_image.png`,
    /// as `../shared/data/masks` names them) or a synth-hoc folder's `instances-NNN.png`.
    static func mapPath(of image: String) -> String? {
        let folder = (image as NSString).deletingLastPathComponent
        let stem = ((image as NSString).lastPathComponent as NSString).deletingPathExtension
        if stem.hasPrefix("image-") { return (folder as NSString).appendingPathComponent("instances-" + stem.dropFirst(6) + ".png") }
        let base = stem.hasSuffix("_image") ? String(stem.dropLast(6)) : stem
        return (folder as NSString).appendingPathComponent(base + "_instances.png")
    }

    /// Every object that does not touch its image's border, as offsets at `scale` (patch pixels
    /// per source pixel).
    func objects(scale: Double) -> [ShapeMatching.Object] {
        pairs.flatMap { ShapeMatching.objects(from: $0.labels, scale: scale) }
    }

    /// The median area in patch pixels of the objects that do not touch a border.
    func medianArea(scale: Double) -> Double? {
        let areas = objects(scale: scale).map(\.area).sorted()
        return areas.isEmpty ? nil : Double(areas[areas.count / 2])
    }

    /// The classical baseline (`ClassicalSegmentation.instances`: Otsu threshold, distance
    /// transform, peaks, marker watershed) scored against the maps, over all images together.
    func baseline() -> BaselineScores {
        scores { ClassicalSegmentation.instances(of: $0) }
    }

    /// The instances `segment` finds in each image scored against the maps, over all images together.
    func scores(_ segment: (Image) -> LabelMap) -> BaselineScores {
        var ap50 = 0.0, apMean = 0.0, predicted = 0, truth = 0
        for pair in pairs {
            let m = InstanceMatching(predicted: segment(pair.image), truth: pair.labels)
            ap50 += m.ap50 * Double(m.trueCount)
            apMean += m.apMean * Double(m.trueCount)
            predicted += m.predictedCount
            truth += m.trueCount
        }
        let n = Double(max(truth, 1))
        return BaselineScores(ap50: ap50 / n, apMean: apMean / n, predictedCount: predicted, trueCount: truth,
                              countError: truth > 0 ? Double(abs(predicted - truth)) / Double(truth) : 0)
    }
}

/// Instance scores of a segmentation against instance maps (AP as DSB 2018 / StarDist), averaged
/// over images weighted by their number of objects.
public struct BaselineScores: Codable, Sendable {
    public var ap50: Double
    public var apMean: Double
    public var predictedCount: Int
    public var trueCount: Int
    public var countError: Double
    enum CodingKeys: String, CodingKey {
        case ap50 = "ap50", apMean = "ap_50_95", predictedCount = "predicted_count", trueCount = "true_count"
        case countError = "count_error"
    }
}
