import Foundation
import Imaging
import Tensor

// MARK: - Scores of one mask

/// Foreground IoU, precision and recall of one predicted soft mask against a ground-truth mask.
///
/// The prediction is foreground where it is ≥ `threshold`; the ground truth where it is ≥ 0.5.
/// Empty cases: IoU = 1 when both are empty; precision = 1 when nothing is predicted and the
/// truth is empty, 0 when nothing is predicted but the truth is not; recall = 1 for an empty truth.
///
/// ```swift
/// let s = MaskScores(predicted: p, truth: gt, count: 64 * 64, threshold: 0.5)
/// s.iou   // |P ∩ T| / |P ∪ T|
/// ```
public struct MaskScores: Sendable, Equatable {
    public var iou: Double
    public var precision: Double
    public var recall: Double

    public init(iou: Double, precision: Double, recall: Double) {
        self.iou = iou
        self.precision = precision
        self.recall = recall
    }

    /// Scores `count` pixels of `predicted` against `truth`.
    public init(predicted: UnsafePointer<Float>, truth: UnsafePointer<Float>, count: Int, threshold: Float = 0.5) {
        var tp = 0, fp = 0, fn = 0
        for i in 0..<count {
            let p = predicted[i] >= threshold, t = truth[i] >= 0.5
            if p && t { tp += 1 } else if p { fp += 1 } else if t { fn += 1 }
        }
        let union = tp + fp + fn
        iou = union == 0 ? 1 : Double(tp) / Double(union)
        precision = tp + fp == 0 ? (fn == 0 ? 1 : 0) : Double(tp) / Double(tp + fp)
        recall = tp + fn == 0 ? 1 : Double(tp) / Double(tp + fn)
    }

    /// Scores two equally sized one-channel images.
    public init(predicted: Image, truth: Image, threshold: Float = 0.5) {
        precondition(predicted.pixels.count == truth.pixels.count,
                     "MaskScores: \(predicted.height) × \(predicted.width) against \(truth.height) × \(truth.width)")
        self = predicted.pixels.withUnsafeBufferPointer { p in
            truth.pixels.withUnsafeBufferPointer { t in
                MaskScores(predicted: p.baseAddress!, truth: t.baseAddress!, count: p.count, threshold: threshold)
            }
        }
    }
}

// MARK: - Errors

/// Bad input to the fg tools (`carve train` for fg, `ckpt eval`, `segment`); each names the flag or file.
public enum FgToolError: LocalizedError, Equatable {
    /// `--images DIR` holds no PNG or JPEG image.
    case noImages(flag: String, path: String)
    /// No background pool: neither `--backgrounds` nor DATA/backgrounds.
    case noBackgrounds(data: String)
    /// `ckpt eval` of an fg checkpoint without `--data`.
    case needsLabelledData(file: String)

    public var errorDescription: String? {
        switch self {
        case let .noImages(flag, path): return "\(flag) \(path): no PNG or JPEG images in this folder"
        case let .noBackgrounds(data):
            return "--backgrounds: no background pool given and \(data)/backgrounds does not exist (pass --backgrounds DIR, a folder of background images)"
        case let .needsLabelledData(file):
            return "\(file) is an fg checkpoint: give --data, a folder with images and masks/ (e.g. a synth-fg folder or its heldout/)"
        }
    }
}

// MARK: - Evaluation

/// Evaluation of the fg application on a labelled set: the teacher's raw masks and (once
/// distillation ran) the student's, against the ground truth.
///
/// Metrics (threshold 0.5 unless said): per-image foreground IoU, precision and recall averaged
/// over the images, and the mean IoU at thresholds 0.1, 0.2, …, 0.9. `mean_iou`, `precision`,
/// `recall` are the student's once it was trained (step > steps), else the teacher's;
/// `teacher_*` are always the teacher's. Writes a per-image CSV and a Figure 6/7 panel
/// (inputs / raw teacher masks / distilled student masks / ground truth / overlay).
public struct FgEvaluation {
    let gan: FgGAN
    let data: FgDataset
    /// What `data` is, for the report (a path, plus "train" when no held-out split exists).
    let dataDescription: String
    /// Images in the panel.
    let panelColumns: Int
    /// GrabCut's mean IoU on `data` when already known (`grabcutIoU(data:margin:)`), else nil.
    let grabcutIoU: Double?

