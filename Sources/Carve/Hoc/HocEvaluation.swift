import Foundation
import Imaging
import Tensor

/// Evaluation of the hoc application: samples instances and masks from the generator and
/// measures them; writes `metrics.json`-style numbers and a Figure 8/9 panel.
///
/// Metrics (threshold 0.5 on the soft masks):
/// - `mask_area_mean`: mean of ‖m‖₁ / A over sampled instances;
/// - `single_component_rate`: the fraction of masks that are exactly one 4-connected component;
/// - `single_object_rate` (when the data has ground truth, `carve data synth-hoc`): the fraction of
///   masks that are one component with an area between 0.5× and 2× the median full (unoccluded)
///   area of a ground-truth object, scaled to patch pixels.
public struct HocEvaluation {
    let gan: HocGAN
    let config: Configuration
    let reference: Reference
    var objectArea: Double? { reference.objectArea }
    let realPatches: (Int) -> Tensor
    /// The cluster's average plate (background and objects' colours), for telling sampled
    /// instances that are objects from those that paint background (Note [hoc distillation]).
    let plate: HocDataset.Plate?

    /// What is known of the real objects, when anything is (`HocApplication.reference`).
    struct Reference {
        /// Median object area in patch pixels.
        var objectArea: Double? = nil
        /// Object outlines at patch scale (for the shape measure).
        var objects: [ShapeMatching.Object]? = nil
        /// What the real objects score against each other (`ShapeMatching.realReference`).
        var realShape: Double? = nil
        /// Otsu + watershed against the instance maps.
        var baseline: BaselineScores? = nil
        /// The images with their instance maps (for the distilled segmenter's scores).
        var truth: HocGroundTruth? = nil
        /// The window in source pixels that one patch shows.
        var window: Int? = nil
    }

    init(gan: HocGAN, data: HocDataset, config: Configuration, reference: Reference = Reference()) {
        self.gan = gan
        self.config = config
        self.reference = reference
        self.plate = reference.objects == nil ? nil : HocDataset.averagePlate(data.plates())
        self.realPatches = { n in
            let count = min(n, data.count)
            let size = config.imageSize
            // Evenly spread patches, the same at every evaluation.
            let indices = (0..<count).map { $0 * data.count / count }
            return Tensor(shape: [count, 3, size, size]) { data.fillPatches($0, indices: indices) }
        }
    }

    /// The measured numbers.
    public struct Report: Codable, Sendable {
        public var step: Int
        public var samples: Int
        public var maskAreaMean: Double
        public var singleComponentRate: Double
        public var singleObjectRate: Double?
        public var objectAreaPixels: Double?
        /// The mean over sampled masks of their IoU with the best-matching real object, centroids
        /// aligned (`ShapeMatching`): a disc scores ~0.95 against coins, a square ~0.83.
        public var shapeIoU: Double?
        /// The fraction of sampled instances that are objects: their colour stands out from the
        /// cluster's background by the distillation's rule (`HocGAN.standsOut`); the others paint
        /// background and are never instances for the segmenter.
        public var objectRate: Double?
        /// `shapeIoU` over the sampled instances that are objects only.
        public var shapeIoUObjects: Double?
        /// The shape measure's reference: the mean best IoU of a real object with another real
        /// object (`ShapeMatching.realReference`); a sample scoring this is as like the real
        /// objects as they are like one another.
        public var shapeIoUReal: Double?
        /// The classical baseline (Otsu + watershed) against the instance maps.
        public var baseline: BaselineScores?
        /// The distilled instance segmenter (`HocSegmentation`) against the instance maps, once trained.
        public var segmenter: BaselineScores?
        enum CodingKeys: String, CodingKey {
            case step, samples, maskAreaMean = "mask_area_mean", singleComponentRate = "single_component_rate"
            case singleObjectRate = "single_object_rate", objectAreaPixels = "object_area_pixels"
            case shapeIoU = "shape_iou", objectRate = "object_rate", shapeIoUObjects = "shape_iou_objects", shapeIoUReal = "shape_iou_real"
            case baseline, segmenter
        }
    }

