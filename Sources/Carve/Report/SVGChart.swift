// A Chart as an inline SVG element: frame, grid and ticks, one polyline per series, dashed
// references, phase boundaries and a legend. Plain SVG 1.1 elements and attributes only.
import Foundation

/// Renders a `Chart` as one `<svg class="chart">` element for the report page.
///
/// Layout: `<svg class="chart" id="chart-NAME" data-chart="NAME">` holding `<title>`, grid
/// `<line class="grid">`, tick `<text class="tick">`, one
/// `<polyline class="series" data-name="…" data-count="N">` per series (N = its points; with
/// at most `ChartLayout.markerLimit` points each is also a `<circle class="marker">`), `<line class="reference">` per dashed target,
/// `<line class="phase-boundary">` per phase boundary, and `<g class="legend">`.
///
/// ```swift
/// let svg = SVGChart.render(chart)                    // 560 × 300
/// html += svg
/// ```
public enum SVGChart {
    /// Monospace text: 11 px, each character 0.6 em wide, so legend widths are known.
    static let text = ChartTextMetrics(charWidth: 6.6, lineHeight: 11, titleHeight: 13)

    /// The SVG element of `chart`, `width` × `height` pixels.
    public static func render(_ chart: Chart, width: Double = 560, height: Double = 300) -> String {
        let layout = ChartLayout(chart, width: width, height: height, text: text)
        var out: [String] = []
        let name = escape(chart.name)
        out.append("""
            <svg class="chart" id="chart-\(name)" data-chart="\(name)" xmlns="http://www.w3.org/2000/svg" \
            width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" role="img" \
            aria-label="\(escape(chart.title))" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="11">
            """)
        out.append("<title>\(escape(chart.title))</title>")
        out.append("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>")
        out.append("<text class=\"title\" x=\"10\" y=\"\(f(layout.titleBaseline))\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">\(escape(chart.title))</text>")

        // Grid and ticks.
        for x in layout.xTicks.values {
            let px = layout.px(x)
            out.append(line("grid", px, layout.top, px, layout.bottom, "#e4e4e4", 1))
            out.append("<text class=\"tick\" x=\"\(f(px))\" y=\"\(f(layout.bottom + 14))\" text-anchor=\"middle\" fill=\"#444\">\(escape(layout.xTicks.label(x)))</text>")
        }
        for y in layout.yTicks.values {
            let py = layout.py(y)
            out.append(line("grid", layout.left, py, layout.right, py, "#e4e4e4", 1))
            out.append("<text class=\"tick\" x=\"\(f(layout.left - 5))\" y=\"\(f(py + 4))\" text-anchor=\"end\" fill=\"#444\">\(escape(layout.yTicks.label(y)))</text>")
        }
        out.append("<rect class=\"frame\" x=\"\(f(layout.left))\" y=\"\(f(layout.top))\" width=\"\(f(layout.right - layout.left))\" height=\"\(f(layout.bottom - layout.top))\" fill=\"none\" stroke=\"#888\"/>")
        out.append("<text class=\"axis-label\" x=\"\(f((layout.left + layout.right) / 2))\" y=\"\(f(layout.bottom + 28))\" text-anchor=\"middle\" fill=\"#444\">step</text>")

        // Phase boundaries and references under the series.
        for boundary in chart.boundaries where chart.xRange.contains(boundary.x) {
            let px = layout.px(boundary.x)
            out.append(line("phase-boundary", px, layout.top, px, layout.bottom, "#555", 1.2, dash: "4 3"))
            out.append("<text class=\"boundary-label\" x=\"\(f(px + 4))\" y=\"\(f(layout.top + 12))\" fill=\"#555\">\(escape(boundary.label))</text>")
        }
        for (i, reference) in chart.references.enumerated() {
            let py = layout.py(reference.value)
            out.append(line("reference", layout.left, py, layout.right, py, colour(chart.series.count + i), 1.5,
                            dash: "6 4", name: reference.name))
        }
        for (i, series) in chart.series.enumerated() {
            let points = series.points.map { "\(f(layout.px($0.x))),\(f(layout.py($0.y)))" }.joined(separator: " ")
            out.append("<polyline class=\"series\" data-name=\"\(escape(series.name))\" data-count=\"\(series.points.count)\" points=\"\(points)\" fill=\"none\" stroke=\"\(colour(i))\" stroke-width=\"1.6\" stroke-linejoin=\"round\"/>")
            if series.points.count <= ChartLayout.markerLimit {
                for p in series.points {
                    out.append("<circle class=\"marker\" cx=\"\(f(layout.px(p.x)))\" cy=\"\(f(layout.py(p.y)))\" r=\"2.2\" fill=\"\(colour(i))\"/>")
                }
            }
        }

        // Legend.
        out.append("<g class=\"legend\">")
        for entry in layout.legend {
            let y = entry.y - 4
            out.append(line("swatch", entry.x, y, entry.x + ChartLayout.swatch, y, colour(entry.colour), 2,
                            dash: entry.dashed ? "5 3" : nil))
            out.append("<text x=\"\(f(entry.x + ChartLayout.swatch + 4))\" y=\"\(f(entry.y))\" fill=\"#222\">\(escape(entry.name))</text>")
        }
        out.append("</g>")
        out.append("</svg>")
        return out.joined(separator: "\n")
    }

    // MARK: - Helpers

    static func line(_ cls: String, _ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ stroke: String,
                     _ width: Double, dash: String? = nil, name: String? = nil) -> String {
        var s = "<line class=\"\(cls)\""
        if let name { s += " data-name=\"\(escape(name))\"" }
        s += " x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(f(width))\""
        if let dash { s += " stroke-dasharray=\"\(dash)\"" }
        return s + "/>"
    }

    /// Series colour `index` as #rrggbb.
    static func colour(_ index: Int) -> String {
        let c = chartColour(index)
        return String(format: "#%02x%02x%02x", c.r, c.g, c.b)
    }

    /// A coordinate with at most 2 decimals.
    static func f(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// Text escaped for XML content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
