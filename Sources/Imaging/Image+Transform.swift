// Geometric transforms of an Image: resize (area when shrinking, bilinear when growing), flips,
// crops, and channel conversion. C = channels, H × W = spatial; all planar CHW.

// MARK: - Resampling weights

/// For each output position along one axis, the input positions and weights that make it.
///
/// Shrinking (out < in) uses the area (box) filter: output cell j covers input interval
/// [j·s, (j+1)·s) with s = in/out, each input pixel weighted by its overlap / s. Growing uses
/// bilinear interpolation with half-pixel centres (x_in = (j + 0.5)·s − 0.5, clamped at edges).
struct ResampleTable {
    var starts: [Int]     // [out] first input index
    var counts: [Int]     // [out] number of taps
    var weights: [Float]  // [out × maxTaps] weights, zero-padded
    var maxTaps: Int

    init(input: Int, output: Int) {
        precondition(input >= 1 && output >= 1, "ResampleTable: sizes \(input) → \(output) must be positive")
        let s = Double(input) / Double(output)
        var starts = [Int](), counts = [Int](), taps = [[Float]]()
        for j in 0..<output {
            if output < input {
                let lo = Double(j) * s, hi = Double(j + 1) * s
                let first = Int(lo.rounded(.down)), last = min(input - 1, Int((hi - 1e-9).rounded(.down)))
                var w = [Float]()
                for i in first...last {
                    let overlap = min(hi, Double(i + 1)) - max(lo, Double(i))
                    w.append(Float(overlap / s))
                }
                starts.append(first)
                counts.append(w.count)
                taps.append(w)
            } else {
                let x = min(max((Double(j) + 0.5) * s - 0.5, 0), Double(input - 1))
                let i0 = Int(x.rounded(.down)), i1 = min(i0 + 1, input - 1)
                let f = Float(x - Double(i0))
                starts.append(i0)
                if i1 == i0 {
                    counts.append(1)
                    taps.append([1])
                } else {
                    counts.append(2)
                    taps.append([1 - f, f])
                }
            }
        }
        maxTaps = taps.map(\.count).max() ?? 1
        weights = [Float](repeating: 0, count: output * maxTaps)
        for j in 0..<output {
            for (t, w) in taps[j].enumerated() { weights[j * maxTaps + t] = w }
        }
        self.starts = starts
        self.counts = counts
    }
}

/// Resamples one plane src [h, w] (row stride `srcStride`) into dst [oh, ow] with the tables,
/// rows first into `scratch` [h, ow], then columns.
func resamplePlane(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, srcStride: Int,
                   h: Int, ow: Int, oh: Int, across: ResampleTable, down: ResampleTable,
                   scratch: UnsafeMutablePointer<Float>) {
    across.weights.withUnsafeBufferPointer { wx in
        for y in 0..<h {
            let row = src + y * srcStride
            let out = scratch + y * ow
            for j in 0..<ow {
                let start = across.starts[j], n = across.counts[j], base = j * across.maxTaps
                var sum: Float = 0
                for t in 0..<n { sum += wx[base + t] * row[start + t] }
                out[j] = sum
            }
        }
    }
    down.weights.withUnsafeBufferPointer { wy in
        for i in 0..<oh {
            let start = down.starts[i], n = down.counts[i], base = i * down.maxTaps
            let out = dst + i * ow
            for j in 0..<ow { out[j] = 0 }
            for t in 0..<n {
                let w = wy[base + t]
                let row = scratch + (start + t) * ow
                for j in 0..<ow { out[j] += w * row[j] }
            }
        }
    }
}

// MARK: - Transforms

extension Image {
    /// This image resampled to `height` × `width`: area averaging along an axis that shrinks,
    /// bilinear interpolation (half-pixel centres) along one that grows.
    public func resized(height oh: Int, width ow: Int) -> Image {
        precondition(oh >= 1 && ow >= 1, "Image.resized: target \(oh) × \(ow) must be positive")
        if oh == height && ow == width { return self }
        return region(x: 0, y: 0, width: width, height: height, resizedTo: oh, ow)
    }

