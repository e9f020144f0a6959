import Foundation
import Tensor

/// What one evaluation produced, whichever the application: its numbers (a Codable report), a
/// panel, optionally a per-image table (CSV), and a one-line summary for the progress output.
/// Written in one place for the run folder and for `carve ckpt eval`.
///
/// ```swift
/// let output = evaluation.measure(step: 500)
/// let outcome = try output.write(into: run, step: 500)   // RUN/eval/step-00000500.json, RUN/samples/….png
/// ```
public struct EvaluationOutput {
    public var report: any Encodable
    public var panel: Panel
    /// CSV text, one row per evaluated image (fg), or nil.
    public var table: String?
    /// E.g. "teacher mean IoU 0.812 (box 0.716, ellipse 0.818)".
    public var summary: String

    public init(report: any Encodable, panel: Panel, table: String? = nil, summary: String) {
        self.report = report
        self.panel = panel
        self.table = table
        self.summary = summary
    }

    /// Writes the report as JSON (atomically), the table (when there is one) and the panel PNG.
    public func write(json: URL, csv: URL, panel png: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(report), to: json)
        if let table { try AtomicFile.write(Data(table.utf8), to: csv) }
        try panel.write(path: png.path)
    }

    /// Into the run folder: RUN/eval/step-N.json (and .csv), RUN/samples/step-N.png.
    public func write(into run: RunFolder, step: Int) throws -> EvaluationOutcome {
        let json = run.eval.appendingPathComponent(RunFolder.stepName(step, ext: "json"))
        try write(json: json, csv: run.eval.appendingPathComponent(RunFolder.stepName(step, ext: "csv")),
                  panel: run.samples.appendingPathComponent(RunFolder.stepName(step, ext: "png")))
        return EvaluationOutcome(url: json, summary: summary)
    }

    /// Into a `carve ckpt eval` folder: OUT/metrics.json (returned), OUT/per-image.csv, OUT/panel.png.
    public func write(into out: URL) throws -> URL {
        let json = out.appendingPathComponent("metrics.json")
        try write(json: json, csv: out.appendingPathComponent("per-image.csv"), panel: out.appendingPathComponent("panel.png"))
        return json
    }
}
