import Tensor

/// The outcome of a directional gradient check: ⟨∇f, v⟩ from backward against the central
/// difference (f(x + εv) − f(x − εv)) / 2ε, both in Double.
public struct GradcheckResult: CustomStringConvertible, Sendable {
    public var analytic: Double
    public var numeric: Double
    public var absoluteError: Double { abs(analytic - numeric) }
    public var relativeError: Double { absoluteError / max(abs(analytic), abs(numeric), 1e-12) }
    public var description: String {
        "⟨∇f, v⟩ = \(analytic) from backward, \(numeric) from finite differences (rel. error \(relativeError))"
    }
    /// True when |analytic − numeric| ≤ atol + rtol · max(|analytic|, |numeric|).
    public func passes(atol: Double, rtol: Double) -> Bool {
        absoluteError <= atol + rtol * max(abs(analytic), abs(numeric))
    }
}

/// Checks the gradients of the scalar `f()` with respect to `tensors` (leaves that require
/// gradients: inputs or layer parameters) along one random direction v.
///
/// `f` must rebuild its graph on every call and be deterministic (no fresh randomness).
/// Float32 forward passes are noisy element-wise; a directional check over all elements at
/// once, with the loss summed in Double, keeps the comparison meaningful.
///
/// ```swift
/// let x = Tensor.randomNormal([2, 3], seed: 1, purpose: "x").requiringGrad()
/// let r = gradcheck([x]) { (x.sigmoid() * weights).sum() }
/// #expect(r.passes(atol: 1e-4, rtol: 1e-3), "\(r)")
/// ```
public func gradcheck(_ tensors: [Tensor], epsilon: Float = 1e-2, seed: UInt64 = 99, _ f: () -> Tensor)
    -> GradcheckResult
{
    for t in tensors { precondition(t.requiresGrad, "gradcheck: tensor \(t.name ?? "\(t.shape)") does not require gradients") }
    // Direction v: unit-variance normal per element, fixed by the seed.
    let directions = tensors.enumerated().map { i, t in
        Tensor.randomNormal(t.shape, seed: seed, purpose: "gradcheck-direction", index: i).array
    }
    for t in tensors { t.zeroGrad() }
    let loss = f()
    loss.backward()
    var analytic = 0.0
    for (t, v) in zip(tensors, directions) {
        let g = t.grad?.array ?? [Float](repeating: 0, count: t.count)
        for i in 0..<t.count { analytic += Double(g[i]) * Double(v[i]) }
    }
    func evaluate(shift: Float) -> Double {
        let saved = tensors.map(\.array)
        for (t, v) in zip(tensors, directions) {
            for i in 0..<t.count { t.data[i] += shift * v[i] }
        }
        let value = Autodiff.withoutRecording { Double(f().item) }
        for (t, s) in zip(tensors, saved) { for i in 0..<t.count { t.data[i] = s[i] } }
        return value
    }
    let numeric = (evaluate(shift: epsilon) - evaluate(shift: -epsilon)) / (2 * Double(epsilon))
    return GradcheckResult(analytic: analytic, numeric: numeric)
}

extension Tensor {
    /// A leaf copy of this tensor that requires gradients (for gradcheck inputs).
    public func requiringGrad() -> Tensor {
        Tensor(shape: shape, values: array, requiresGrad: true)
    }
}
