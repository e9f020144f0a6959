// A Chart drawn into an RGB Image (for RUN/report/NAME.png): the same layout as the SVG, drawn
// with three primitives — filled rectangles, thick (optionally dashed) line segments and the
// 5 × 7 pixel font — on a canvas 3× larger in each direction, then box-filtered down, which
// anti-aliases the lines.
import Foundation

/// Renders a `Chart` as a PNG-ready RGB `Image`.
///
/// Layout: white background; title (pixel font, 2×), legend rows, grid and tick labels, the
/// series as 2-pixel lines in the report's palette, dashed references, dashed grey phase
/// boundaries. Upper-case letters are drawn in lower case.
///
/// - Parameters:
///   - chart: the chart (RunReport.charts()).
///   - width, height: the picture's size in pixels.
///
/// ```swift
/// for chart in try RunReport.read(run).charts() {
///     try ChartRaster.render(chart).write(path: "report/\(chart.name).png")
/// }
/// ```
public enum ChartRaster {
    static let text = ChartTextMetrics(charWidth: Double(PixelFont.advance), lineHeight: 10, titleHeight: 14)

    public static func render(_ chart: Chart, width: Int = 640, height: Int = 360) -> Image {
        let layout = ChartLayout(chart, width: Double(width), height: Double(height), text: text)
        var canvas = RasterCanvas(width: width, height: height, scale: 3)
        let ink = RasterColour(0.13, 0.13, 0.13), grey = RasterColour(0.27, 0.27, 0.27)
        let gridColour = RasterColour(0.9, 0.9, 0.9), frameColour = RasterColour(0.55, 0.55, 0.55)

        canvas.text(chart.title, x: 10, baseline: layout.titleBaseline, size: 2, colour: ink)
        for x in layout.xTicks.values {
            let px = snap(layout.px(x))
            canvas.line(px, layout.top, px, layout.bottom, width: 1, colour: gridColour)
            canvas.text(layout.xTicks.label(x), x: px, baseline: layout.bottom + 12, size: 1, colour: grey, anchor: .middle)
        }
        for y in layout.yTicks.values {
            let py = snap(layout.py(y))
            canvas.line(layout.left, py, layout.right, py, width: 1, colour: gridColour)
            canvas.text(layout.yTicks.label(y), x: layout.left - 5, baseline: py + 4, size: 1, colour: grey, anchor: .end)
        }
        let (l, r, t, b) = (snap(layout.left), snap(layout.right), snap(layout.top), snap(layout.bottom))
        for (x0, y0, x1, y1) in [(l, t, r, t), (r, t, r, b), (r, b, l, b), (l, b, l, t)] {
            canvas.line(x0, y0, x1, y1, width: 1, colour: frameColour)
        }
        canvas.text("step", x: (layout.left + layout.right) / 2, baseline: layout.bottom + 26, size: 1, colour: grey,
                    anchor: .middle)

        for boundary in chart.boundaries where chart.xRange.contains(boundary.x) {
            let px = snap(layout.px(boundary.x))
            canvas.polyline([(px, layout.top), (px, layout.bottom)], width: 1, colour: grey, dash: (4, 3))
            canvas.text(boundary.label, x: px + 4, baseline: layout.top + 11, size: 1, colour: grey)
        }
        for (i, reference) in chart.references.enumerated() {
            let py = layout.py(reference.value)
            canvas.polyline([(layout.left, py), (layout.right, py)], width: 1.5,
                            colour: RasterColour(chartColour(chart.series.count + i)), dash: (6, 4))
        }
        for (i, series) in chart.series.enumerated() {
            let points = series.points.map { (layout.px($0.x), layout.py($0.y)) }
            canvas.polyline(points, width: 2, colour: RasterColour(chartColour(i)))
            if points.count <= ChartLayout.markerLimit {
                for (x, y) in points { canvas.line(x, y, x, y, width: 4.5, colour: RasterColour(chartColour(i))) }
            }
        }
        for entry in layout.legend {
            let y = entry.y - 3.5
            canvas.polyline([(entry.x, y), (entry.x + ChartLayout.swatch, y)], width: 2,
                            colour: RasterColour(chartColour(entry.colour)), dash: entry.dashed ? (5, 3) : nil)
            canvas.text(entry.name, x: entry.x + ChartLayout.swatch + 4, baseline: entry.y, size: 1, colour: ink)
        }
        return canvas.image()
    }

    /// The centre of the pixel `x` falls in, so that a 1-pixel line covers exactly one pixel.
    static func snap(_ x: Double) -> Double { x.rounded(.down) + 0.5 }
}

// MARK: - Canvas

/// An RGB colour, each channel in [0, 1].
struct RasterColour {
    var r: Float, g: Float, b: Float
    init(_ r: Float, _ g: Float, _ b: Float) { (self.r, self.g, self.b) = (r, g, b) }
    init(_ c: (r: Int, g: Int, b: Int)) { self.init(Float(c.r) / 255, Float(c.g) / 255, Float(c.b) / 255) }
}

/// A white RGB canvas `width` × `height` pixels, stored `scale` times finer in each direction;
/// coordinates are in final pixels (Double), `image()` averages each scale × scale block.
// W = width · scale, H = height · scale; pixels: planar RGB [3, H, W].
struct RasterCanvas {
    enum Anchor { case start, middle, end }

