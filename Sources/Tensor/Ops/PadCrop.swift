// Pad and crop ops (for the hoc layout module of eq. 4 and for augmentation): zero padding,
// cropping, per-sample translation (pad p, crop back at a per-sample offset, fused) and
// horizontal flips.
//
// N = batch, C = channels, H × W = input size, P = padding, Ho × Wo = output size.
// All tensors are NCHW, Float32, contiguous. Backward rules accumulate into dx.

// MARK: - Kernels

/// One output plane of a shifted window: out[i, j] = x[i + oy, j + ox], `fill` outside x
/// (shapes: out [Ho, Wo], x [H, W]).
@inline(__always)
private func shiftPlane(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, oy: Int, ox: Int,
                        ho: Int, wo: Int, h: Int, w: Int, fill: Float) {
    // Columns j with 0 ≤ j + ox < w.
    let j0 = min(max(-ox, 0), wo), j1 = max(min(w - ox, wo), j0)
    for i in 0..<ho {
        let row = out + i * wo
        let r = i + oy
        guard r >= 0 && r < h else {
            row.update(repeating: fill, count: wo)
            continue
        }
        if j0 > 0 { row.update(repeating: fill, count: j0) }
        if j1 > j0 { (row + j0).update(from: x + r * w + j0 + ox, count: j1 - j0) }
        if j1 < wo { (row + j1).update(repeating: fill, count: wo - j1) }
    }
}

/// Backward of `shiftPlane`: dx[i + oy, j + ox] += dy[i, j] where inside x
/// (shapes: dy [Ho, Wo], dx [H, W]).
@inline(__always)
private func shiftPlaneBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, oy: Int, ox: Int,
                                ho: Int, wo: Int, h: Int, w: Int) {
    let j0 = min(max(-ox, 0), wo), j1 = max(min(w - ox, wo), j0)
    guard j1 > j0 else { return }
    for i in 0..<ho {
        let r = i + oy
        guard r >= 0 && r < h else { continue }
        let src = dy + i * wo + j0, dst = dx + r * w + j0 + ox
        for j in 0..<(j1 - j0) { dst[j] += src[j] }
    }
}

/// Applies `shiftPlane` (forward) to every plane of x [N, C, H, W], sample n shifted by
/// `offsets[n]`; out [N, C, Ho, Wo].
private func shiftForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, offsets: [(Int, Int)],
                          n: Int, c: Int, h: Int, w: Int, ho: Int, wo: Int, fill: Float) {
    offsets.withUnsafeBufferPointer { off in
        parallelFor(n * c, grain: max(1, 16384 / max(ho * wo, 1))) { planes in
            for plane in planes {
                let (oy, ox) = off[plane / c]
                shiftPlane(out: out + plane * ho * wo, x: x + plane * h * w, oy: oy, ox: ox,
                           ho: ho, wo: wo, h: h, w: w, fill: fill)
            }
        }
    }
}

/// The backward of `shiftForward`: dx [N, C, H, W] += the shifted dy [N, C, Ho, Wo].
private func shiftBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, offsets: [(Int, Int)],
                           n: Int, c: Int, h: Int, w: Int, ho: Int, wo: Int) {
    offsets.withUnsafeBufferPointer { off in
        parallelFor(n * c, grain: max(1, 16384 / max(ho * wo, 1))) { planes in
            for plane in planes {
                let (oy, ox) = off[plane / c]
                shiftPlaneBackward(dx: dx + plane * h * w, dy: dy + plane * ho * wo, oy: oy, ox: ox,
                                   ho: ho, wo: wo, h: h, w: w)
            }
        }
    }
}

/// The shifted window of x [N, C, H, W] as a differentiable op: out [N, C, Ho, Wo] with
/// out[n, c, i, j] = x[n, c, i + oy_n, j + ox_n] (`fill` outside x). Pad, crop and translate
/// are all this one op with different offsets and sizes.
private func shiftedWindow(_ x: Tensor, offsets: [(Int, Int)], height ho: Int, width wo: Int, fill: Float)
    -> Tensor
{
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let out = Storage(count: n * c * ho * wo)
    shiftForward(out: out.pointer, x: x.data, offsets: offsets, n: n, c: c, h: h, w: w, ho: ho, wo: wo, fill: fill)
    return Tensor.result(shape: [n, c, ho, wo], storage: out, parents: [x]) { y in
        // forward was: y[i, j] = x[i + oy, j + ox] (or fill)
        // so:          dx[i + oy, j + ox] += dy[i, j] where inside x
        shiftBackward(dx: x.gradBuffer(), dy: y.gradStorage!.pointer, offsets: offsets,
                      n: n, c: c, h: h, w: w, ho: ho, wo: wo)
    }
}

