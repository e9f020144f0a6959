// `carve report`: one self-contained HTML page about a run (inline SVG charts, the latest panels
// as base64 PNG, no script, no network) and a PNG of every chart for READMEs.
import Foundation

/// The report of a run folder: RUN/report.html and RUN/report/NAME.png.
///
/// Layout of the page: a header (`<dl class="config">`: preset, application, world size, key
/// configuration values, what was logged), then sections Training, Distillation (fg), Evaluation (with the latest
/// evaluation's numbers), Timing, each a grid of `<svg class="chart">` (SVGChart), and the
/// latest panels as `<img class="panel" src="data:image/png;base64,…">`.
/// `<meta name="carve-charts">` holds the number of charts, for scripts/check_report.sh.
///
/// ```swift
/// let written = try ReportPage.write(run: URL(fileURLWithPath: "runs/beans"))
/// print(written.page.path, written.charts.count)   // runs/beans/report.html, runs/beans/report/losses.png …
/// ```
public enum ReportPage {
    /// The configuration keys the header shows first, when config.json has them.
    static let keyConfiguration = [
        "preset", "application", "world_size", "steps", "distill_steps", "batch_size", "image_size", "layers",
        "lambda_area", "area_target", "area_penalty", "beta", "lr_d", "lr_g", "augment", "sync_bn", "seed", "data",
        "carve_version",
    ]

    /// Reads `run`, writes the page to `out` (default RUN/report.html) and one PNG per chart into
    /// `pngFolder` (default RUN/report/).
    /// - Returns: the page and the PNG files written.
    /// - Throws: `ReportError` naming the file or line at fault, or the file that could not be written.
    @discardableResult
    public static func write(run: URL, out: URL? = nil, pngFolder: URL? = nil) throws -> (page: URL, charts: [URL]) {
        let report = try RunReport.read(run)
        let charts = report.charts()
        let page = out ?? run.appendingPathComponent("report.html")
        let folder = pngFolder ?? run.appendingPathComponent("report")
        var isDirectory: ObjCBool = false
        let parent = page.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ReportError.cannotWrite(path: page.path, reason: "no such folder \(parent.path)")
        }
        try AtomicFile.write(Data(try html(report, charts: charts).utf8), to: page)  // FileError names the page
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw ReportError.cannotWrite(path: folder.path, reason: error.localizedDescription)
        }
        var pngs: [URL] = []
        for chart in charts {
            let png = folder.appendingPathComponent(chart.name + ".png")
            try ChartRaster.render(chart).write(path: png.path)
            pngs.append(png)
        }
        return (page, pngs)
    }

    /// The whole page as one HTML string.
    public static func html(_ report: RunReport, charts: [Chart]) throws -> String {
        let e = SVGChart.escape
        let name = report.folder.standardizedFileURL.lastPathComponent
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="carve-charts" content="\(charts.count)">
            <title>carve report: \(e(name))</title>
            <style>
            body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 24px; color: #222; background: #fafafa; }
            h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
            table { border-collapse: collapse; font-size: 13px; } td, th { padding: 2px 12px 2px 0; text-align: left; vertical-align: top; }
            th { font-weight: 600; color: #555; } td { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
            .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; }
            svg.chart { background: #fff; border: 1px solid #ddd; max-width: 100%; height: auto; }
            img.panel { image-rendering: pixelated; border: 1px solid #ddd; background: #fff; max-width: 100%; }
            .note { color: #666; font-size: 13px; }
            dl.config { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 2px 16px; font-size: 13px; margin: 8px 0; }
            dl.config div { display: flex; gap: 8px; } dl.config dt { font-weight: 600; color: #555; min-width: 120px; }
            dl.config dd { margin: 0; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
            </style>
            </head>
            <body>
            <header>
            <h1>carve report: \(e(name))</h1>
            <p class="note">\(e(report.folder.standardizedFileURL.path))</p>

            """
        out += headerTable(report)
        out += "</header>\n"

        let titles: [Chart.Group: String] = [.training: "Training", .distillation: "Distillation",
                                              .evaluation: "Evaluation", .timing: "Timing"]
        for group in Chart.Group.allCases {
            let members = charts.filter { $0.group == group }
            guard !members.isEmpty else { continue }
            out += "<section id=\"\(group.rawValue)\">\n<h2>\(titles[group]!)</h2>\n"
            if group == .evaluation, let last = report.evaluations.last { out += evaluationTable(last) }
            out += "<div class=\"charts\">\n"
            for chart in members { out += SVGChart.render(chart) + "\n" }
            out += "</div>\n</section>\n"
        }

        if !report.latestPanels.isEmpty, let step = report.latestPanelStep {
            out += "<section id=\"panels\">\n<h2>Latest panel (step \(step))</h2>\n"
            for panel in report.latestPanels {
                guard let data = FileManager.default.contents(atPath: panel.path) else {
                    throw ReportError.malformedFile(path: panel.path, reason: "cannot read it")
                }
                out += "<figure><img class=\"panel\" alt=\"\(e(panel.lastPathComponent))\" src=\"data:image/png;base64,\(data.base64EncodedString())\">"
                out += "<figcaption class=\"note\">\(e(panel.lastPathComponent))</figcaption></figure>\n"
            }
            out += "</section>\n"
        }
        out += "</body>\n</html>\n"
        return out
    }

    // MARK: - Tables

    /// Key configuration values, then what was logged.
    static func headerTable(_ report: RunReport) -> String {
        let e = SVGChart.escape
        var rows = keyConfiguration.compactMap { key in report.config[key].map { (key, $0) } }
        let steps = report.records.map(\.step)
        rows.append(("logged steps", "\(steps.count) (\(steps.min()!)–\(steps.max()!))"))
        rows.append(("evaluations", "\(report.evaluations.count)"))
        if let boundary = report.phaseBoundary { rows.append(("distill from step", "\(boundary)")) }
        let seconds = report.records.compactMap { $0.values["step_seconds"] }
        if !seconds.isEmpty {
            let sorted = seconds.sorted()
            rows.append(("median step time", String(format: "%.4f s", sorted[sorted.count / 2])))
        }
        var out = "<dl class=\"config\">\n"
        for (key, value) in rows { out += "<div><dt>\(e(key))</dt><dd>\(e(value))</dd></div>\n" }
        out += "</dl>\n"
        let others = report.config.keys.filter { !keyConfiguration.contains($0) }.sorted()
        if !others.isEmpty {
            out += "<details><summary class=\"note\">all configuration values</summary>\n<table class=\"config-all\">\n"
            for key in others { out += "<tr><th>\(e(key))</th><td>\(e(report.config[key]!))</td></tr>\n" }
            out += "</table>\n</details>\n"
        }
        return out
    }

    /// The latest evaluation's numbers (nested values as key/subkey).
    static func evaluationTable(_ evaluation: EvaluationRecord) -> String {
        let e = SVGChart.escape
        var out = "<table class=\"evaluation\">\n<tr><th>latest evaluation</th><td>step \(evaluation.step)</td></tr>\n"
        for key in evaluation.values.keys.sorted() where !RunReport.evaluationBookkeeping.contains(key) && !key.contains("/") {
            out += "<tr><th>\(e(key))</th><td>\(String(format: "%.4f", evaluation.values[key]!))</td></tr>\n"
        }
        return out + "</table>\n"
    }
}
