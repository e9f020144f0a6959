import Foundation
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
///
/// With `transposedProviders` = N > 0 (`layout_transpose`; not in the paper), the instances of
/// every other provider — key % N odd, HocGAN's keys being sample · N + provider — are first
/// turned over the diagonal (x ↔ y), so a provider's shapes show in both orientations.
///
/// With `rotates` (`layout_rotate`; not in the paper), every instance is then turned about its
/// canvas centre by its own uniform random angle in [0, 2π) (`angles`), by the bilinear warp of
/// eq. 4 (`affineWarp`), before the translation: the discriminator sees each provider's shapes
/// at every angle, so no provider gains by drawing its objects in one orientation, and objects
/// that lie every way in the image need no provider per orientation. The canvas must be square.
public struct TranslationLayout: Layout {
    public let padding: Int
    /// The number of providers whose odd ones are transposed, or 0 for none.
    public let transposedProviders: Int
    /// Whether each instance is turned by a random angle before the translation.
    public let rotates: Bool
    public init(padding: Int, transposedProviders: Int = 0, rotates: Bool = false) {
        self.padding = padding
        self.transposedProviders = transposedProviders
        self.rotates = rotates
    }

    /// The rotation angle of each instance in radians, counter-clockwise as the image is shown
    /// (y down), drawn from (seed, "layout-rotation", step, key).
    public func angles(seed: UInt64, step: Int, keys: [Int]) -> [Float] {
        keys.map { key in
            var rng = CounterRNG(seed: seed, purpose: "layout-rotation", step: step, index: key)
            return rng.uniform(0, 2 * Float.pi)
        }
    }

    /// The crop offsets of each instance.
    public func offsets(seed: UInt64, step: Int, keys: [Int]) -> [(dy: Int, dx: Int)] {
        keys.map { key in
            var rng = CounterRNG(seed: seed, purpose: "layout", step: step, index: key)
            return (dy: rng.int(below: 2 * padding + 1), dx: rng.int(below: 2 * padding + 1))
        }
    }

    public func callAsFunction(_ instances: Tensor, seed: UInt64, step: Int, keys: [Int]) -> Tensor {
        precondition(instances.shape[0] == keys.count, "TranslationLayout: \(instances.shape) with \(keys.count) keys")
        let turned = turning(instances, seed: seed, step: step, keys: keys)
        guard padding > 0 else { return turned }
        return translate(turned, padding: padding, offsets: offsets(seed: seed, step: step, keys: keys))
    }

    /// The layout's turns without its translation: odd providers' instances transposed, then
    /// each instance rotated by its angle (`rotates`) — the instances as the composition shows
    /// them, up to where they are (what `HocEvaluation`'s shape measure samples).
    public func turning(_ instances: Tensor, seed: UInt64, step: Int, keys: [Int]) -> Tensor {
        let turned = transposingOddProviders(instances, keys: keys)
        return rotates ? rotating(turned, angles: angles(seed: seed, step: step, keys: keys)) : turned
    }

    /// `instances` with those of odd providers transposed, one slice per run of neighbours alike.
    func transposingOddProviders(_ instances: Tensor, keys: [Int]) -> Tensor {
        guard transposedProviders > 0, !keys.isEmpty else { return instances }
        let odd = keys.map { ($0 % transposedProviders) % 2 == 1 }
        var runs: [Tensor] = []
        var start = 0
        for end in 1...keys.count where end == keys.count || odd[end] != odd[start] {
            let run = instances.slice(axis: 0, start..<end)
            runs.append(odd[start] ? run.transposedSpatial() : run)
            start = end
        }
        return runs.count == 1 ? runs[0] : Tensor.concat(runs, axis: 0)
    }
}

extension TranslationLayout {
    /// `instances` [K, C, S, S] each turned by its angle a about the canvas centre: output pixel
    /// (u, v) (normalised coordinates about the centre, y down) samples the input bilinearly at
    /// (u cos a − v sin a, u sin a + v cos a), zero outside — so input point q shows at R(−a)·q,
    /// a counter-clockwise turn on screen. Gradients flow to the instances.
    func rotating(_ instances: Tensor, angles: [Float]) -> Tensor {
        precondition(instances.shape[2] == instances.shape[3], "layout_rotate needs square instances, got \(instances.shape)")
        let theta = angles.flatMap { a -> [Float] in
            let c = Float(cos(Double(a))), s = Float(sin(Double(a)))
            return [c, -s, 0, s, c, 0]
        }
        return affineWarp(instances, theta: Tensor(shape: [angles.count, 2, 3], values: theta))
    }
}

/// The fg layout: Δr = 0.
public struct IdentityLayout: Layout {
    public init() {}
    public func callAsFunction(_ instances: Tensor, seed: UInt64, step: Int, keys: [Int]) -> Tensor { instances }
}
