// Adam with bias correction (PyTorch's torch.optim.Adam, no weight decay, not amsgrad), and its
// state as named tensors for checkpoints (`opt/G/m/…`, `opt/G/v/…`).
import Foundation

/// A checkpoint's optimizer state that does not fit the optimizer.
public enum AdamStateError: LocalizedError, Equatable {
    /// The state has no tensor `name`.
    case missing(name: String)
    /// The tensor `name` has another shape than its parameter.
    case shapeMismatch(name: String, expected: [Int], actual: [Int])

    public var errorDescription: String? {
        switch self {
        case let .missing(name):
            return "optimizer state: no tensor \(name)"
        case let .shapeMismatch(name, expected, actual):
            return "optimizer state: tensor \(name) has shape \(actual), parameter expects \(expected)"
        }
    }
}

// MARK: - Kernel

/// One Adam update of n values (shapes: p, g, m, v [n]):
///   m ← m + (1 − β1)(g − m);  v ← β2·v + (1 − β2)·g²;
///   p ← p − stepSize · m / (√v / √(1 − β2ᵗ) + ε),  stepSize = lr / (1 − β1ᵗ).
private func adamUpdate(p: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>,
                        v: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, n: Int,
                        beta1: Double, beta2: Double, epsilon: Float, stepSize: Float, correction2Sqrt: Float) {
    // PyTorch's lerp_(grad, a) is m + a·(g − m) for a < 0.5, else g − (g − m)·(1 − a). Its β are
    // Python floats: 1 − β is formed in Double and then rounded to float32 (forming it from
    // float32 β2 = 0.999 gives 0.00099998713, 1.3e-5 off PyTorch's 0.001 in every v).
    let a = Float(1 - beta1), b = Float(1 - beta2)
    let beta2 = Float(beta2)
    let fromEnd = a >= 0.5, ca = fromEnd ? 1 - a : a
    parallelFor(n, grain: 32768) { range in
        // SIMD8 chunks (the same IEEE operations per lane as the scalar tail, so results do not
        // depend on where a chunk boundary falls), then the remainder one by one.
        typealias V = SIMD8<Float>
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
            let m0 = UnsafeRawPointer(m + i).loadUnaligned(as: V.self)
            let v0 = UnsafeRawPointer(v + i).loadUnaligned(as: V.self)
            let p0 = UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
            let mi = fromEnd ? gi - (gi - m0) * ca : m0 + ca * (gi - m0)   // exp_avg.lerp_(grad, 1 − β1)
            let vi = beta2 * v0 + b * gi * gi                            // exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2)
            let pi = p0 - stepSize * mi / (vi.squareRoot() / correction2Sqrt + epsilon)
            UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: pi, as: V.self)
            i += 8
        }
        while i < range.upperBound {
            let gi = g[i]
            let mi = fromEnd ? gi - (gi - m[i]) * ca : m[i] + ca * (gi - m[i])
            let vi = beta2 * v[i] + b * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= stepSize * mi / (vi.squareRoot() / correction2Sqrt + epsilon)
            i += 1
        }
    }
}

// MARK: - Optimizer

/// Adam with bias correction over a fixed, named list of parameters (PyTorch semantics).
///
/// Each `step()` reads every parameter's accumulated gradient (`gradStorage`) and updates the
/// parameter in place; it neither zeroes the gradients nor allocates. Parameters without a
/// gradient are skipped (as PyTorch skips `grad is None`), but `stepCount` counts every step.
///
/// - Parameters:
///   - parameters: the parameters with their dotted names, in the module's order.
///   - learningRate: lr (the paper: 2e-4 for D, 4e-4 for G).
///   - beta1, beta2: the moment decay rates (GAN default β1 = 0.5).
///   - epsilon: added to the bias-corrected √v.
///
/// ```swift
/// let adam = Adam(parameters: model.namedParameters(), learningRate: 2e-4)
/// loss.backward(); adam.step(); model.zeroGrad()
/// ```
///
/// Its `state()` holds `m/<name>` and `v/<name>` per parameter; checkpoints store them as
/// `opt/G/m/…`, `opt/G/v/…` (docs/ARCHITECTURE.md) and `load(state:stepCount:)` restores them exactly.
public final class Adam {
    public let parameters: [(name: String, tensor: Tensor)]
    public var learningRate: Float
    public let beta1: Double
    public let beta2: Double
    public let epsilon: Float
    /// Steps taken (t in the bias corrections); the next `step()` uses t = stepCount + 1.
    public var stepCount: Int = 0
    /// First and second moments, one per parameter, same shapes.
    private let m: [Tensor]
    private let v: [Tensor]

    public init(parameters: [(name: String, tensor: Tensor)], learningRate: Float, beta1: Double = 0.5,
                beta2: Double = 0.999, epsilon: Float = 1e-8) {
        precondition(Set(parameters.map(\.name)).count == parameters.count,
                     "Adam: parameter names are not unique: \(parameters.map(\.name))")
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = parameters.map { Tensor(shape: $0.tensor.shape, repeating: 0) }
        v = parameters.map { Tensor(shape: $0.tensor.shape, repeating: 0) }
    }

    /// Updates every parameter that has a gradient by one Adam step.
    public func step() {
        stepCount += 1
        let t = Double(stepCount)
        // Bias corrections in Double, as PyTorch computes them in Python floats.
        let correction1 = 1 - pow(beta1, t)
        let correction2 = 1 - pow(beta2, t)
        let stepSize = Float(Double(learningRate) / correction1)
        let correction2Sqrt = Float(correction2.squareRoot())
        for (i, parameter) in parameters.enumerated() {
            guard let g = parameter.tensor.gradStorage else { continue }
            adamUpdate(p: parameter.tensor.data, m: m[i].data, v: v[i].data, g: g.pointer,
                       n: parameter.tensor.count, beta1: beta1, beta2: beta2, epsilon: epsilon,
                       stepSize: stepSize, correction2Sqrt: correction2Sqrt)
        }
    }

    /// The moments as named tensors, `m/<name>` then `v/<name>` for each parameter in order.
    /// These are the optimizer's own tensors (no copy): write them out before the next step.
    public func state() -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = []
        out.reserveCapacity(2 * parameters.count)
        for (i, p) in parameters.enumerated() {
            out.append((name: "m/" + p.name, tensor: m[i]))
            out.append((name: "v/" + p.name, tensor: v[i]))
        }
        return out
    }

    /// Restores moments saved by `state()` (names `m/<name>`, `v/<name>`) and the step count.
    ///
    /// Checks every entry before changing anything, so a failed load leaves the optimizer as
    /// it was. Extra entries are ignored.
    /// - Throws: `AdamStateError` naming the first missing or misshaped tensor.
    public func load(state: [String: Tensor], stepCount: Int) throws {
        precondition(stepCount >= 0, "Adam.load: negative step count \(stepCount)")
        var sources: [(Tensor, Tensor)] = []
        for (i, p) in parameters.enumerated() {
            for (prefix, target) in [("m/", m[i]), ("v/", v[i])] {
                let name = prefix + p.name
                guard let saved = state[name] else { throw AdamStateError.missing(name: name) }
                guard saved.shape == target.shape else {
                    throw AdamStateError.shapeMismatch(name: name, expected: target.shape, actual: saved.shape)
                }
                sources.append((saved, target))
            }
        }
        for (saved, target) in sources { target.assign(saved) }
        self.stepCount = stepCount
    }
}
