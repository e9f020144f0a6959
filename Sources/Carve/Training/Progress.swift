import Foundation

/// Rank 0's progress display: a live bar on a terminal, plain periodic lines otherwise.
final class Progress {
    let total: Int
    let first: Int
    let bar: Bool
    let enabled: Bool
    let started = Date()
    var lastPrint = Date.distantPast
    var lastLine = ""

    init(total: Int, first: Int, bar: Bool, enabled: Bool) {
        self.total = total
        self.first = first
        self.bar = bar
        self.enabled = enabled
    }

    /// Shows `line` (the step's metrics, already formatted) with the throughput and the ETA.
    func update(step: Int, imagesPerSecond: Double, line metricsLine: String) {
        guard enabled else { return }
        let now = Date()
        let done = step - first
        let elapsed = now.timeIntervalSince(started)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - step) : 0
        // Time first: when the line must be cut to the terminal, the metrics at its end go.
        let stats = String(format: "%@ elapsed, ETA %@, %.1f img/s ", Self.duration(elapsed), Self.duration(eta),
                           imagesPerSecond) + metricsLine
        if bar {
            guard now.timeIntervalSince(lastPrint) > 0.2 || step == total else { return }
            lastPrint = now
            // One line that fits the terminal (a wrapped line would scroll five times a second):
            // the bar shrinks first, then the metrics are cut.
            let columns = Self.terminalColumns()
            let counter = " \(step)/\(total) "
            let width = max(0, min(24, columns - 2 - counter.count - stats.count - 1))
            let filled = total > 0 ? min(width, width * step / total) : width
            var line = (width > 0 ? "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]" : "")
                + counter + stats
            if line.count >= columns { line = String(line.prefix(max(columns - 1, 1))) }
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
            lastLine = line
        } else {
            guard now.timeIntervalSince(lastPrint) > 10 || step == total || step == first + 1 else { return }
            lastPrint = now
            FileHandle.standardError.write(Data("step \(step)/\(total) \(stats)\n".utf8))
        }
    }

    func finish() {
        if enabled && bar && !lastLine.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
        lastLine = ""
    }

    /// The width of the terminal on stderr (TIOCGWINSZ), else $COLUMNS, else 80.
    static func terminalColumns() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
