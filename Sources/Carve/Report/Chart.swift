// A line chart of metrics against step, and its layout in pixels: what SVGChart (the report
// page) and ChartRaster (the PNGs) both draw, so the two agree on ticks, legend and scale.
import Foundation

/// A line chart: series of (step, value) points, horizontal dashed references (a target) and
/// vertical phase boundaries, over a shared step range.
///
/// ```swift
/// let chart = Chart(name: "losses", title: "Losses", group: .training, xRange: 0...40,
///                   series: [ChartSeries(name: "loss_d", points: [(5, 1.39), (10, 1.38)])])
/// let svg = SVGChart.render(chart)          // or ChartRaster.render(chart).write(path: "losses.png")
/// ```
public struct Chart: Sendable {
    /// Where a chart appears on the report page.
    public enum Group: String, Sendable, CaseIterable {
        case training, distillation, evaluation, timing
    }

    /// A file-name-safe identifier: the PNG is RUN/report/NAME.png, the SVG's id chart-NAME.
    public var name: String
    public var title: String
    public var group: Group
    /// The x (step) range every chart of a report shares.
    public var xRange: ClosedRange<Double>
    public var series: [ChartSeries]
    /// Dashed horizontal lines across the whole x range (the area target).
    public var references: [ChartReference] = []
    /// Vertical lines (the adversarial → distill boundary).
    public var boundaries: [ChartBoundary] = []

    public init(name: String, title: String, group: Group, xRange: ClosedRange<Double>, series: [ChartSeries],
                references: [ChartReference] = [], boundaries: [ChartBoundary] = []) {
        self.name = name
        self.title = title
        self.group = group
        self.xRange = xRange
        self.series = series
        self.references = references
        self.boundaries = boundaries
    }

    /// The legend entries in drawing order: the series, then the references.
    var legend: [(name: String, colour: Int, dashed: Bool)] {
        series.indices.map { (series[$0].name, $0, false) }
            + references.indices.map { (references[$0].name, series.count + $0, true) }
    }
}

/// One line of a chart: its legend name and its points (x = step), in step order.
public struct ChartSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public init(name: String, points: [(x: Double, y: Double)]) {
        self.name = name
        self.points = points.filter { $0.x.isFinite && $0.y.isFinite }
    }
}

/// A dashed horizontal line at `value`, with its legend name ("area_target").
public struct ChartReference: Sendable {
    public var name: String
    public var value: Double
    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// A vertical line at step `x`, labelled (the phase that begins there).
public struct ChartBoundary: Sendable {
    public var x: Double
    public var label: String
    public init(x: Double, label: String) {
        self.x = x
        self.label = label
    }
}

// MARK: - Colours

/// The series colours (matplotlib's tab10), as 0–255 RGB; entry i % 10 colours series i.
let chartPalette: [(r: Int, g: Int, b: Int)] = [
    (0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c), (0xd6, 0x27, 0x28), (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b), (0xe3, 0x77, 0xc2), (0x7f, 0x7f, 0x7f), (0xbc, 0xbd, 0x22), (0x17, 0xbe, 0xcf),
]

func chartColour(_ index: Int) -> (r: Int, g: Int, b: Int) { chartPalette[index % chartPalette.count] }

// MARK: - Ticks

/// "Nice" axis ticks (1, 2 or 5 × 10^k apart) covering a range, and their labels.
struct AxisTicks: Equatable {
    var values: [Double]
    var step: Double
    /// The axis range: from the first tick to the last.
    var domain: ClosedRange<Double> { values.first!...values.last! }

