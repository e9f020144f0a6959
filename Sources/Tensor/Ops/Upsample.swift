// Nearest-neighbour upsampling by an integer factor (the resize half of "resize + conv"
// decoders, which do not checkerboard as stride-2 transposed convolutions do; Odena et al.,
// "Deconvolution and Checkerboard Artifacts", Distill 2016).
//
// N = batch, C = channels, H × W = input size, F = factor. NCHW, Float32, contiguous.

/// Repeats every pixel F × F times: x [N, C, H, W] → [N, C, F·H, F·W] with
/// out[n, c, i, j] = x[n, c, i / F, j / F] (PyTorch's `F.interpolate(mode="nearest")`).
///
/// Gradients flow to x: dx[i, j] is the sum of dy over the F × F block it became.
///
/// - Parameters:
///   - x: the batch.
///   - factor: F ≥ 1.
///
/// ```swift
/// let up = upsampleNearest(h, factor: 2)   // [N, C, 8, 8] → [N, C, 16, 16]
/// ```
public func upsampleNearest(_ x: Tensor, factor f: Int) -> Tensor {
    precondition(x.rank == 4 && f >= 1, "upsampleNearest: input \(x.shape) with factor \(f); expected [N, C, H, W] and F ≥ 1")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let ho = h * f, wo = w * f
    let out = Storage(count: n * c * ho * wo)
    let src = x.data, dst = out.pointer
    parallelFor(n * c, grain: max(1, 16384 / max(ho * wo, 1))) { planes in
        for plane in planes {
            let a = src + plane * h * w, b = dst + plane * ho * wo
            for i in 0..<h {
                let row = b + i * f * wo
                for j in 0..<w {
                    let v = a[i * w + j]
                    for k in 0..<f { row[j * f + k] = v }
                }
                for r in 1..<f { (row + r * wo).update(from: row, count: wo) }
            }
        }
    }
    return Tensor.result(shape: [n, c, ho, wo], storage: out, parents: [x]) { y in
        // forward was: y[i, j] = x[i / F, j / F];  so: dx[i, j] += Σ over the block of dy
        let dy = y.gradStorage!.pointer, dx = x.gradBuffer()
        parallelFor(n * c, grain: max(1, 16384 / max(ho * wo, 1))) { planes in
            for plane in planes {
                let g = dy + plane * ho * wo, d = dx + plane * h * w
                for i in 0..<ho {
                    let row = g + i * wo, target = d + (i / f) * w
                    for j in 0..<wo { target[j / f] += row[j] }
                }
            }
        }
    }
}
