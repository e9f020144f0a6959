// Spectral normalisation (SN-GAN; PyTorch's torch.nn.utils.spectral_norm): W_sn = W / σ(W).
// O = output channels (rows of W), M = C·K·K (columns of W viewed as a matrix [O, M]).
//
// Note [Spectral norm as in PyTorch]: the trainable tensor is the raw weight (PyTorch's
// `weight_orig`); `u` [O] and `v` [M] are buffers (`weight_u`, `weight_v`). In training mode
// every forward first runs one power iteration without gradient,
//     v ← normalize(Wᵀ u),  u ← normalize(W v)        (normalize(a) = a / max(‖a‖, 1e-12)),
// then σ = uᵀ W v with u, v held constant, so the gradient reaches W through σ as well:
//     dW = G/σ − (⟨G, W⟩/σ²) · u vᵀ   for G = ∂L/∂W_sn.
// In evaluation mode the stored u, v are used as they are.

/// Runs one power iteration in place: v ← normalize(Wᵀ u), u ← normalize(W v) (no gradient).
///
/// Shapes: weight [O, …] viewed as [O, M], u [O], v [M].
public func spectralNormPowerIteration(_ weight: Tensor, u: Tensor, v: Tensor, epsilon: Float = 1e-12) {
    let o = weight.shape[0], m = weight.count / max(o, 1)
    precondition(u.count == o && v.count == m,
                 "spectral norm: weight \(weight.shape) needs u [\(o)] and v [\(m)], got \(u.shape) and \(v.shape)")
    // v [M] = Wᵀ [M, O] · u [O]
    sgemv(transpose: true, m: o, n: m, a: weight.data, lda: m, x: u.data, y: v.data)
    normalize(v.data, m, epsilon)
    // u [O] = W [O, M] · v [M]
    sgemv(transpose: false, m: o, n: m, a: weight.data, lda: m, x: v.data, y: u.data)
    normalize(u.data, o, epsilon)
}

private func normalize(_ a: UnsafeMutablePointer<Float>, _ n: Int, _ epsilon: Float) {
    var s = 0.0
    for i in 0..<n { s += Double(a[i]) * Double(a[i]) }
    let norm = max(Float(s.squareRoot()), epsilon)
    for i in 0..<n { a[i] = a[i] / norm }
}

/// The spectrally normalised weight W / σ with σ = uᵀ W v (u, v constants; see
/// Note [Spectral norm as in PyTorch]); gradients flow to `weight`, including through σ.
///
/// With `powerIteration` true, one power iteration first updates `u` and `v` in place (training
/// mode); with false, the stored vectors are used (evaluation mode, gradient checks).
///
/// - Parameters:
///   - weight: the raw weight [O, …] (a conv's [O, C, K, K]), viewed as [O, M].
///   - u: left singular vector estimate [O] (a buffer).
///   - v: right singular vector estimate [M] (a buffer).
///
/// ```swift
/// let wsn = spectralNormalized(conv.weight, u: u, v: v, powerIteration: true)
/// let y = conv2d(x, weight: wsn, bias: conv.bias, stride: 2, padding: 1)
/// ```
///
/// The "SN" of the discriminators in Tables 1–2 (Miyato et al. 2018).
public func spectralNormalized(_ weight: Tensor, u: Tensor, v: Tensor, powerIteration: Bool,
                               epsilon: Float = 1e-12) -> Tensor {
    let o = weight.shape[0], m = weight.count / max(o, 1)
    precondition(u.count == o && v.count == m,
                 "spectral norm: weight \(weight.shape) needs u [\(o)] and v [\(m)], got \(u.shape) and \(v.shape)")
    if powerIteration { spectralNormPowerIteration(weight, u: u, v: v, epsilon: epsilon) }
    let wv = Storage(count: o)  // W v [O]
    sgemv(transpose: false, m: o, n: m, a: weight.data, lda: m, x: v.data, y: wv.pointer)
    var dot = 0.0
    for i in 0..<o { dot += Double(u.data[i]) * Double(wv.pointer[i]) }
    let sigma = Float(dot)
    // Copies of u, v: the backward must see the vectors this forward used, even if a later
    // forward (another power iteration) changes the buffers before backward runs.
    let uc = u.copy(), vc = v.copy()  // [O], [M]
    let out = Storage(count: weight.count)  // W_sn [O, M]
    let w = weight.data, y = out.pointer, n = weight.count
    for i in 0..<n { y[i] = w[i] / sigma }
    return Tensor.result(shape: weight.shape, storage: out, parents: [weight]) { wsn in
        // forward was: W_sn = W / σ,  σ = uᵀ W v
        // so:          dW += G / σ − (⟨G, W⟩ / σ²) · u vᵀ
        let g = wsn.gradStorage!.pointer
        let w = weight.data
        var gw = 0.0
        for i in 0..<n { gw += Double(g[i]) * Double(w[i]) }
        let scale = Float(gw / (Double(sigma) * Double(sigma)))
        let dw = weight.gradBuffer()
        let up = uc.data, vp = vc.data
        for r in 0..<o {
            let a = scale * up[r]
            let grow = g + r * m, drow = dw + r * m
            for c in 0..<m { drow[c] += grow[c] / sigma - a * vp[c] }
        }
    }
}
