import Tensor

// Note [Differentiable augmentation]
// With tens of real images D memorises them within a few hundred steps, its gradient to G
// stops meaning "looks like an object on a background", and the masks drift. DiffAugment
// (Zhao et al., NeurIPS 2020) and ADA (Karras et al., NeurIPS 2020) fix this by showing D only
// augmented images — real and fake alike, with the fakes' augmentation differentiable so G's
// gradient flows through it. Each transform of the policy (configuration `augment_policy`, a
// comma-separated subset, default all four) is applied to a sample with probability p:
//     flip        left ↔ right
//     translation by up to S/8 pixels in x and y, zero fill
//     colour      brightness + U(−¼, ¼), saturation × U(0, 2), contrast × U(½, 3/2)
//     cutout      a zeroed square of side S/2 at a random centre
// Every draw comes from CounterRNG(seed, stream, step, global sample index): ranks never matter
// and a resumed run draws the same. p adapts as ADA's: after every D update
//     r = E[sign(D logit on real)]  (averaged over ranks)
//     p ← clamp(p + sign(r − target) · B / 20 000, 0, 0.9)
// so p can go from 0 to its cap in 18 000 images (about 1 100 steps at B = 16) when D
// overfits (r near 1) and falls back when it does not. p is a buffer (`A/p`), so it is
// checkpointed and resumed bitwise.

/// Differentiable augmentation of everything the discriminator sees, with an adaptive strength
/// (Note [Differentiable augmentation]).
///
/// ```swift
/// let augment = DiffAugment(seed: 1, probability: 0.2, target: 0.6)
/// let logits = discriminator(augment(images, stream: "augment-real", step: t, samples: keys))
/// augment.adapt(realSign: r, batch: 16)
/// ```
public final class DiffAugment: Module {
    public var isTraining = true
    /// p, the probability of each transform ([1], buffer `p`).
    public let probability: Tensor
    let seed: UInt64
    let initial: Float
    /// The target of E[sign(D(real))]; 0 keeps p fixed.
    public let target: Double
    /// The transforms in use.
    public let policy: Set<Transform>

    /// The transforms of Note [Differentiable augmentation].
    public enum Transform: String, CaseIterable, Sendable {
        case flip, translation, colour, cutout

        /// Parses a comma-separated policy such as "flip,colour"; nil names the first unknown word.
        public static func policy(_ text: String) -> Result<Set<Transform>, ConfigurationError> {
            var out: Set<Transform> = []
            for word in text.split(separator: ",") {
                let name = word.trimmingCharacters(in: .whitespaces)
                guard let t = Transform(rawValue: name) else {
                    return .failure(ConfigurationError("augment_policy: unknown transform '\(name)' (known: flip, translation, colour, cutout)"))
                }
                out.insert(t)
            }
            return .success(out)
        }
    }

    /// Images over which p may move from 0 to 1 (ADA's adjustment speed, scaled to small runs).
    static let speed = 20_000.0
    /// The largest p: at 1 no sample is ever shown to D un-augmented.
    static let cap: Float = 0.9

    public init(seed: UInt64, probability: Double, target: Double, policy: Set<Transform> = Set(Transform.allCases)) {
        self.seed = seed
        self.policy = policy
        initial = Float(probability)
        self.target = target
        self.probability = Tensor(shape: [1], repeating: Float(probability))
    }

    public var ownBuffers: [(String, Tensor)] { [("p", probability)] }

    public func resetParameters(seed: UInt64, path: String) { probability.data[0] = initial }

    /// The current p.
    public var p: Float { probability.data[0] }

    /// ADA's update from r = E[sign(D(real))] of the last D step (identical on every rank).
    public func adapt(realSign r: Double, batch: Int) {
        guard target > 0 else { return }
        let delta = Float((r > target ? 1.0 : r < target ? -1.0 : 0.0) * Double(batch) / Self.speed)
        probability.data[0] = min(max(p + delta, 0), Self.cap)
    }

    /// The per-sample draws of one call.
    struct Draw {
        var flip = false
        var dy = 0, dx = 0
        var brightness: Float = 0, saturation: Float = 1, contrast: Float = 1
        var cutout: (y: Int, x: Int)? = nil
    }

    func draws(size s: Int, stream: String, step: Int, samples: [Int]) -> [Draw] {
        let p = self.p, shift = s / 8
        return samples.map { sample in
            var rng = CounterRNG(seed: seed, purpose: stream, step: step, index: sample)
            var d = Draw()
            if rng.uniform() < p, policy.contains(.flip) { d.flip = true }
            if rng.uniform() < p, shift > 0, policy.contains(.translation) {
                d.dy = rng.int(below: 2 * shift + 1) - shift
                d.dx = rng.int(below: 2 * shift + 1) - shift
            }
            if rng.uniform() < p, policy.contains(.colour) {
                d.brightness = rng.uniform() * 0.5 - 0.25
                d.saturation = rng.uniform() * 2
                d.contrast = rng.uniform() + 0.5
            }
            if rng.uniform() < p, policy.contains(.cutout) { d.cutout = (rng.int(below: s), rng.int(below: s)) }
            return d
        }
    }

    /// Augments images x [N, 3, S, S] in [0, 1] (sample n keyed by `samples[n]`); gradients flow
    /// to x. With p = 0 it returns x itself.
    public func callAsFunction(_ x: Tensor, stream: String, step: Int, samples: [Int]) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == 3 && x.shape[0] == samples.count,
                     "DiffAugment: input \(x.shape) with \(samples.count) sample keys")
        guard p > 0 else { return x }
        let n = x.shape[0], s = x.shape[2], w = x.shape[3]
        let d = draws(size: s, stream: stream, step: step, samples: samples)
        func perSample(_ f: (Draw) -> Float) -> Tensor { Tensor(shape: [n, 1, 1, 1], values: d.map(f)) }
        var y = x
        if d.contains(where: \.flip) {
            let f = perSample { $0.flip ? 1 : 0 }
            y = y + (flipHorizontal(y) - y) * f
        }
        let shift = s / 8
        if d.contains(where: { $0.dy != 0 || $0.dx != 0 }) {
            y = translate(y, padding: shift, offsets: d.map { (dy: shift - $0.dy, dx: shift - $0.dx) })
        }
        if d.contains(where: { $0.brightness != 0 || $0.saturation != 1 || $0.contrast != 1 }) {
            y = y + perSample(\.brightness)
            let grey = (y.slice(axis: 1, 0..<1) + y.slice(axis: 1, 1..<2) + y.slice(axis: 1, 2..<3)) * (1 / Float(3))
            y = grey + (y - grey) * perSample(\.saturation)
            let mean = y.mean(from: 1).reshaped([n, 1, 1, 1])
            y = mean + (y - mean) * perSample(\.contrast)
        }
        if d.contains(where: { $0.cutout != nil }) {
            let half = s / 4
            let keep = Tensor(shape: [n, 1, s, w]) { out in
                out.update(repeating: 1)
                for (k, draw) in d.enumerated() {
                    guard let c = draw.cutout else { continue }
                    for i in max(c.y - half, 0)..<min(c.y + half, s) {
                        for j in max(c.x - half, 0)..<min(c.x + half, w) { out[(k * s + i) * w + j] = 0 }
                    }
                }
            }
            y = y * keep
        }
        return y
    }
}
