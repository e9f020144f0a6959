// Batch normalisation with a fused forward and backward, and a hook that sums the per-channel
// statistics over ranks (DDP's SyncBatchNorm installs it).
//
// N = batch, C = channels, S = H × W (1 for [N, C] inputs), M = N·S summed over ranks.
// All tensors are NCHW (or NC), Float32, contiguous. Statistics are accumulated in Double.

// Note [BN statistics across ranks]
// ---------------------------------
// Data parallelism splits the global batch B into W slices of B/W. Batch statistics computed
// per rank would differ from the single-process ones, so W ranks would not follow the 1-rank
// trajectory (docs/ARCHITECTURE.md determinism contract). Like PyTorch's SyncBatchNorm, every BatchNorm
// therefore passes its per-channel sums through `BatchNormSync.reduce`, which sums them over
// ranks in place:
//
//   forward:  [Σx (C values), Σx² (C values), count (1 value)]  →  mean, biased var over M
//   backward: [Σdy (C values), Σdy·x̂ (C values)]                →  dx of the global batch
//
// After the reduction every rank holds the sums of the global batch, so mean, variance, the
// running statistics and dx are those of one rank with batch B (up to summation order). The
// parameter gradients dγ = Σdy·x̂ and dβ = Σdy stay per rank: DDP all-reduces them with the
// other gradients. As with every collective, all ranks must run the same BatchNorm forwards
// and backwards in the same order; evaluation mode uses running statistics and never reduces.

/// Sums BatchNorm statistics over ranks: see Note [BN statistics across ranks].
public enum BatchNormSync {
    /// When set, called with per-channel sums that it must replace, in place, by their sum over
    /// all ranks. `nil` (the default) keeps statistics per process.
    public nonisolated(unsafe) static var reduce: ((UnsafeMutableBufferPointer<Double>) -> Void)?
}

// MARK: - Kernels

/// Σp[i] and Σp[i]² over `n` floats, in Double.
@inline(__always)
private func sumAndSquares(_ p: UnsafePointer<Float>, _ n: Int) -> (Double, Double) {
    var s = SIMD8<Double>(), q = SIMD8<Double>()
    var i = 0
    while i + 8 <= n {
        let v = SIMD8<Double>(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self))
        s += v
        q += v * v
        i += 8
    }
    var ss = s.sum(), qq = q.sum()
    while i < n {
        let v = Double(p[i])
        ss += v
        qq += v * v
        i += 1
    }
    return (ss, qq)
}

/// Σdy[i] and Σdy[i]·(x[i] − mean) over `n` floats, in Double.
@inline(__always)
private func sumAndProducts(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ mean: Double, _ n: Int)
    -> (Double, Double)
{
    var s = SIMD8<Double>(), q = SIMD8<Double>()
    let m = SIMD8<Double>(repeating: mean)
    var i = 0
    while i + 8 <= n {
        let g = SIMD8<Double>(UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self))
        let v = SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
        s += g
        q += g * (v - m)
        i += 8
    }
    var ss = s.sum(), qq = q.sum()
    while i < n {
        let g = Double(dy[i])
        ss += g
        qq += g * (Double(x[i]) - mean)
        i += 1
    }
    return (ss, qq)
}

/// stats[c] = Σx, stats[C + c] = Σx² over channel c of x [N, C, S].
private func batchNormStatistics(stats: UnsafeMutablePointer<Double>, x: UnsafePointer<Float>,
                                 n: Int, c: Int, s: Int) {
    if s == 1 {
        // [N, C]: rows are contiguous across channels, so walk rows and keep C running sums.
        for ch in 0..<2 * c { stats[ch] = 0 }
        for b in 0..<n {
            let row = x + b * c
            for ch in 0..<c {
                let v = Double(row[ch])
                stats[ch] += v
                stats[c + ch] += v * v
            }
        }
        return
    }
    parallelFor(c, grain: max(1, 32768 / max(n * s, 1))) { channels in
        for ch in channels {
            var sum = 0.0, squares = 0.0
            for b in 0..<n {
                let (p, q) = sumAndSquares(x + (b * c + ch) * s, s)
                sum += p
                squares += q
            }
            stats[ch] = sum
            stats[c + ch] = squares
        }
    }
}

