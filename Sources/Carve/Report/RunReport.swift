// A run folder read back for `carve report`: config.json, metrics.jsonl, eval/*.json and the
// latest panels (docs/ARCHITECTURE.md "Run folder"). Reading only; nothing here writes.
import Foundation

/// A run folder that cannot be reported on; every case names the file (and line) at fault.
public enum ReportError: LocalizedError, Equatable {
    /// The run folder does not exist or is not a folder.
    case noRunFolder(path: String)
    /// RUN/metrics.jsonl is missing (no step was logged yet, or not a run folder).
    case noMetrics(path: String)
    /// One line of metrics.jsonl is not a JSON object with an integer `step`.
    case malformedLine(path: String, line: Int, reason: String)
    /// metrics.jsonl holds no record at all.
    case emptyMetrics(path: String)
    /// config.json or an eval/*.json file exists but does not parse as a JSON object.
    case malformedFile(path: String, reason: String)
    /// The report or its charts could not be written.
    case cannotWrite(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .noRunFolder(let path): "\(path): no such run folder"
        case .noMetrics(let path): "\(path): no such file (a run folder has metrics.jsonl once a step is logged)"
        case .malformedLine(let path, let line, let reason): "\(path):\(line): \(reason)"
        case .emptyMetrics(let path): "\(path): no metrics records"
        case .malformedFile(let path, let reason): "\(path): \(reason)"
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}

/// One line of metrics.jsonl: its step, its phase and every numeric field by name.
public struct MetricsRecord: Sendable, Equatable {
    public var step: Int
    /// "adversarial", fg's "distill", or nil for records written before phases were logged.
    public var phase: String?
    public var values: [String: Double]

    public init(step: Int, phase: String?, values: [String: Double]) {
        self.step = step
        self.phase = phase
        self.values = values
    }
}

/// One RUN/eval/step-N.json: its step and its numbers, nested objects flattened as
/// `key/subkey` (fg's `iou_by_threshold/0.5`).
public struct EvaluationRecord: Sendable, Equatable {
    public var step: Int
    public var values: [String: Double]
}

/// Everything `carve report` shows about a run, read from its folder.
///
/// Layout read: RUN/config.json (optional), RUN/metrics.jsonl (required, one JSON object a
/// line with an integer `step`), RUN/eval/step-N.json (optional) and the PNG panels of the
/// latest step in RUN/samples/.
///
/// ```swift
/// let run = try RunReport.read(URL(fileURLWithPath: "runs/beans"))
/// print(run.records.count, run.config["preset"] ?? "?", run.areaTarget ?? 0)
/// let charts = run.charts()   // RunReport+Charts.swift
/// ```
public struct RunReport: Sendable {
    /// The run folder.
    public var folder: URL
    /// config.json's values as display strings (arrays joined with commas), by key.
    public var config: [String: String]
    /// config.json's `area_target`, drawn as the mask area's target.
    public var areaTarget: Double?
    /// config.json's `steps`: where fg's adversarial phase ends and distillation begins.
    public var adversarialSteps: Int?
    /// metrics.jsonl by step: in file order, but one record per step (the later one) when a
    /// resumed run logged a step twice.
    public var records: [MetricsRecord]
    /// RUN/eval/*.json, by step.
    public var evaluations: [EvaluationRecord]
    /// The PNG panels of the latest step that has any, and that step.
    public var latestPanels: [URL]
    public var latestPanelStep: Int?

    /// Reads `folder`.
    /// - Throws: `ReportError` naming the folder, the file, or the line of metrics.jsonl at fault.
    public static func read(_ folder: URL) throws -> RunReport {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ReportError.noRunFolder(path: folder.path)
        }
        let run = RunFolder(url: folder)
        let config = try readConfig(run.configURL)
        let records = try readMetrics(run.metricsURL)
        let (panels, panelStep) = latestPanels(in: run.samples)
        return RunReport(
            folder: folder, config: config.mapValues(display), areaTarget: number(config["area_target"]),
            adversarialSteps: number(config["steps"]).map { Int($0) }, records: records,
            evaluations: try readEvaluations(run.eval), latestPanels: panels, latestPanelStep: panelStep)
    }

