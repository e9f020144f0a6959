import ArgumentParser
import Carve
import Foundation

/// `carve report`: one self-contained HTML page about a run folder, and PNGs of its charts.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report of a run folder (charts of its metrics and evaluations, the latest panel).",
        discussion: """
            The page (default RUN/report.html) has inline SVG charts of metrics.jsonl (losses, D(x) and \
            D(G(z)), mask area against area_target, every other metric, fg's distillation, step time and \
            communication share) and of every eval/*.json number against step, and the latest panels \
            as embedded PNGs; it needs no network and no script. PNG versions of the charts go to \
            RUN/report/NAME.png. TensorBoard reads the same metrics from RUN/events.out.tfevents.*.
            """)
    @Argument(help: ArgumentHelp("The run folder (carve train --run-dir).", valueName: "run")) var folder: String
    @Option(help: "The HTML file to write (default RUN/report.html).") var out: String?

    func run() throws {
        try reportingErrors {
            let written = try ReportPage.write(run: URL(fileURLWithPath: folder), out: out.map { URL(fileURLWithPath: $0) })
            print("carve: wrote \(written.page.path) and \(written.charts.count) chart PNGs in \(written.charts.first?.deletingLastPathComponent().path ?? folder)")
        }
    }
}