    let width: Int, height: Int, scale: Int
    private var pixels: [Float]
    private var fineWidth: Int { width * scale }
    private var fineHeight: Int { height * scale }

    init(width: Int, height: Int, scale: Int) {
        (self.width, self.height, self.scale) = (width, height, scale)
        pixels = [Float](repeating: 1, count: 3 * width * scale * height * scale)
    }

    /// Sets the fine pixel (x, y) when inside the canvas.
    private mutating func set(_ x: Int, _ y: Int, _ c: RasterColour) {
        guard x >= 0, y >= 0, x < fineWidth, y < fineHeight else { return }
        let plane = fineWidth * fineHeight, i = y * fineWidth + x
        pixels[i] = c.r
        pixels[plane + i] = c.g
        pixels[2 * plane + i] = c.b
    }

    /// Fills [x0, x1) × [y0, y1) (final pixels).
    mutating func fill(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, colour: RasterColour) {
        let s = Double(scale)
        for y in Int((y0 * s).rounded())..<Int((y1 * s).rounded()) {
            for x in Int((x0 * s).rounded())..<Int((x1 * s).rounded()) { set(x, y, colour) }
        }
    }

    /// A segment `width` pixels thick with round ends.
    mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double, colour: RasterColour) {
        var phase = 0.0
        segment(x0, y0, x1, y1, width: width, colour: colour, dash: nil, phase: &phase)
    }

    /// Joined segments through `points`; `dash` = (on, off) lengths in pixels, continued across joins.
    mutating func polyline(_ points: [(Double, Double)], width: Double, colour: RasterColour,
                           dash: (Double, Double)? = nil) {
        var phase = 0.0
        for (a, b) in zip(points, points.dropFirst()) {
            segment(a.0, a.1, b.0, b.1, width: width, colour: colour, dash: dash, phase: &phase)
        }
    }

    // Every fine pixel whose centre lies within width/2 of the segment (and, dashed, in an "on"
    // stretch of the arc length so far) takes the colour.
    private mutating func segment(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Double,
                                  colour: RasterColour, dash: (Double, Double)?, phase: inout Double) {
        let s = Double(scale)
        let (ax, ay, bx, by) = (x0 * s, y0 * s, x1 * s, y1 * s)
        let half = width * s / 2
        let (dx, dy) = (bx - ax, by - ay)
        let length2 = dx * dx + dy * dy, length = length2.squareRoot()
        let (xLow, xHigh) = (max(0, Int(floor(min(ax, bx) - half))), min(fineWidth - 1, Int(ceil(max(ax, bx) + half))))
        let (yLow, yHigh) = (max(0, Int(floor(min(ay, by) - half))), min(fineHeight - 1, Int(ceil(max(ay, by) + half))))
        guard xLow <= xHigh, yLow <= yHigh else { phase += length / s; return }
        for y in yLow...yHigh {
            for x in xLow...xHigh {
                let (px, py) = (Double(x) + 0.5 - ax, Double(y) + 0.5 - ay)
                let t = length2 > 0 ? min(1, max(0, (px * dx + py * dy) / length2)) : 0
                let (ex, ey) = (px - t * dx, py - t * dy)
                guard ex * ex + ey * ey <= half * half else { continue }
                if let dash {
                    let along = phase + t * length / s
                    if along.truncatingRemainder(dividingBy: dash.0 + dash.1) >= dash.0 { continue }
                }
                set(x, y, colour)
            }
        }
        phase += length / s
    }

    /// `string` in the pixel font at `size`× (7·size pixels tall), its baseline at `baseline`.
    mutating func text(_ string: String, x: Double, baseline: Double, size: Int, colour: RasterColour,
                       anchor: Anchor = .start) {
        let advance = Double(PixelFont.advance * size)
        let total = Double(string.count) * advance - Double(size)
        var left = (anchor == .start ? x : anchor == .middle ? x - total / 2 : x - total).rounded()
        let top = (baseline - Double(PixelFont.height * size)).rounded()
        let cell = Double(size)
        for c in string {
            if let rows = PixelFont.glyph(c) {
                for (row, bits) in rows.enumerated() {
                    for (column, bit) in bits.enumerated() where bit == "#" {
                        let gx = left + Double(column) * cell, gy = top + Double(row) * cell
                        fill(gx, gy, gx + cell, gy + cell, colour: colour)
                    }
                }
            }
            left += advance
        }
    }

    /// The canvas at its final size: each pixel the mean of its scale × scale fine pixels.
    func image() -> Image {
        var out = [Float](repeating: 0, count: 3 * width * height)
        let plane = fineWidth * fineHeight, norm = 1 / Float(scale * scale)
        pixels.withUnsafeBufferPointer { p in
            for c in 0..<3 {
                for y in 0..<height {
                    for x in 0..<width {
                        var sum: Float = 0
                        for v in 0..<scale {
                            let row = c * plane + (y * scale + v) * fineWidth + x * scale
                            for u in 0..<scale { sum += p[row + u] }
                        }
                        out[(c * height + y) * width + x] = sum * norm
                    }
                }
            }
        }
        return Image(channels: 3, height: height, width: width, pixels: out)
    }
}