/// y = x·scale[c] + shift[c] (shapes: x, y [N, C, S]; scale, shift [C]).
private func batchNormApply(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                            scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, n: Int, c: Int, s: Int) {
    parallelFor(n * c, grain: max(1, 16384 / s)) { planes in
        for plane in planes {
            let ch = plane % c
            let a = scale[ch], b = shift[ch]
            let xp = x + plane * s, yp = y + plane * s
            for i in 0..<s { yp[i] = xp[i] * a + b }
        }
    }
}

/// sums[c] = Σdy, sums[C + c] = Σdy·(x − mean[c]) over channel c (shapes: dy, x [N, C, S]).
private func batchNormGradientSums(sums: UnsafeMutablePointer<Double>, dy: UnsafePointer<Float>,
                                   x: UnsafePointer<Float>, mean: UnsafePointer<Double>,
                                   n: Int, c: Int, s: Int) {
    if s == 1 {
        for ch in 0..<2 * c { sums[ch] = 0 }
        for b in 0..<n {
            let g = dy + b * c, v = x + b * c
            for ch in 0..<c {
                sums[ch] += Double(g[ch])
                sums[c + ch] += Double(g[ch]) * (Double(v[ch]) - mean[ch])
            }
        }
        return
    }
    parallelFor(c, grain: max(1, 32768 / max(n * s, 1))) { channels in
        for ch in channels {
            var sum = 0.0, products = 0.0
            for b in 0..<n {
                let offset = (b * c + ch) * s
                let (p, q) = sumAndProducts(dy + offset, x + offset, mean[ch], s)
                sum += p
                products += q
            }
            sums[ch] = sum
            sums[c + ch] = products
        }
    }
}

/// dx += a[c]·dy − b[c]·x − k[c] (shapes: dx, dy, x [N, C, S]; a, b, k [C]).
///
/// The training backward folds into this form: with x̂ = (x − μ)·σ⁻¹,
/// dx = γσ⁻¹·(dy − Σdy/M − x̂·Σdy·x̂/M), so a = γσ⁻¹, b = γσ⁻¹·σ⁻¹·(Σdy·x̂)/M and
/// k = γσ⁻¹·(Σdy/M − μ·σ⁻¹·(Σdy·x̂)/M); evaluation mode is a = γσ⁻¹, b = k = 0.
private func batchNormInputGradient(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                    x: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                    k: UnsafePointer<Float>, n: Int, c: Int, s: Int) {
    parallelFor(n * c, grain: max(1, 16384 / s)) { planes in
        for plane in planes {
            let ch = plane % c
            let av = a[ch], bv = b[ch], kv = k[ch]
            let g = dy + plane * s, v = x + plane * s, d = dx + plane * s
            for i in 0..<s { d[i] += av * g[i] - bv * v[i] - kv }
        }
    }
}

// MARK: - Layer

/// Batch normalisation over the channels of [N, C, H, W] or [N, C] inputs (PyTorch's
/// `BatchNorm2d`/`BatchNorm1d`).
///
/// Training mode normalises with the batch mean and biased variance and updates the running
/// statistics with the unbiased variance: `running = (1 − momentum)·running + momentum·batch`.
/// Evaluation mode normalises with the running statistics. Batch sums go through
/// `BatchNormSync.reduce` (see Note [BN statistics across ranks]).
///
/// - Parameters:
///   - channels: C, the size of dimension 1 of the input.
///   - momentum: weight of the new batch in the running statistics.
///   - epsilon: added to the variance before the square root.
///
/// ```swift
/// let bn = BatchNorm(channels: 64)
/// let y = bn(x)          // x, y [N, 64, H, W]
/// bn.train(false)        // now uses running_mean / running_var
/// ```
///
/// Parameters `weight` (γ, ones) and `bias` (β, zeros); buffers `running_mean` (zeros) and
/// `running_var` (ones). Used after every generator conv of Table 2 and in the UNet (Table 1).
public final class BatchNorm: Module {
    public let channels: Int
    public let momentum: Float
    public let epsilon: Float
    /// γ [C].
    public let weight: Tensor
    /// β [C].
    public let bias: Tensor
    /// Running mean [C] (a buffer).
    public let runningMean: Tensor
    /// Running unbiased variance [C] (a buffer).
    public let runningVar: Tensor
    public var isTraining = true

