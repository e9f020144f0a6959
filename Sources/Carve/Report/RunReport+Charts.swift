// Which charts a run gets: fixed ones for the metrics every run logs, then one per remaining
// training metric and per evaluation metric, so that every number of the run is on the page.
import Foundation

extension RunReport {
    /// Fields of metrics.jsonl that are bookkeeping, not training metrics (the timing charts
    /// show `step_seconds`, `images_per_second` and the `comm_*_seconds`).
    static let bookkeeping: Set<String> = [
        "step", "time", "world_size", "step_seconds", "images_per_second", "comm_calls",
    ]
    /// Fields of eval/*.json that describe the evaluation rather than measure the model.
    static let evaluationBookkeeping: Set<String> = ["step", "time", "samples", "images"]

    /// The charts of the report, in page order; a chart whose metrics the run never logged is left out.
    ///
    /// - training: `losses` (loss_d, loss_g), `discriminator` (d_real, d_fake), `mask-area`
    ///   (mask_area and the dashed area_target), then `train-NAME` for every other metric
    ///   (area, info, real_sign, augment_p, …);
    /// - distillation (fg): `distill-loss` (loss_distill), `distill-area` (teacher_area, student_area);
    /// - evaluation: `eval-NAME` for every number of eval/*.json, fg's `teacher_NAME` with `NAME`
    ///   (nested objects such as `iou_by_threshold`: one series per key);
    /// - timing: `step-time` (step_seconds, comm_*_seconds), `comm-share` (comm_seconds / step_seconds),
    ///   `throughput` (images_per_second).
    ///
    /// Every chart spans steps 0 to `lastStep` and marks where the distill phase begins.
    public func charts() -> [Chart] {
        let xRange = 0...Double(max(1, lastStep))
        let boundaries = phaseBoundary.map { [ChartBoundary(x: Double($0), label: "distill")] } ?? []
        var charts: [Chart] = []
        func add(_ name: String, _ title: String, _ group: Chart.Group, _ series: [ChartSeries],
                 references: [ChartReference] = []) {
            let drawn = series.filter { !$0.points.isEmpty }
            guard !drawn.isEmpty else { return }
            charts.append(Chart(name: name, title: title, group: group, xRange: xRange, series: drawn,
                                references: references, boundaries: boundaries))
        }
        let target = areaTarget.map { [ChartReference(name: "area_target", value: $0)] } ?? []

        // Training.
        add("losses", "Losses", .training, series(["loss_d", "loss_g"]))
        add("discriminator", "D(x) and D(G(z))", .training, series(["d_real", "d_fake"]))
        add("mask-area", "Mask area and its target", .training, series(["mask_area"]), references: target)
        let fixed: Set<String> = ["loss_d", "loss_g", "d_real", "d_fake", "mask_area", "loss_distill", "teacher_area",
                                  "student_area"]
        let others = Set(records.flatMap(\.values.keys)).subtracting(fixed).subtracting(Self.bookkeeping)
            .filter { !$0.hasPrefix("comm_") }.sorted()
        for name in others { add("train-" + name, name, .training, series([name])) }

        // Distillation (fg).
        add("distill-loss", "Distillation loss", .distillation, series(["loss_distill"]))
        add("distill-area", "Teacher and student mask area", .distillation, series(["teacher_area", "student_area"]),
            references: target)

        // Evaluation.
        let evaluationKeys = Set(evaluations.flatMap(\.values.keys)).subtracting(Self.evaluationBookkeeping)
        let topLevel = Set(evaluationKeys.map { String($0.split(separator: "/", maxSplits: 1)[0]) })
        func evaluationSeries(_ member: String, name: String) -> ChartSeries {
            ChartSeries(name: name, points: evaluations.compactMap { e in e.values[member].map { (Double(e.step), $0) } })
        }
        for key in topLevel.sorted() {
            let members = evaluationKeys.filter { $0.hasPrefix(key + "/") }.sorted { Self.keyOrder($0, $1) }
            if !members.isEmpty {  // a nested object: one series per key
                add("eval-" + key, key, .evaluation, members.map { evaluationSeries($0, name: String($0.dropFirst(key.count + 1))) })
            } else if key.hasPrefix("teacher_") && evaluationKeys.contains(String(key.dropFirst(8))) {
                continue  // drawn with the student's (fg)
            } else {
                let teacher = evaluationKeys.contains("teacher_" + key) ? [evaluationSeries("teacher_" + key, name: "teacher_" + key)] : []
                add("eval-" + key, key, .evaluation, [evaluationSeries(key, name: key)] + teacher)
            }
        }

        // Timing.
        let commSeconds = Set(records.flatMap(\.values.keys)).filter { $0.hasPrefix("comm_") && $0.hasSuffix("_seconds") }
        add("step-time", "Step time (s)", .timing,
            series(["step_seconds", "comm_seconds"] + commSeconds.subtracting(["comm_seconds"]).sorted()))
        add("comm-share", "Communication share of a step (comm_seconds / step_seconds)", .timing, [
            ChartSeries(name: "comm_share", points: records.compactMap { r in
                guard let c = r.values["comm_seconds"], let s = r.values["step_seconds"], s > 0 else { return nil }
                return (Double(r.step), c / s)
            }),
        ])
        add("throughput", "Images per second", .timing, series(["images_per_second"]))
        return charts
    }

    /// The step where the distill phase begins: config.json's `steps` when the records change
    /// phase there, else the last adversarial step; nil when the run never reached distillation.
    public var phaseBoundary: Int? {
        guard let lastAdversarial = records.filter({ $0.phase == "adversarial" }).map(\.step).max(),
              let firstDistill = records.filter({ $0.phase == "distill" }).map(\.step).min() else { return nil }
        if let steps = adversarialSteps, steps >= lastAdversarial && steps < firstDistill { return steps }
        return lastAdversarial
    }

    /// One series per metrics.jsonl name: (step, value) of every record that has it.
    func series(_ names: [String]) -> [ChartSeries] {
        names.map { name in
            ChartSeries(name: name, points: records.compactMap { r in r.values[name].map { (Double(r.step), $0) } })
        }
    }

    /// Sub-keys in numeric order when both are numbers ("0.5" before "0.10" is not wanted).
    static func keyOrder(_ a: String, _ b: String) -> Bool {
        let x = a.split(separator: "/").last.flatMap { Double($0) }, y = b.split(separator: "/").last.flatMap { Double($0) }
        if let x, let y { return x < y }
        return a < b
    }
}
