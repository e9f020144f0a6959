// Transposed 2-D convolution (PyTorch's ConvTranspose2d): the adjoint of conv2d, via sgemm + col2im.
// N = batch, I = input channels, H × W = input spatial, O = output channels, K = kernel size,
// OH × OW = output spatial, S = stride, P = padding. All tensors are NCHW, Float32, contiguous.
// Columns are batched over a group of samples as in conv2d (Note [Batched columns]).

/// Transposed 2-D convolution with PyTorch semantics (weight [I, O, K, K]).
///
/// Input x [N, I, H, W], output [N, O, OH, OW] with OH = (H − 1)·S − 2P + K (likewise OW).
/// It is the gradient of `conv2d` with respect to its input: every input pixel scatters
/// weight[i, :, :, :] · x into a K×K window at stride S. Gradients flow to x, weight and bias.
///
/// - Parameters:
///   - x: input [N, I, H, W].
///   - weight: filters [I, O, K, K].
///   - bias: [O], or nil.
///   - stride: S.
///   - padding: P, cropped from every side of the full output.
///
/// ```swift
/// let h = Tensor.randomNormal([16, 256, 8, 8], seed: 1, purpose: "h")
/// let w = Tensor.parameter([256, 128, 4, 4])
/// let y = convTranspose2d(h, weight: w, bias: nil, stride: 2, padding: 1)   // [16, 128, 16, 16]
/// ```
///
/// The "deconv" layers of Tables 1–2 (4×4 s2 p1; 2×2 s2 p0).
public func convTranspose2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4,
                 "convTranspose2d: input \(x.shape) and weight \(weight.shape) must both be 4-D (NCHW, IOKK)")
    let n = x.shape[0], ci = x.shape[1], h = x.shape[2], w = x.shape[3]
    let o = weight.shape[1], k = weight.shape[2]
    precondition(weight.shape[0] == ci && weight.shape[3] == k,
                 "convTranspose2d: input \(x.shape) has \(ci) channels, weight \(weight.shape) expects \(weight.shape[0]) (square K×K)")
    precondition(bias == nil || bias!.shape == [o],
                 "convTranspose2d: bias \(bias?.shape ?? []) for weight \(weight.shape)")
    precondition(stride >= 1 && padding >= 0, "convTranspose2d: stride \(stride), padding \(padding)")
    let oh = (h - 1) * stride - 2 * padding + k, ow = (w - 1) * stride - 2 * padding + k
    precondition(oh >= 1 && ow >= 1, "convTranspose2d: input \(x.shape) with weight \(weight.shape), stride \(stride), padding \(padding) gives no output")
    // The conv that maps the output [O, OH, OW] back onto the input grid [H, W].
    let g = ConvGeometry(c: o, h: oh, w: ow, k: k, stride: stride, padding: .explicit(padding))
    precondition(g.oh == h && g.ow == w, "convTranspose2d: geometry mismatch \(g.oh)×\(g.ow) vs \(h)×\(w)")
    let p = h * w, rows = g.rows  // rows = O·K·K
    let group = samplesPerGroup(batch: n, columnFloatsPerSample: max(rows, ci) * p, positions: p)
    let groups = (n + group - 1) / group
    let samples = { (index: Int) in (index * group, min(group, n - index * group)) }  // (n0, gn)

    let out = Storage(count: n * o * oh * ow)  // y [N, O, OH, OW]
    out.zero()
    var kept: Storage?  // xT of the whole batch, reused by the backward when there is one group
    // Groups in parallel, each on one thread (Note [Nested parallelism]); one group uses them all.
    parallelSlots(groups) { _, range in
        let xT = Storage(count: ci * group * p)  // [I, G·H·W] (Note [Batched columns])
        let col = Storage(count: rows * group * p)  // [O·K·K, G·H·W]
        for index in range {
            let (n0, gn) = samples(index)
            channelMajor(x.data + n0 * ci * p, samples: gn, channels: ci, positions: p, into: xT.pointer)
            // col [O·K·K, G·H·W] = Wᵀ [O·K·K, I] · xT [I, G·H·W]
            sgemm(transposeA: true, transposeB: false, m: rows, n: gn * p, k: ci,
                  a: weight.data, lda: rows, b: xT.pointer, ldb: gn * p, c: col.pointer, ldc: gn * p)
            col2im(g, col: col.pointer, samples: gn, images: out.pointer + n0 * g.imageCount)
            if groups == 1 { kept = xT }
        }
    }
    if let bias {
        let b = bias.data, y = out.pointer, plane = oh * ow
        for s in 0..<n { for c in 0..<o { let row = y + (s * o + c) * plane; let v = b[c]; for i in 0..<plane { row[i] += v } } }
    }
    return Tensor.result(shape: [n, o, oh, ow], storage: out, parents: [x, weight] + (bias.map { [$0] } ?? [])) { y in
        // forward was: xT = x (channel-major);  col = Wᵀ · xT;  y = col2im(col) + b
        // so:          dcol = im2col(dy);  dW += xT · dcolᵀ;  dxT = W · dcol;  dx += dxT (sample-major);
        //              db += Σ_{n,p} dy
        let dy = y.gradStorage!.pointer
        if let bias, bias.requiresGrad {
            accumulateBiasGradient(dy, batch: n, channels: o, positions: oh * ow, into: bias.gradBuffer())
        }
        // Gradient buffers before the threads start (they are created on first use).
        let dW = weight.requiresGrad ? weight.gradBuffer() : nil
        let dx = x.requiresGrad ? x.gradBuffer() : nil
        // dW sums over groups: per slot, then the slots in order (the same sum on every run).
        let partials = ParallelPartials(slots: min(groups, Threads.count), count: ci * rows, into: dW)
        parallelSlots(groups) { slot, range in
            let dcol = Storage(count: rows * group * p)  // [O·K·K, G·H·W]
            for index in range {
                let (n0, gn) = samples(index)
                im2col(g, images: dy + n0 * g.imageCount, samples: gn, col: dcol.pointer)
                if dW != nil {
                    let xT: Storage
                    if let kept { xT = kept } else {
                        xT = Storage(count: ci * gn * p)  // [I, G·H·W]
                        channelMajor(x.data + n0 * ci * p, samples: gn, channels: ci, positions: p, into: xT.pointer)
                    }
                    // dW [I, O·K·K] += xT [I, G·H·W] · dcolᵀ [G·H·W, O·K·K]
                    sgemm(transposeA: false, transposeB: true, m: ci, n: rows, k: gn * p,
                          a: xT.pointer, lda: gn * p, b: dcol.pointer, ldb: gn * p,
                          beta: 1, c: partials.buffer(slot), ldc: rows)
                }
                if let dx {
                    let dxT = Storage(count: ci * gn * p)  // [I, G·H·W]
                    // dxT [I, G·H·W] = W [I, O·K·K] · dcol [O·K·K, G·H·W]
                    sgemm(transposeA: false, transposeB: false, m: ci, n: gn * p, k: rows,
                          a: weight.data, lda: rows, b: dcol.pointer, ldb: gn * p, c: dxT.pointer, ldc: gn * p)
                    sampleMajor(dxT.pointer, samples: gn, channels: ci, positions: p,
                                into: dx + n0 * ci * p, bias: nil, accumulate: true)
                }
            }
        }
        partials.finish()
    }
}
