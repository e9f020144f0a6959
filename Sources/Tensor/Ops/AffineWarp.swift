// The bilinear affine warp (spatial transformer, eq. 4): PyTorch's
// F.grid_sample(x, F.affine_grid(θ, x.size(), align_corners=False),
//               mode='bilinear', padding_mode='zeros', align_corners=False).
//
// N = batch, C = channels, H × W = spatial (input and output). θ [N, 2, 3] maps normalised
// output coordinates (u, v) ∈ [−1, 1]² to normalised input coordinates. All tensors are NCHW,
// Float32, contiguous. Backward rules accumulate into dx and dθ.

// MARK: - Sampling geometry

/// Where output pixel (i, j) samples the input, and the four bilinear taps.
private struct BilinearTap {
    /// Normalised output coordinates (pixel centres): u = (2j + 1)/W − 1, v = (2i + 1)/H − 1.
    var u: Float, v: Float
    /// The top-left tap (may lie outside the image).
    var x0: Int, y0: Int
    /// Fractional parts: weight of the right column and of the bottom row.
    var fx: Float, fy: Float

    @inline(__always)
    init(i: Int, j: Int, theta t: UnsafePointer<Float>, h: Int, w: Int) {
        u = Float(2 * j + 1) / Float(w) - 1
        v = Float(2 * i + 1) / Float(h) - 1
        // affine_grid: (gx, gy) = θ · (u, v, 1)
        let gx = t[0] * u + t[1] * v + t[2]
        let gy = t[3] * u + t[4] * v + t[5]
        // grid_sample, align_corners=False: pixel coordinates ix = ((gx + 1)·W − 1)/2
        // Clamped far outside the image (all taps stay outside: zero value, zero gradient) so
        // that the conversion to Int below cannot overflow.
        let ix = min(max(((gx + 1) * Float(w) - 1) / 2, -2), Float(w + 1))
        let iy = min(max(((gy + 1) * Float(h) - 1) / 2, -2), Float(h + 1))
        let flx = ix.rounded(.down), fly = iy.rounded(.down)
        x0 = Int(flx)
        y0 = Int(fly)
        fx = ix - flx
        fy = iy - fly
    }
}

// MARK: - Kernels

/// out[n, c, i, j] = Σ over the four taps of weight · x[n, c, y, x] (zero outside)
/// (shapes: out, x [N, C, H, W]; theta [N, 2, 3]).
private func affineWarpForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               theta: UnsafePointer<Float>, n: Int, c: Int, h: Int, w: Int) {
    let plane = h * w
    parallelFor(n * h, grain: max(1, 4096 / max(w * c, 1))) { rows in
        for row in rows {
            let b = row / h, i = row % h
            let t = theta + 6 * b
            let xb = x + b * c * plane, ob = out + b * c * plane
            for j in 0..<w {
                let tap = BilinearTap(i: i, j: j, theta: t, h: h, w: w)
                let x0 = tap.x0, y0 = tap.y0, x1 = x0 + 1, y1 = y0 + 1
                let in00 = y0 >= 0 && y0 < h && x0 >= 0 && x0 < w
                let in01 = y0 >= 0 && y0 < h && x1 >= 0 && x1 < w
                let in10 = y1 >= 0 && y1 < h && x0 >= 0 && x0 < w
                let in11 = y1 >= 0 && y1 < h && x1 >= 0 && x1 < w
                let w00 = (1 - tap.fx) * (1 - tap.fy), w01 = tap.fx * (1 - tap.fy)
                let w10 = (1 - tap.fx) * tap.fy, w11 = tap.fx * tap.fy
                for ch in 0..<c {
                    let p = xb + ch * plane
                    var s: Float = 0
                    if in00 { s += w00 * p[y0 * w + x0] }
                    if in01 { s += w01 * p[y0 * w + x1] }
                    if in10 { s += w10 * p[y1 * w + x0] }
                    if in11 { s += w11 * p[y1 * w + x1] }
                    ob[ch * plane + i * w + j] = s
                }
            }
        }
    }
}

