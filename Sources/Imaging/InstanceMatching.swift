// Scores of a predicted instance label map against a true one: the DSB 2018 / StarDist
// "average precision" TP / (TP + FP + FN) at IoU thresholds, and the count error.

/// How well predicted instances match true ones, at one or several IoU thresholds.
///
/// A predicted instance and a true instance match at threshold τ when their IoU is > τ; for
/// τ ≥ 0.5 a true instance can overlap at most one prediction with IoU > 0.5, so matching is
/// unique and needs no assignment search. At each τ: TP = matched pairs, FP = unmatched
/// predictions, FN = unmatched true instances, AP(τ) = TP / (TP + FP + FN) (1 when both maps
/// are empty). `ap50` is AP(0.5); `apMean` the mean of AP(0.5), AP(0.55), …, AP(0.95).
///
/// ```swift
/// let m = InstanceMatching(predicted: ours, truth: labels)
/// print(m.ap50, m.apMean, m.predictedCount, m.trueCount)
/// ```
public struct InstanceMatching: Sendable, Equatable {
    /// The thresholds of `apMean`: 0.5, 0.55, …, 0.95.
    public static let thresholds: [Double] = (0..<10).map { 0.5 + 0.05 * Double($0) }

    /// AP(τ) for each of `thresholds`.
    public var apByThreshold: [Double]
    /// The number of instances in each map.
    public var predictedCount: Int
    public var trueCount: Int
    /// For each true instance (ascending id), the best IoU of any prediction with it.
    public var bestIoU: [Double]

    /// AP at IoU 0.5.
    public var ap50: Double { apByThreshold[0] }
    /// The mean AP over 0.5:0.95.
    public var apMean: Double { apByThreshold.reduce(0, +) / Double(apByThreshold.count) }
    /// |predicted − true| / true (0 when both are empty, 1 for predictions without truth).
    public var countError: Double {
        trueCount == 0 ? (predictedCount == 0 ? 0 : 1) : Double(abs(predictedCount - trueCount)) / Double(trueCount)
    }

    /// Matches two label maps of the same size (0 = background in both).
    public init(predicted: LabelMap, truth: LabelMap) {
        precondition(predicted.height == truth.height && predicted.width == truth.width,
                     "InstanceMatching: \(predicted.height) × \(predicted.width) against \(truth.height) × \(truth.width)")
        var predictedArea: [UInt16: Int] = [:], trueArea: [UInt16: Int] = [:]
        var overlap: [UInt32: Int] = [:]  // (true id << 16) | predicted id
        for (p, t) in zip(predicted.labels, truth.labels) {
            if p != 0 { predictedArea[p, default: 0] += 1 }
            if t != 0 { trueArea[t, default: 0] += 1 }
            if p != 0 && t != 0 { overlap[UInt32(t) << 16 | UInt32(p), default: 0] += 1 }
        }
        var best: [UInt16: Double] = [:]
        var pairs: [Double] = []  // IoU of every overlapping pair
        for (key, inter) in overlap {
            let t = UInt16(key >> 16), p = UInt16(key & 0xffff)
            let iou = Double(inter) / Double(trueArea[t]! + predictedArea[p]! - inter)
            pairs.append(iou)
            best[t] = max(best[t] ?? 0, iou)
        }
        predictedCount = predictedArea.count
        trueCount = trueArea.count
        bestIoU = trueArea.keys.sorted().map { best[$0] ?? 0 }
        apByThreshold = Self.thresholds.map { tau in
            let tp = pairs.filter { $0 > tau }.count
            let fp = predictedArea.count - tp, fn = trueArea.count - tp
            return tp + fp + fn == 0 ? 1 : Double(tp) / Double(tp + fp + fn)
        }
    }
}