// MARK: - Ops

/// Pads the spatial dimensions of an image batch by `p` on every side.
///
/// x [N, C, H, W] → [N, C, H + 2p, W + 2p], `value` in the border. Gradients flow to x.
///
/// - Parameters:
///   - x: the batch.
///   - p: border width (≥ 0).
///   - value: the border's value.
///
/// ```swift
/// let padded = pad(x, 4)     // [N, C, 72, 72] from [N, C, 64, 64]
/// ```
public func pad(_ x: Tensor, _ p: Int, value: Float = 0) -> Tensor {
    precondition(x.rank == 4 && p >= 0, "pad: input \(x.shape) with padding \(p); expected [N, C, H, W] and p ≥ 0")
    return shiftedWindow(x, offsets: Array(repeating: (-p, -p), count: x.shape[0]),
                         height: x.shape[2] + 2 * p, width: x.shape[3] + 2 * p, fill: value)
}

/// The window of rows `top..<top+height` and columns `left..<left+width` of every image.
///
/// x [N, C, H, W] → [N, C, height, width]. The window must lie inside x. Gradients flow to x.
///
/// - Parameters:
///   - x: the batch.
///   - top, left: the window's first row and column.
///   - height, width: the window's size.
///
/// ```swift
/// let centre = crop(x, top: 16, left: 16, height: 32, width: 32)
/// ```
public func crop(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
    precondition(x.rank == 4 && top >= 0 && left >= 0 && height >= 0 && width >= 0
                 && top + height <= x.shape[2] && left + width <= x.shape[3],
                 "crop: window (top \(top), left \(left), \(height)×\(width)) outside input \(x.shape)")
    return shiftedWindow(x, offsets: Array(repeating: (top, left), count: x.shape[0]),
                         height: height, width: width, fill: 0)
}

/// Translates each image by its own offset: pad by `p` with zeros, then crop back to H×W at
/// (dy, dx) — the hoc layout (paper "Layout Prior", eq. 4 with translations).
///
/// x [N, C, H, W] → [N, C, H, W]; out[n, c, i, j] = x[n, c, i + dy_n − p, j + dx_n − p], zero
/// outside. One pass, no padded intermediate. Gradients flow to x.
///
/// - Parameters:
///   - x: the batch.
///   - p: the padding.
///   - offsets: one (dy, dx) per sample, each in 0...2p (p, p is the identity).
///
/// ```swift
/// let moved = translate(rgba, padding: 8, offsets: [(dy: 0, dx: 16), (dy: 8, dx: 8)])
/// ```
public func translate(_ x: Tensor, padding p: Int, offsets: [(dy: Int, dx: Int)]) -> Tensor {
    precondition(x.rank == 4 && offsets.count == x.shape[0],
                 "translate: input \(x.shape) with \(offsets.count) offsets; expected [N, C, H, W] and N offsets")
    precondition(offsets.allSatisfy { (0...2 * p).contains($0.dy) && (0...2 * p).contains($0.dx) },
                 "translate: offsets must lie in 0...\(2 * p) for padding \(p), got \(offsets)")
    return shiftedWindow(x, offsets: offsets.map { ($0.dy - p, $0.dx - p) },
                         height: x.shape[2], width: x.shape[3], fill: 0)
}

/// Mirrors every image left to right.
///
/// x [N, C, H, W] → [N, C, H, W] with out[…, j] = x[…, W − 1 − j]. Gradients flow to x.
///
/// ```swift
/// let mirrored = flipHorizontal(images)   // the distillation augmentation (paper, fg student)
/// ```
public func flipHorizontal(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "flipHorizontal: input \(x.shape), expected [N, C, H, W]")
    let w = x.shape[3]
    let rows = x.count / max(w, 1)
    let out = Storage(count: x.count)
    let src = x.data, dst = out.pointer
    parallelFor(rows, grain: max(1, 16384 / max(w, 1))) { range in
        for r in range {
            let a = src + r * w, b = dst + r * w
            for j in 0..<w { b[j] = a[w - 1 - j] }
        }
    }
    return Tensor.result(shape: x.shape, storage: out, parents: [x]) { y in
        // forward was: y[j] = x[W − 1 − j];  so: dx[W − 1 − j] += dy[j]
        let dy = y.gradStorage!.pointer, dx = x.gradBuffer()
        parallelFor(rows, grain: max(1, 16384 / max(w, 1))) { range in
            for r in range {
                let g = dy + r * w, d = dx + r * w
                for j in 0..<w { d[w - 1 - j] += g[j] }
            }
        }
    }
}
