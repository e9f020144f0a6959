// Dense maps through sgemm: linear (x · Wᵀ + b) and matrix product.
// N = batch, I = input features, O = output features. Row-major, Float32, contiguous.

/// A fully connected map y = x · Wᵀ + b (PyTorch's `F.linear`).
///
/// Input x [N, I], weight [O, I], bias [O] or nil; output [N, O]. Gradients flow to all three.
///
/// - Parameters:
///   - x: input [N, I].
///   - weight: [O, I].
///   - bias: [O], or nil.
///
/// ```swift
/// let z = Tensor.randomNormal([16, 6], seed: 1, purpose: "z")
/// let w = Tensor.parameter([16384, 6])
/// let h = linear(z, weight: w, bias: nil)   // [16, 16384]
/// ```
///
/// Table 2's first generator layer (a 1×1 conv on a 1×1 input is a linear map).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                 "linear: input \(x.shape) does not match weight \(weight.shape) (expected [N, I] and [O, I])")
    let n = x.shape[0], i = x.shape[1], o = weight.shape[0]
    precondition(bias == nil || bias!.shape == [o], "linear: bias \(bias?.shape ?? []) for weight \(weight.shape)")
    let out = Storage(count: n * o)  // y [N, O]
    if let bias {
        for r in 0..<n { (out.pointer + r * o).update(from: bias.data, count: o) }
    }
    // y [N, O] (+)= x [N, I] · Wᵀ [I, O]
    sgemm(transposeA: false, transposeB: true, m: n, n: o, k: i, a: x.data, lda: i, b: weight.data, ldb: i,
          beta: bias == nil ? 0 : 1, c: out.pointer, ldc: o)
    return Tensor.result(shape: [n, o], storage: out, parents: [x, weight] + (bias.map { [$0] } ?? [])) { y in
        // forward was: y[n, o] = Σ_i x[n, i] · W[o, i] + b[o]
        // so:          dx[n, i] += Σ_o dy[n, o] · W[o, i];  dW[o, i] += Σ_n dy[n, o] · x[n, i];  db[o] += Σ_n dy[n, o]
        let dy = y.gradStorage!.pointer
        if x.requiresGrad {
            sgemm(transposeA: false, transposeB: false, m: n, n: i, k: o, a: dy, lda: o, b: weight.data, ldb: i,
                  beta: 1, c: x.gradBuffer(), ldc: i)
        }
        if weight.requiresGrad {
            sgemm(transposeA: true, transposeB: false, m: o, n: i, k: n, a: dy, lda: o, b: x.data, ldb: i,
                  beta: 1, c: weight.gradBuffer(), ldc: i)
        }
        if let bias, bias.requiresGrad {
            let db = bias.gradBuffer()
            for r in 0..<n { let row = dy + r * o; for c in 0..<o { db[c] += row[c] } }
        }
    }
}

/// The matrix product a · b of a [M, K] and b [K, N], giving [M, N]; gradients flow to both.
///
/// ```swift
/// let c = matmul(a, b)   // [M, K] · [K, N] → [M, N]
/// ```
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2 && a.shape[1] == b.shape[0],
                 "matmul: \(a.shape) · \(b.shape) (inner dimensions differ or not 2-D)")
    let m = a.shape[0], k = a.shape[1], n = b.shape[1]
    let out = Storage(count: m * n)  // c [M, N]
    sgemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n,
          c: out.pointer, ldc: n)
    return Tensor.result(shape: [m, n], storage: out, parents: [a, b]) { c in
        // forward was: c = a · b
        // so:          da += dc · bᵀ;  db += aᵀ · dc
        let dc = c.gradStorage!.pointer
        if a.requiresGrad {
            sgemm(transposeA: false, transposeB: true, m: m, n: k, k: n, a: dc, lda: n, b: b.data, ldb: n,
                  beta: 1, c: a.gradBuffer(), ldc: k)
        }
        if b.requiresGrad {
            sgemm(transposeA: true, transposeB: false, m: k, n: n, k: m, a: a.data, lda: k, b: dc, ldb: n,
                  beta: 1, c: b.gradBuffer(), ldc: n)
        }
    }
}