    /// The `width` × `height` window at (x, y), resampled to `oh` × `ow` in one pass.
    ///
    /// Cheaper than `cropped(...).resized(...)` because the crop is never materialised.
    public func region(x: Int, y: Int, width cw: Int, height ch: Int, resizedTo oh: Int, _ ow: Int) -> Image {
        precondition(x >= 0 && y >= 0 && cw >= 1 && ch >= 1 && x + cw <= width && y + ch <= height,
                     "Image.region: window x \(x) y \(y) \(cw) × \(ch) outside the \(width) × \(height) image")
        var out = Image(channels: channels, height: oh, width: ow)
        let across = ResampleTable(input: cw, output: ow), down = ResampleTable(input: ch, output: oh)
        var scratch = [Float](repeating: 0, count: ch * ow)
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                scratch.withUnsafeMutableBufferPointer { tmp in
                    for c in 0..<channels {
                        let window = src.baseAddress! + (c * height + y) * width + x
                        let plane = dst.baseAddress! + c * oh * ow
                        resamplePlane(plane, window, srcStride: width,
                                      h: ch, ow: ow, oh: oh, across: across, down: down,
                                      scratch: tmp.baseAddress!)
                        // Every output is a weighted mean of window values, but its weights sum
                        // to 1 only up to rounding: a white window gave 1.0000001, outside
                        // Image's [0, 1] (found by fuzz/, the jpeg target). Clamp each output
                        // into the window's range, where a weighted mean lies.
                        var lo = Float.infinity, hi = -Float.infinity
                        for r in 0..<ch {
                            for k in 0..<cw { lo = min(lo, window[r * width + k]); hi = max(hi, window[r * width + k]) }
                        }
                        for i in 0..<(oh * ow) { plane[i] = min(max(plane[i], lo), hi) }
                    }
                }
            }
        }
        return out
    }

    /// The `width` × `height` window whose top-left corner is (x, y); it must lie inside.
    public func cropped(x: Int, y: Int, width cw: Int, height ch: Int) -> Image {
        precondition(x >= 0 && y >= 0 && cw >= 1 && ch >= 1 && x + cw <= width && y + ch <= height,
                     "Image.cropped: window x \(x) y \(y) \(cw) × \(ch) outside the \(width) × \(height) image")
        var out = Image(channels: channels, height: ch, width: cw)
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    for r in 0..<ch {
                        let from = src.baseAddress! + (c * height + y + r) * width + x
                        (dst.baseAddress! + (c * ch + r) * cw).update(from: from, count: cw)
                    }
                }
            }
        }
        return out
    }

    /// What a window reaching past an image's edge holds there.
    public enum BeyondEdge: Sendable {
        /// The nearest edge pixel (an image's surroundings, continued).
        case repeatEdge
        /// Zero (a mask: no object outside the image).
        case zero
    }

    /// The `cw` × `ch` window at (`x`, `y`), which may reach outside the image: pixels there are
    /// `beyond` (a box crop's ring at the image's border).
    public func cropped(x: Int, y: Int, width cw: Int, height ch: Int, beyondEdge beyond: BeyondEdge) -> Image {
        precondition(cw >= 1 && ch >= 1 && width >= 1 && height >= 1, "Image.cropped(beyondEdge:): an empty window or image")
        var out = Image(channels: channels, height: ch, width: cw)
        for c in 0..<channels {
            for r in 0..<ch {
                let inRows = y + r >= 0 && y + r < height
                let sy = Swift.min(Swift.max(y + r, 0), height - 1)
                for q in 0..<cw {
                    let inside = inRows && x + q >= 0 && x + q < width
                    guard inside || beyond == .repeatEdge else { continue }
                    let sx = Swift.min(Swift.max(x + q, 0), width - 1)
                    out.pixels[(c * ch + r) * cw + q] = pixels[(c * height + sy) * width + sx]
                }
            }
        }
        return out
    }

    /// The mirror image left ↔ right.
    public func flippedHorizontally() -> Image {
        var out = self
        out.pixels.withUnsafeMutableBufferPointer { p in
            for row in 0..<(channels * height) {
                var a = row * width, b = a + width - 1
                while a < b { p.swapAt(a, b); a += 1; b -= 1 }
            }
        }
        return out
    }

    /// The mirror image top ↔ bottom.
    public func flippedVertically() -> Image {
        var out = self
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    for y in 0..<height {
                        let from = src.baseAddress! + (c * height + y) * width
                        (dst.baseAddress! + (c * height + height - 1 - y) * width).update(from: from, count: width)
                    }
                }
            }
        }
        return out
    }

    /// The three colour channels: gray is repeated, alpha is dropped.
    public func rgb() -> Image {
        switch channels {
        case 3: return self
        case 1, 2:
            let gray = Array(pixels[0..<planeSize])
            return Image(channels: 3, height: height, width: width, pixels: gray + gray + gray)
        default:
            return Image(channels: 3, height: height, width: width, pixels: Array(pixels[0..<(3 * planeSize)]))
        }
    }

    /// A single gray channel: the first channel of gray images, Rec. 601 luma of colour ones.
    public func gray() -> Image {
        if channels <= 2 {
            return Image(channels: 1, height: height, width: width, pixels: Array(pixels[0..<planeSize]))
        }
        let n = planeSize
        var out = [Float](repeating: 0, count: n)
        for i in 0..<n { out[i] = 0.299 * pixels[i] + 0.587 * pixels[n + i] + 0.114 * pixels[2 * n + i] }
        return Image(channels: 1, height: height, width: width, pixels: out)
    }

    /// Copies the CHW values into `destination` (which must hold `pixels.count` floats).
    public func copy(into destination: UnsafeMutablePointer<Float>) {
        pixels.withUnsafeBufferPointer { destination.update(from: $0.baseAddress!, count: $0.count) }
    }
}

extension Image {
    /// This image grown to at least `minHeight` × `minWidth` by repeating its last row and column
    /// (the image stays at the top-left; an image already that large is returned as it is).
    public func padded(toAtLeast minHeight: Int, _ minWidth: Int) -> Image {
        let oh = max(height, minHeight), ow = max(width, minWidth)
        if oh == height && ow == width { return self }
        return cropped(x: 0, y: 0, width: ow, height: oh, beyondEdge: .repeatEdge)
    }
}