/// The backward of `affineWarpForward`: dx += the taps' weights · dy (if dx), and
/// dθ += ∂out/∂θ · dy (if dθ) (shapes: dx, dy, x [N, C, H, W]; dθ, θ [N, 2, 3]).
private func affineWarpBackward(dx: UnsafeMutablePointer<Float>?, dtheta: UnsafeMutablePointer<Float>?,
                                dy: UnsafePointer<Float>, x: UnsafePointer<Float>, theta: UnsafePointer<Float>,
                                n: Int, c: Int, h: Int, w: Int) {
    // forward was: out = Σ_taps w_tap(ix, iy) · x[tap],  (ix, iy) = pixel(θ · (u, v, 1))
    // so:          dx[tap] += w_tap · dy
    //              d ix = Σ_c dy · ((x01 − x00)(1 − fy) + (x11 − x10) fy),  likewise d iy;
    //              d gx = d ix · W/2,  d gy = d iy · H/2;
    //              dθ[0] += d gx · u, dθ[1] += d gx · v, dθ[2] += d gx (row 1 with d gy)
    let plane = h * w
    // One sample per task: each sample scatters into its own planes of dx and its own θ.
    parallelFor(n, grain: 1) { samples in
        for b in samples {
            let t = theta + 6 * b
            let xb = x + b * c * plane, gb = dy + b * c * plane
            let db: UnsafeMutablePointer<Float>? = dx.map { $0 + b * c * plane }
            var dt = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            for i in 0..<h {
                for j in 0..<w {
                    let tap = BilinearTap(i: i, j: j, theta: t, h: h, w: w)
                    let x0 = tap.x0, y0 = tap.y0, x1 = x0 + 1, y1 = y0 + 1
                    let in00 = y0 >= 0 && y0 < h && x0 >= 0 && x0 < w
                    let in01 = y0 >= 0 && y0 < h && x1 >= 0 && x1 < w
                    let in10 = y1 >= 0 && y1 < h && x0 >= 0 && x0 < w
                    let in11 = y1 >= 0 && y1 < h && x1 >= 0 && x1 < w
                    let fx = tap.fx, fy = tap.fy
                    let w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy
                    var dix: Float = 0, diy: Float = 0
                    for ch in 0..<c {
                        let g = gb[ch * plane + i * w + j]
                        let p = xb + ch * plane
                        let v00 = in00 ? p[y0 * w + x0] : 0, v01 = in01 ? p[y0 * w + x1] : 0
                        let v10 = in10 ? p[y1 * w + x0] : 0, v11 = in11 ? p[y1 * w + x1] : 0
                        dix += g * ((v01 - v00) * (1 - fy) + (v11 - v10) * fy)
                        diy += g * ((v10 - v00) * (1 - fx) + (v11 - v01) * fx)
                        if let db {
                            let d = db + ch * plane
                            if in00 { d[y0 * w + x0] += w00 * g }
                            if in01 { d[y0 * w + x1] += w01 * g }
                            if in10 { d[y1 * w + x0] += w10 * g }
                            if in11 { d[y1 * w + x1] += w11 * g }
                        }
                    }
                    let dgx = Double(dix) * Double(w) / 2, dgy = Double(diy) * Double(h) / 2
                    let u = Double(tap.u), v = Double(tap.v)
                    dt.0 += dgx * u
                    dt.1 += dgx * v
                    dt.2 += dgx
                    dt.3 += dgy * u
                    dt.4 += dgy * v
                    dt.5 += dgy
                }
            }
            if let dtheta {
                let d = dtheta + 6 * b
                d[0] += Float(dt.0)
                d[1] += Float(dt.1)
                d[2] += Float(dt.2)
                d[3] += Float(dt.3)
                d[4] += Float(dt.4)
                d[5] += Float(dt.5)
            }
        }
    }
}

// MARK: - Op

/// Warps every image by its own affine map with bilinear sampling (a spatial transformer).
///
/// x [N, C, H, W], θ [N, 2, 3] → [N, C, H, W]. Output pixel (i, j) at normalised coordinates
/// (u, v) (pixel centres in [−1, 1], align_corners=False) samples the input at θ·(u, v, 1),
/// bilinearly, zero outside: exactly PyTorch's `grid_sample(x, affine_grid(θ, x.size()))` with
/// `mode='bilinear', padding_mode='zeros', align_corners=False`. Gradients flow to x and θ.
///
/// - Parameters:
///   - x: the images (RGBA instances in the layout module).
///   - theta: one 2×3 matrix per image, output → input coordinates.
///
/// ```swift
/// let theta = Tensor(shape: [1, 2, 3], values: [1, 0, 0.25, 0, 1, 0])   // shift right by 1/8 width
/// let warped = affineWarp(rgba, theta: theta)
/// ```
///
/// The geometric warp ST(·, Δr) of eq. 4, shared by an instance's RGB and mask channels.
public func affineWarp(_ x: Tensor, theta: Tensor) -> Tensor {
    precondition(x.rank == 4 && theta.shape == [x.shape[0], 2, 3],
                 "affineWarp: input \(x.shape) with theta \(theta.shape); expected [N, C, H, W] and [N, 2, 3]")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let out = Storage(count: x.count)
    affineWarpForward(out: out.pointer, x: x.data, theta: theta.data, n: n, c: c, h: h, w: w)
    return Tensor.result(shape: x.shape, storage: out, parents: [x, theta]) { y in
        affineWarpBackward(dx: x.requiresGrad ? x.gradBuffer() : nil,
                           dtheta: theta.requiresGrad ? theta.gradBuffer() : nil,
                           dy: y.gradStorage!.pointer, x: x.data, theta: theta.data, n: n, c: c, h: h, w: w)
    }
}