    /// - Parameters:
    ///   - gan: the model (teacher and student).
    ///   - data: the images to segment, ideally with masks (`FgDataset.hasMasks`), at the model's size.
    ///   - dataDescription: where `data` came from, recorded in the report.
    ///   - grabcutIoU: the GrabCut baseline's score on `data` when the caller has it; nil
    ///     computes it (it depends on the crops alone, so a trainer computes it once).
    public init(gan: FgGAN, data: FgDataset, dataDescription: String, panelColumns: Int = 8, grabcutIoU: Double? = nil) {
        precondition(data.size == gan.config.imageSize,
                     "FgEvaluation: data crops of \(data.size) for a model of \(gan.config.imageSize)")
        self.gan = gan
        self.data = data
        self.dataDescription = dataDescription
        self.panelColumns = panelColumns
        self.grabcutIoU = grabcutIoU
    }

    /// The most crop pixels the GrabCut baseline segments: 1024 crops of 64 × 64 or 256 of
    /// 128 × 128 (tens of seconds on one core: README "fg against real masks").
    public static let grabcutPixels = 1 << 22

    /// The crops the GrabCut baseline scores: every one of a set of up to `grabcutPixels` pixels,
    /// else as many as fit, evenly spaced through it.
    public static func grabcutSample(count: Int, size: Int) -> [Int] {
        let take = min(count, max(1, grabcutPixels / max(size * size, 1)))
        return (0..<take).map { $0 * count / take }
    }

    /// The mean IoU of GrabCut from the box (Note [GrabCut baseline]) over `data`'s crops (those of
    /// `grabcutSample`), nil without masks. The certain background is the ring outside the
    /// central box of crops cut with `margin`, or a tight crop's one-pixel frame.
    public static func grabcutIoU(data: FgDataset, margin: Double) -> Double? {
        guard data.hasMasks && data.count > 0 else { return nil }
        let s = data.size, sample = grabcutSample(count: data.count, size: s)
        let sureBackground = FgGAN.sureBackground(size: s, margin: margin)
        var sum = 0.0
        for i in sample {
            let object = GrabCut.segment(data.image(i), sureBackground: sureBackground)
            sum += MaskScores(predicted: Image(channels: 1, height: s, width: s, pixels: object.map { $0 ? 1 : 0 }),
                              truth: data.mask(i)!).iou
        }
        return sum / Double(sample.count)
    }

    /// The thresholds of the IoU curve.
    public static let thresholds: [Float] = (1...9).map { Float($0) / 10 }

    /// The scores of one model over the set.
    public struct ModelReport: Codable, Sendable {
        public var meanIoU: Double
        public var precision: Double
        public var recall: Double
        /// Mean IoU at each threshold, keyed "0.1" … "0.9".
        public var iouByThreshold: [String: Double]
        enum CodingKeys: String, CodingKey {
            case meanIoU = "mean_iou", precision, recall, iouByThreshold = "iou_by_threshold"
        }
    }