    public init(channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition(channels > 0, "BatchNorm: channels must be positive, got \(channels)")
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
        weight = Tensor(shape: [channels], repeating: 1, requiresGrad: true)
        bias = Tensor(shape: [channels], repeating: 0, requiresGrad: true)
        runningMean = Tensor(shape: [channels], repeating: 0)
        runningVar = Tensor(shape: [channels], repeating: 1)
    }

    public var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    public var ownBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    /// γ = 1, β = 0, running mean 0, running variance 1 (PyTorch's initialisation).
    public func resetParameters(seed: UInt64, path: String) {
        weight.storage.buffer.update(repeating: 1)
        bias.storage.zero()
        runningMean.storage.zero()
        runningVar.storage.buffer.update(repeating: 1)
    }

    /// Normalises `x` [N, C, H, W] or [N, C] per channel; see the type's documentation.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition((x.rank == 4 || x.rank == 2) && x.shape[1] == channels,
                     "BatchNorm: input \(x.shape), expected [N, \(channels), H, W] or [N, \(channels)]")
        return isTraining ? trainingForward(x) : evaluationForward(x)
    }

    // MARK: Training

    private func trainingForward(_ x: Tensor) -> Tensor {
        let n = x.shape[0], c = channels, s = x.rank == 4 ? x.shape[2] * x.shape[3] : 1
        // stats [2C + 1]: Σx per channel, Σx² per channel, count.
        var stats = [Double](repeating: 0, count: 2 * c + 1)
        stats.withUnsafeMutableBufferPointer { st in
            batchNormStatistics(stats: st.baseAddress!, x: x.data, n: n, c: c, s: s)
            st[2 * c] = Double(n * s)
            BatchNormSync.reduce?(st)
        }
        let m = stats[2 * c]
        precondition(m > 1, "BatchNorm: training needs more than one value per channel, input \(x.shape)")
        // mean, invstd [C] in Double (saved for the backward); scale, shift [C] in Float.
        var mean = [Double](repeating: 0, count: c), invstd = [Double](repeating: 0, count: c)
        let scale = Storage(count: c), shift = Storage(count: c)
        let gamma = weight.data, beta = bias.data, rm = runningMean.data, rv = runningVar.data
        let mom = Double(momentum)
        for ch in 0..<c {
            let mu = stats[ch] / m
            let variance = max(stats[c + ch] / m - mu * mu, 0)   // biased: normalisation
            let inv = 1 / (variance + Double(epsilon)).squareRoot()
            mean[ch] = mu
            invstd[ch] = inv
            scale.pointer[ch] = Float(Double(gamma[ch]) * inv)
            shift.pointer[ch] = Float(Double(beta[ch]) - mu * Double(gamma[ch]) * inv)
            // Running statistics use the unbiased variance (PyTorch).
            rm[ch] = Float((1 - mom) * Double(rm[ch]) + mom * mu)
            rv[ch] = Float((1 - mom) * Double(rv[ch]) + mom * variance * m / (m - 1))
        }
        let out = Storage(count: x.count)
        batchNormApply(y: out.pointer, x: x.data, scale: scale.pointer, shift: shift.pointer, n: n, c: c, s: s)
        let weight = self.weight, bias = self.bias
        let meanD = mean, invstdD = invstd, gammaD = (0..<c).map { Double(gamma[$0]) }
        return Tensor.result(shape: x.shape, storage: out, parents: [x, weight, bias]) { y in
            let dy = y.gradStorage!.pointer
            // forward was: x̂ = (x − μ)·σ⁻¹;  y = γ·x̂ + β
            // so:          dβ += Σdy;  dγ += Σdy·x̂;
            //              dx += γσ⁻¹·(dy − Σdy/M − x̂·Σ(dy·x̂)/M), sums over the global batch
            // Per-rank parameter gradients (DDP averages them), before the cross-rank reduction.
            var sums = batchNormParameterGradients(dy: dy, x: x.data, mean: meanD, invstd: invstdD,
                                                   weight: weight, bias: bias, n: n, c: c, s: s)
            guard x.requiresGrad else { return }
            sums.withUnsafeMutableBufferPointer { BatchNormSync.reduce?($0) }
            let a = Storage(count: c), b = Storage(count: c), k = Storage(count: c)
            for ch in 0..<c {
                let inv = invstdD[ch], g = gammaD[ch] * inv
                let meanDy = sums[ch] / m, meanDyXmu = sums[c + ch] / m   // Σdy·(x − μ)/M
                a.pointer[ch] = Float(g)
                b.pointer[ch] = Float(g * inv * inv * meanDyXmu)
                k.pointer[ch] = Float(g * (meanDy - meanD[ch] * inv * inv * meanDyXmu))
            }
            batchNormInputGradient(dx: x.gradBuffer(), dy: dy, x: x.data, a: a.pointer, b: b.pointer,
                                   k: k.pointer, n: n, c: c, s: s)
        }
    }

    // MARK: Evaluation

    private func evaluationForward(_ x: Tensor) -> Tensor {
        let n = x.shape[0], c = channels, s = x.rank == 4 ? x.shape[2] * x.shape[3] : 1
        // invstd, scale, shift [C] from the running statistics.
        let invstd = Storage(count: c), scale = Storage(count: c), shift = Storage(count: c)
        let gamma = weight.data, beta = bias.data, rm = runningMean.data, rv = runningVar.data
        for ch in 0..<c {
            let inv = 1 / (Double(rv[ch]) + Double(epsilon)).squareRoot()
            invstd.pointer[ch] = Float(inv)
            scale.pointer[ch] = Float(Double(gamma[ch]) * inv)
            shift.pointer[ch] = Float(Double(beta[ch]) - Double(rm[ch]) * Double(gamma[ch]) * inv)
        }
        let out = Storage(count: x.count)
        batchNormApply(y: out.pointer, x: x.data, scale: scale.pointer, shift: shift.pointer, n: n, c: c, s: s)
        let weight = self.weight, bias = self.bias
        let mean = runningMean.copy()
        return Tensor.result(shape: x.shape, storage: out, parents: [x, weight, bias]) { y in
            let dy = y.gradStorage!.pointer
            // forward was: y = γ·(x − μ_run)·σ_run⁻¹ + β
            // so:          dx += γσ⁻¹·dy;  dγ += Σdy·x̂;  dβ += Σdy
            if weight.requiresGrad || bias.requiresGrad {
                _ = batchNormParameterGradients(dy: dy, x: x.data, mean: (0..<c).map { Double(mean.data[$0]) },
                                                invstd: (0..<c).map { Double(invstd.pointer[$0]) },
                                                weight: weight, bias: bias, n: n, c: c, s: s)
            }
            guard x.requiresGrad else { return }
            let zero = Storage(count: c, repeating: 0)
            batchNormInputGradient(dx: x.gradBuffer(), dy: dy, x: x.data, a: scale.pointer, b: zero.pointer,
                                   k: zero.pointer, n: n, c: c, s: s)
        }
    }
}

/// The backward's per-channel sums [Σdy | Σdy·(x − μ)] (2C, Double), and from them
/// dγ += σ⁻¹·Σdy·(x − μ) = Σdy·x̂ and dβ += Σdy for the parameters that need gradients.
/// Shapes: dy, x [N, C, S]; mean, invstd [C].
private func batchNormParameterGradients(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: [Double],
                                         invstd: [Double], weight: Tensor, bias: Tensor,
                                         n: Int, c: Int, s: Int) -> [Double] {
    var sums = [Double](repeating: 0, count: 2 * c)
    sums.withUnsafeMutableBufferPointer { sm in
        mean.withUnsafeBufferPointer { mu in
            batchNormGradientSums(sums: sm.baseAddress!, dy: dy, x: x, mean: mu.baseAddress!, n: n, c: c, s: s)
        }
    }
    if weight.requiresGrad {
        let dg = weight.gradBuffer()
        for ch in 0..<c { dg[ch] += Float(sums[c + ch] * invstd[ch]) }
    }
    if bias.requiresGrad {
        let db = bias.gradBuffer()
        for ch in 0..<c { db[ch] += Float(sums[ch]) }
    }
    return sums
}