    /// The largest step logged or evaluated (0 for none).
    public var lastStep: Int {
        max(records.map(\.step).max() ?? 0, evaluations.map(\.step).max() ?? 0)
    }

    // MARK: - Files

    static func readConfig(_ url: URL) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ReportError.malformedFile(path: url.path, reason: "not a JSON object")
        }
        return object
    }

    /// Every line of metrics.jsonl; blank lines are skipped, anything else must be an object
    /// with an integer `step`.
    static func readMetrics(_ url: URL) throws -> [MetricsRecord] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ReportError.noMetrics(path: url.path)
        }
        var records: [MetricsRecord] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }) {
                continue
            }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                throw ReportError.malformedLine(path: url.path, line: index + 1, reason: "not a JSON object")
            }
            guard let step = number(object["step"]), step == step.rounded(), step >= 0 else {
                throw ReportError.malformedLine(path: url.path, line: index + 1, reason: "no integer \"step\"")
            }
            var values: [String: Double] = [:]
            for (key, value) in object where key != "step" {
                if let x = number(value) { values[key] = x }
            }
            records.append(MetricsRecord(step: Int(step), phase: object["phase"] as? String, values: values))
        }
        guard !records.isEmpty else { throw ReportError.emptyMetrics(path: url.path) }
        // A resumed run logs again the steps after its checkpoint: the later record of a step wins.
        if zip(records, records.dropFirst()).contains(where: { $0.step >= $1.step }) {
            var last: [Int: MetricsRecord] = [:]
            for record in records { last[record.step] = record }
            records = last.values.sorted { $0.step < $1.step }
        }
        return records
    }

    /// RUN/eval/step-N.json files, sorted by step; the step comes from the file's `step` or its name.
    static func readEvaluations(_ folder: URL) throws -> [EvaluationRecord] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var out: [EvaluationRecord] = []
        for name in names where name.hasSuffix(".json") {
            let url = folder.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path),
                  let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw ReportError.malformedFile(path: url.path, reason: "not a JSON object")
            }
            guard let step = number(object["step"]).map({ Int($0) }) ?? stepOfName(name) else {
                throw ReportError.malformedFile(path: url.path, reason: "no \"step\" and no step-N name")
            }
            var values: [String: Double] = [:]
            for (key, value) in object {
                if let x = number(value) {
                    values[key] = x
                } else if let nested = value as? [String: Any] {
                    for (subkey, subvalue) in nested { if let x = number(subvalue) { values[key + "/" + subkey] = x } }
                }
            }
            out.append(EvaluationRecord(step: step, values: values))
        }
        return out.sorted { $0.step < $1.step }
    }

    /// The `step-N*.png` panels of the largest N in `folder`.
    static func latestPanels(in folder: URL) -> ([URL], Int?) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let steps = names.filter { $0.hasSuffix(".png") }.compactMap { name in stepOfName(name).map { (name, $0) } }
        guard let last = steps.map(\.1).max() else { return ([], nil) }
        return (steps.filter { $0.1 == last }.map(\.0).sorted().map { folder.appendingPathComponent($0) }, last)
    }

    /// N of "step-N.ext" or "step-N-anything.ext".
    static func stepOfName(_ name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        return Int(name.dropFirst(5).prefix { $0.isNumber })
    }

    // MARK: - Values

    /// A JSON number (or a Swift number) as Double; nil for booleans, strings, arrays, null.
    static func number(_ value: Any?) -> Double? {
        guard let value, let n = value as? NSNumber else { return nil }
        if String(cString: n.objCType) == "c" { return nil }  // Bool (and JSON true/false)
        return n.doubleValue
    }

    /// A config value as shown in the report's header.
    static func display(_ value: Any) -> String {
        if let s = value as? String { return s }
        if let array = value as? [Any] { return array.map(display).joined(separator: ",") }
        if let n = value as? NSNumber {
            if String(cString: n.objCType) == "c" { return n.boolValue ? "true" : "false" }
            let x = n.doubleValue
            return x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
        }
        return "\(value)"
    }
}