    /// The measured numbers (`metrics.json`, `RUN/eval/step-N.json`).
    public struct Report: Codable, Sendable {
        public var step: Int
        public var images: Int
        public var data: String
        /// "student" once distillation ran, else "teacher": whose numbers `mean_iou` etc. are.
        public var model: String
        public var distilled: Bool
        public var meanIoU: Double?
        public var precision: Double?
        public var recall: Double?
        public var iouByThreshold: [String: Double]?
        public var teacherMeanIoU: Double?
        public var teacherPrecision: Double?
        public var teacherRecall: Double?
        public var teacherIoUByThreshold: [String: Double]?
        /// Mean ‖m‖₁ / A of the reported model's masks, and the teacher's.
        public var maskAreaMean: Double
        public var teacherMaskAreaMean: Double
        /// Unix time of the evaluation (for learning curves against wall time).
        public var time: Double
        /// Baselines on the same crops (threshold 0.5): the mean IoU of predicting the whole
        /// crop (the box itself), of the ellipse inscribed in the crop, and of GrabCut from the
        /// box (Note [GrabCut baseline]) over `grabcutImages` of the crops (`grabcutSample`: all of
        /// them up to 1024 crops of 64 × 64).
        public var boxIoU: Double?
        public var ellipseIoU: Double?
        public var grabcutIoU: Double?
        public var grabcutImages: Int?
        /// With `refine` other than "none": its name, and the mean IoU (0.5) of the networks' own
        /// masks before it (the reported model's and the teacher's).
        public var refine: String?
        public var rawMeanIoU: Double?
        public var teacherRawMeanIoU: Double?
        enum CodingKeys: String, CodingKey {
            case step, images, data, model, distilled, meanIoU = "mean_iou", precision, recall
            case iouByThreshold = "iou_by_threshold", teacherMeanIoU = "teacher_mean_iou"
            case teacherPrecision = "teacher_precision", teacherRecall = "teacher_recall"
            case teacherIoUByThreshold = "teacher_iou_by_threshold", maskAreaMean = "mask_area_mean"
            case teacherMaskAreaMean = "teacher_mask_area_mean", time, boxIoU = "box_iou", ellipseIoU = "ellipse_iou"
            case grabcutIoU = "grabcut_iou", grabcutImages = "grabcut_images"
            case refine, rawMeanIoU = "raw_mean_iou", teacherRawMeanIoU = "teacher_raw_mean_iou"
        }
    }

    /// Per-image scores at threshold 0.5 (nil without ground truth).
    public struct ImageRow: Sendable {
        public var file: String
        public var teacher: MaskScores?
        public var student: MaskScores?
        public var teacherArea: Double
        public var studentArea: Double?
    }