    /// `config.evalSamples` instances from fixed noise, as the composition shows them
    /// (`HocGAN.sampledInstances`).
    func sampledInstances() -> Tensor {
        let z = Tensor(shape: [config.evalSamples, config.zDim]) { out in
            var rng = CounterRNG(seed: config.seed, purpose: "eval-z")
            rng.fillNormal(out)
        }
        return gan.sampledInstances(z: z, step: 0)
    }

    /// Samples `config.evalSamples` instances (`sampledInstances`), measures their masks and
    /// draws the panel.
    public func measure(step: Int) -> EvaluationOutput {
        let k = config.evalSamples
        let instances = sampledInstances()
        let m = Self.maskMetrics(instances: instances, objectArea: objectArea)
        let shape = reference.objects.map { Self.shapeIoU(instances: instances, objects: $0) }
        let isObject = plate.map { Self.objects(instances: instances, plate: $0) }
        let objectRate = isObject.map { flags in Double(flags.filter { $0 }.count) / Double(max(flags.count, 1)) }
        var shapeObjects: Double?
        if let objects = reference.objects, let isObject, isObject.contains(true) {
            shapeObjects = Self.shapeIoU(instances: instances, objects: objects, including: isObject)
        }
        var segmented: BaselineScores?
        if gan.isDistilled(step: step), let segmenter = gan.segmenter, let truth = reference.truth, let window = reference.window {
            segmented = truth.scores { HocSegmentation.instances(of: $0, segmenter: segmenter, config: config, window: window) }
        }
        let report = Report(step: step, samples: k, maskAreaMean: m.areaMean,
                            singleComponentRate: m.singleComponentRate, singleObjectRate: m.singleObjectRate,
                            objectAreaPixels: objectArea, shapeIoU: shape, objectRate: objectRate,
                            shapeIoUObjects: shapeObjects, shapeIoUReal: reference.realShape,
                            baseline: reference.baseline, segmenter: segmented)
        var summary = String(format: "single-component rate %.3f, mask area %.3f", m.singleComponentRate, m.areaMean)
        if let rate = m.singleObjectRate { summary += String(format: ", single-object rate %.3f", rate) }
        if let shape { summary += String(format: ", shape IoU %.3f", shape) }
        if let shapeObjects, let objectRate {
            summary += String(format: " (objects %.3f, %.0f%% of samples)", shapeObjects, 100 * objectRate)
        }
        if let segmented {
            summary += String(format: ", segmenter AP@0.5 %.3f, count error %.3f", segmented.ap50, segmented.countError)
        }
        return EvaluationOutput(report: report, panel: panel(instances: instances, step: step), summary: summary)
    }

    /// The mask metrics of sampled instances ([K, 4, S, S], the mask in channel 3; see the type's
    /// doc comment): mean area fraction, the fraction of masks that are one 4-connected component
    /// above 0.5, and — when the objects' median area in patch pixels is known — the fraction that
    /// are one component of 0.5× to 2× that area.
    static func maskMetrics(instances: Tensor, objectArea: Double?)
        -> (areaMean: Double, singleComponentRate: Double, singleObjectRate: Double?) {
        precondition(instances.rank == 4 && instances.shape[1] == 4 && instances.shape[2] == instances.shape[3],
                     "maskMetrics: instances \(instances.shape), expected [K, 4, S, S]")
        let k = instances.shape[0], size = instances.shape[2], hw = size * size
        var areaSum = 0.0, single = 0, objects = 0
        for i in 0..<k {
            let mask = instances.data + (i * 4 + 3) * hw
            var s = 0.0
            for j in 0..<hw { s += Double(mask[j]) }
            areaSum += s / Double(hw)
            let sizes = ConnectedComponents.sizes(mask, height: size, width: size)
            if sizes.count == 1 {
                single += 1
                if let objectArea, Double(sizes[0]) >= 0.5 * objectArea && Double(sizes[0]) <= 2 * objectArea {
                    objects += 1
                }
            }
        }
        return (areaSum / Double(k), Double(single) / Double(k), objectArea.map { _ in Double(objects) / Double(k) })
    }