    /// About `count` ticks from at or below `low` to at or above `high`, at least
    /// `minimumStep` apart (1 for steps).
    init(low: Double, high: Double, count: Int = 5, minimumStep: Double = 0) {
        var low = low, high = high
        if !(low.isFinite && high.isFinite) { (low, high) = (0, 1) }
        if high - low <= 1e-12 * max(abs(low), abs(high), 1e-300) {
            let pad = low == 0 ? 1 : abs(low) * 0.1
            (low, high) = (low - pad, high + pad)
        }
        let raw = (high - low) / Double(max(1, count - 1))
        let magnitude = pow(10, floor(log10(raw)))
        let fraction = raw / magnitude
        let step = max(minimumStep, (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude)
        let first = floor(low / step + 1e-9), last = ceil(high / step - 1e-9)
        let values = stride(from: first, through: last, by: 1).map { $0 * step }
        self.step = step
        self.values = values.count >= 2 ? values : [first * step, (first + 1) * step]
    }

    /// The label of a tick: fixed decimals enough to tell ticks apart, or %g when tiny or huge.
    func label(_ value: Double) -> String {
        let v = abs(value) < step * 1e-6 ? 0 : value
        let largest = values.map(abs).max() ?? 0
        if step < 1e-3 || largest >= 1e6 { return String(format: "%g", v) }
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}

// MARK: - Layout

/// Text measures of whoever draws: SVG text in a monospace font, or ChartRaster's pixel font.
struct ChartTextMetrics {
    /// Advance of one character of tick and legend text.
    var charWidth: Double
    /// Height of a line of tick and legend text.
    var lineHeight: Double
    /// Height of the title line.
    var titleHeight: Double
}

/// Where everything of a chart goes in a `width` × `height` picture: the plot rectangle, the
/// ticks, the legend rows; and the map from (step, value) to pixels (y grows downwards).
struct ChartLayout {
    let width: Double, height: Double
    let left: Double, top: Double, right: Double, bottom: Double
    let xTicks: AxisTicks, yTicks: AxisTicks
    /// Legend entries with the position of their swatch's left end and text baseline.
    let legend: [(name: String, colour: Int, dashed: Bool, x: Double, y: Double)]
    let titleBaseline: Double
    static let swatch = 18.0
    /// Series with at most this many points also get a dot at each point.
    static let markerLimit = 40

    init(_ chart: Chart, width: Double, height: Double, text: ChartTextMetrics) {
        self.width = width
        self.height = height
        xTicks = AxisTicks(low: chart.xRange.lowerBound, high: chart.xRange.upperBound, count: 6, minimumStep: 1)
        // 3% of the range on either side keeps lines off the frame (not below 0 for data ≥ 0).
        let ys = chart.series.flatMap { $0.points.map(\.y) } + chart.references.map(\.value)
        let (low, high) = (ys.min() ?? 0, ys.max() ?? 1), pad = (high - low) * 0.03
        yTicks = AxisTicks(low: low >= 0 ? max(0, low - pad) : low - pad, high: high + pad, count: 5)

        let margin = 10.0
        titleBaseline = margin + text.titleHeight
        var entries: [(String, Int, Bool, Double, Double)] = []
        var x = margin, y = titleBaseline + 6 + text.lineHeight
        for item in chart.legend {
            let w = Self.swatch + 4 + Double(item.name.count) * text.charWidth + 14
            if x + w > width - margin && x > margin {
                x = margin
                y += text.lineHeight + 4
            }
            entries.append((item.name, item.colour, item.dashed, x, y))
            x += w
        }
        legend = entries
        let ticks = yTicks
        let tickWidth = ticks.values.map { Double(ticks.label($0).count) * text.charWidth }.max() ?? 0
        left = margin + tickWidth + 8
        right = width - margin - Double(xTicks.label(xTicks.values.last!).count) * text.charWidth / 2
        top = y + text.lineHeight * 0.6 + 6
        bottom = height - margin - 2 * text.lineHeight - 6
    }

    /// The pixel column of step `x`.
    func px(_ x: Double) -> Double {
        left + (x - xTicks.domain.lowerBound) / (xTicks.domain.upperBound - xTicks.domain.lowerBound) * (right - left)
    }

    /// The pixel row of value `y`.
    func py(_ y: Double) -> Double {
        bottom - (y - yTicks.domain.lowerBound) / (yTicks.domain.upperBound - yTicks.domain.lowerBound) * (bottom - top)
    }
}