    /// Segments every image of the set with the teacher (and the student when distilled at
    /// `step`), scores the masks and draws the panel; the table is one CSV row per image.
    public func measure(step: Int) -> EvaluationOutput {
        let s = gan.config.imageSize, hw = s * s
        let distilled = gan.isDistilled(step: step)
        var rows: [ImageRow] = []
        // Sums over images: IoU per threshold, precision, recall, for teacher (0) and student (1).
        var iouSums = [[Double]](repeating: [Double](repeating: 0, count: Self.thresholds.count), count: 2)
        var precisionSums = [0.0, 0.0], recallSums = [0.0, 0.0], areaSums = [0.0, 0.0]
        var baselineSums = [0.0, 0.0]  // box, ellipse
        var rawSums = [0.0, 0.0]  // the networks' own masks before `refine`: teacher, student
        // The box: the whole crop, or with `box_margin` the central box (Note [Box in its surroundings]).
        let box = gan.teacher.window?.array ?? [Float](repeating: 1, count: hw)
        let ellipse = Self.inscribedEllipse(size: s, margin: gan.config.boxMargin)
        var panel = Panel()
        var panelRows: [[Tensor]] = [[], [], [], [], []]  // inputs, teacher, student, truth, overlay
        let chunk = 16
        var start = 0
        while start < data.count {
            let indices = Array(start..<min(start + chunk, data.count))
            start += chunk
            let images = Tensor(shape: [indices.count, 3, s, s]) { data.fillImages($0, indices: indices) }
            let teacherRaw = FgGAN.masks(of: gan.teacher, images: images)
            let studentRaw = distilled ? FgGAN.masks(of: gan.student, images: images) : nil
            // What the model gives (Note [Colour refinement]); the networks' own masks are scored too.
            let teacherMasks = gan.output(teacherRaw, images: images)
            let studentMasks = studentRaw.map { gan.output($0, images: images) }
            let truth: Tensor? = data.hasMasks
                ? Tensor(shape: [indices.count, 1, s, s]) { out in
                    for (k, i) in indices.enumerated() { data.mask(i)!.copy(into: out.baseAddress! + k * hw) }
                }
                : nil
            for (k, i) in indices.enumerated() {
                let t = teacherMasks.data + k * hw
                var row = ImageRow(file: data.entries[i].file, teacher: nil, student: nil,
                                   teacherArea: Self.area(t, hw), studentArea: nil)
                areaSums[0] += row.teacherArea
                if let studentMasks {
                    row.studentArea = Self.area(studentMasks.data + k * hw, hw)
                    areaSums[1] += row.studentArea!
                }
                if let truth {
                    let g = truth.data + k * hw
                    for (b, baseline) in [box, ellipse].enumerated() {
                        baselineSums[b] += baseline.withUnsafeBufferPointer { MaskScores(predicted: $0.baseAddress!, truth: g, count: hw).iou }
                    }
                    for (m, raw) in [teacherRaw, studentRaw].enumerated() {
                        guard let raw else { continue }
                        rawSums[m] += MaskScores(predicted: raw.data + k * hw, truth: g, count: hw).iou
                    }
                    for (m, masks) in [teacherMasks, studentMasks].enumerated() {
                        guard let masks else { continue }
                        let p = masks.data + k * hw
                        let scores = MaskScores(predicted: p, truth: g, count: hw)
                        if m == 0 { row.teacher = scores } else { row.student = scores }
                        precisionSums[m] += scores.precision
                        recallSums[m] += scores.recall
                        for (j, threshold) in Self.thresholds.enumerated() {
                            iouSums[m][j] += MaskScores(predicted: p, truth: g, count: hw, threshold: threshold).iou
                        }
                    }
                }
                rows.append(row)
            }
            // The panel shows the first `panelColumns` images.
            let take = min(panelColumns - panelRows[0].count, indices.count)
            if take > 0 {
                let shown = distilled ? studentMasks! : teacherMasks
                let overlay = Self.overlay(images: images, masks: shown)
                var tmp = Panel()
                for batch in [images, teacherMasks, studentMasks, truth, overlay] {
                    if let batch { tmp.addRow(batch, count: take) } else { tmp.rows.append([]) }
                }
                for r in 0..<5 { panelRows[r] += tmp.rows[r] }
            }
        }
        for row in panelRows where !row.isEmpty { panel.rows.append(row) }

        let n = Double(max(data.count, 1))
        func modelReport(_ m: Int) -> ModelReport {
            var curve: [String: Double] = [:]
            for (j, threshold) in Self.thresholds.enumerated() {
                curve[String(format: "%.1f", threshold)] = iouSums[m][j] / n
            }
            return ModelReport(meanIoU: curve["0.5"]!, precision: precisionSums[m] / n, recall: recallSums[m] / n,
                               iouByThreshold: curve)
        }
        let teacher = data.hasMasks ? modelReport(0) : nil
        let reported = data.hasMasks ? modelReport(distilled ? 1 : 0) : nil
        var report = Report(
            step: step, images: data.count, data: dataDescription, model: distilled ? "student" : "teacher",
            distilled: distilled, meanIoU: reported?.meanIoU, precision: reported?.precision, recall: reported?.recall,
            iouByThreshold: reported?.iouByThreshold, teacherMeanIoU: teacher?.meanIoU,
            teacherPrecision: teacher?.precision, teacherRecall: teacher?.recall,
            teacherIoUByThreshold: teacher?.iouByThreshold, maskAreaMean: areaSums[distilled ? 1 : 0] / n,
            teacherMaskAreaMean: areaSums[0] / n, time: Date().timeIntervalSince1970,
            boxIoU: data.hasMasks ? baselineSums[0] / n : nil, ellipseIoU: data.hasMasks ? baselineSums[1] / n : nil,
            grabcutIoU: grabcutIoU ?? Self.grabcutIoU(data: data, margin: gan.config.boxMargin),
            grabcutImages: data.hasMasks ? Self.grabcutSample(count: data.count, size: s).count : nil)
        if data.hasMasks && gan.config.refine != "none" {
            report.refine = gan.config.refine
            report.rawMeanIoU = rawSums[distilled ? 1 : 0] / n
            report.teacherRawMeanIoU = rawSums[0] / n
        }
        var summary: String
        if let iou = report.meanIoU {
            summary = String(format: "%@ mean IoU %.3f", report.model, iou)
            if report.distilled, let t = report.teacherMeanIoU { summary += String(format: " (teacher %.3f)", t) }
            if let raw = report.rawMeanIoU, let refine = report.refine { summary += String(format: ", %.3f before refine=%@", raw, refine) }
            if let box = report.boxIoU, let ellipse = report.ellipseIoU, let grabcut = report.grabcutIoU {
                summary += String(format: "; box %.3f, ellipse %.3f, GrabCut %.3f", box, ellipse, grabcut)
            }
        } else {
            summary = String(format: "%@ mask area %.3f (no ground truth)", report.model, report.maskAreaMean)
        }
        return EvaluationOutput(report: report, panel: panel, table: Self.table(rows), summary: summary)
    }

