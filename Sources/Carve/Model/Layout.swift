import Tensor

/// The layout module (eq. 4): geometric warps Δr_i applied alike to an instance's RGB and mask.
///
/// The warp of each instance is drawn from a counter-based generator keyed by the run seed,
/// the step and the instance's global key, never by rank (docs/ARCHITECTURE.md determinism contract).
public protocol Layout {
    /// Warps RGBA instances [K, 4, H, W]; `keys[k]` is instance k's global key.
    func callAsFunction(_ instances: Tensor, seed: UInt64, step: Int, keys: [Int]) -> Tensor
}

/// The hoc layout: pad by p and crop back to H×W at a uniform random offset in 0…2p per instance
/// (Δr ~ U(r_min, r_max) as translations, paper "Layout Prior").
public struct TranslationLayout: Layout {
    public let padding: Int
    public init(padding: Int) { self.padding = padding }

    /// The crop offsets of each instance.
    public func offsets(seed: UInt64, step: Int, keys: [Int]) -> [(dy: Int, dx: Int)] {
        keys.map { key in
            var rng = CounterRNG(seed: seed, purpose: "layout", step: step, index: key)
            return (dy: rng.int(below: 2 * padding + 1), dx: rng.int(below: 2 * padding + 1))
        }
    }

    public func callAsFunction(_ instances: Tensor, seed: UInt64, step: Int, keys: [Int]) -> Tensor {
        precondition(instances.shape[0] == keys.count, "TranslationLayout: \(instances.shape) with \(keys.count) keys")
        guard padding > 0 else { return instances }
        return translate(instances, padding: padding, offsets: offsets(seed: seed, step: step, keys: keys))
    }
}

/// The fg layout: Δr = 0.
public struct IdentityLayout: Layout {
    public init() {}
    public func callAsFunction(_ instances: Tensor, seed: UInt64, step: Int, keys: [Int]) -> Tensor { instances }
}