    /// The mean over sampled instances [K, 4, S, S] (those `including` marks, all by default) of
    /// `ShapeMatching.bestIoU` of their masks (> 0.5) with the real objects (an empty mask scores 0).
    static func shapeIoU(instances: Tensor, objects: [ShapeMatching.Object], including: [Bool]? = nil) -> Double {
        let k = instances.shape[0], size = instances.shape[2], hw = size * size
        var sum = 0.0, n = 0
        for i in 0..<k where including?[i] ?? true {
            let mask = instances.data + (i * 4 + 3) * hw
            sum += ShapeMatching.bestIoU((0..<hw).map { mask[$0] > 0.5 }, height: size, width: size, objects: objects)
            n += 1
        }
        return sum / Double(max(n, 1))
    }

    /// Whether each sampled instance [K, 4, S, S] is an object against `plate` (`HocGAN.standsOut`).
    static func objects(instances: Tensor, plate: HocDataset.Plate) -> [Bool] {
        let k = instances.shape[0], hw = instances.shape[2] * instances.shape[3]
        return (0..<k).map { i in
            HocGAN.standsOut(instances.data + i * 4 * hw, mask: instances.data + (i * 4 + 3) * hw, count: hw, from: plate)
        }
    }

    /// A Figure 8/9 panel: real patches, composites, carved layers, appearances, soft masks, and
    /// once the segmenter is trained, the instances it finds in the real patches (outlines).
    public func panel(instances: Tensor, step: Int, columns: Int = 8) -> Panel {
        var panel = Panel()
        let real = realPatches(columns)
        panel.addRow(real, count: columns)
        let b = min(columns, real.shape[0])
        let samples = (0..<b).map { 1_000_000 + $0 }
        gan.generator.train(false)
        defer { gan.generator.train(true) }
        Autodiff.withoutRecording {
            let background = Tensor(shape: [b, 3, config.imageSize, config.imageSize], repeating: 0)
            let generated = gan.generate(background: background, samples: samples, step: 0)
            panel.addRow(generated.composite, count: columns)
            for layer in generated.layers.suffix(4) { panel.addRow(layer.appearance * layer.mask, count: columns) }
        }
        panel.addRow(instances.slice(axis: 1, 0..<3), count: columns)
        panel.addRow(instances.slice(axis: 1, 3..<4), count: columns)
        if gan.isDistilled(step: step), let segmenter = gan.segmenter {
            panel.addRow(Self.outlines(real, segmenter: segmenter, config: config), count: columns)
        }
        return panel
    }

    /// Real patches [B, 3, S, S] with the outlines of the instances the segmenter finds in each.
    static func outlines(_ patches: Tensor, segmenter: UNet, config: Configuration) -> Tensor {
        let b = patches.shape[0], s = patches.shape[2], hw = s * s
        let was = segmenter.isTraining
        segmenter.train(false)
        defer { segmenter.train(was) }
        let maps = Autodiff.withoutRecording { segmenter(patches) }
        return Tensor(shape: [b, 3, s, s]) { out in
            for n in 0..<b {
                let labels = HocSegmentation.decode(foreground: Array(UnsafeBufferPointer(start: maps.data + n * 2 * hw, count: hw)),
                                                    centreness: Array(UnsafeBufferPointer(start: maps.data + n * 2 * hw + hw, count: hw)),
                                                    height: s, width: s, config: config)
                let image = Image(channels: 3, height: s, width: s, pixels: Array(UnsafeBufferPointer(start: patches.data + n * 3 * hw, count: 3 * hw)))
                (out.baseAddress! + n * 3 * hw).update(from: labels.outlined(on: image).pixels, count: 3 * hw)
            }
        }
    }
}