    /// The per-image CSV: file, the teacher's and the student's IoU, precision and recall at 0.5,
    /// and their mask areas.
    static func table(_ rows: [ImageRow]) -> String {
        func cells(_ s: MaskScores?) -> String {
            guard let s else { return ",," }
            return String(format: "%.4f,%.4f,%.4f", s.iou, s.precision, s.recall)
        }
        var text = "file,teacher_iou,teacher_precision,teacher_recall,student_iou,student_precision,student_recall,teacher_area,student_area\n"
        for row in rows {
            let file = row.file.contains(",") ? "\"\(row.file)\"" : row.file
            text += "\(file),\(cells(row.teacher)),\(cells(row.student)),"
                + String(format: "%.4f,", row.teacherArea) + (row.studentArea.map { String(format: "%.4f", $0) } ?? "") + "\n"
        }
        return text
    }

    // MARK: - Helpers

    /// The ellipse inscribed in the box of an S × S crop (the whole crop, or its central box when
    /// it was cut with `margin`) as a 0/1 mask: pixel centres within it are 1.
    static func inscribedEllipse(size s: Int, margin: Double = 0) -> [Float] {
        let c = Float(s) / 2, r = c / Float(1 + 2 * margin)
        var out = [Float](repeating: 0, count: s * s)
        for i in 0..<s {
            for j in 0..<s {
                let y = (Float(i) + 0.5 - c) / r, x = (Float(j) + 0.5 - c) / r
                if x * x + y * y <= 1 { out[i * s + j] = 1 }
            }
        }
        return out
    }

    static func area(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var s = 0.0
        for i in 0..<n { s += Double(p[i]) }
        return s / Double(max(n, 1))
    }

    /// The images with the background dimmed and tinted blue: x·m + (1 − m)·(0.35·x + 0.25·blue).
    /// One overlay value: x·m + (1 − m)·(0.35·x + 0.25·blue) for channel `channel` of a pixel.
    @inline(__always)
    static func tint(_ x: Float, mask m: Float, channel: Int) -> Float {
        x * m + (1 - m) * (0.35 * x + (channel == 2 ? 0.25 : 0))
    }

    static func overlay(images: Tensor, masks: Tensor) -> Tensor {
        let b = images.shape[0], hw = images.shape[2] * images.shape[3]
        return Tensor(shape: images.shape) { out in
            for n in 0..<b {
                for c in 0..<3 {
                    for i in 0..<hw {
                        out[(n * 3 + c) * hw + i] = tint(images.data[(n * 3 + c) * hw + i], mask: masks.data[n * hw + i], channel: c)
                    }
                }
            }
        }
    }
}
