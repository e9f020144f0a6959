import Carve
import Foundation
import TestSupport
import Testing

// The whole Table 2 generator and discriminator against PyTorch (issue 3, "Correctness"): the
// fixture Fixtures/hoc_networks.safetensors is written by scripts/make_fixtures.py from PyTorch
// modules built like Carve's, at small widths. It holds the parameters and buffers under Carve's
// names (`g.fc.weight`, `d.conv1.weight_u`, …; PyTorch's `weight_orig` is Carve's `weight`), the
// inputs, the outputs of one training-mode forward, the gradients of a fixed weighted sum of the
// outputs (`g.grad.<name>`, `g.grad.z`), and the buffers after the forward (`g.after.<name>`:
// BN running statistics, spectral-norm u and v after the power iteration).

/// Compares tensors with one network's part of the hoc_networks fixture: agreement is
/// max |actual − expected| ≤ tolerance · max |expected| per tensor (element-wise relative errors
/// are meaningless near zero). Prints every tensor's error and remembers the worst.
private final class NetworkComparison {
    let tensors: [String: Tensor]
    let prefix: String
    let tolerance: Double
    private(set) var worst = 0.0
    private(set) var worstName = ""

    /// `terms`: the longest chain of float32 roundings in the network's forward and backward (K of
    /// Note [Rounding bounds]); agreement means ≤ 2·γ_K relative to the tensor's largest value.
    init(prefix: String, terms: Int) throws {
        tensors = try Fixture.load("hoc_networks", bundle: .module)
        self.prefix = prefix
        self.tolerance = 2 * RoundingBound.gamma(terms)
    }

    /// The stored tensor `prefix.name` (a copy, requiring gradients when asked).
    func tensor(_ name: String, requiresGrad: Bool = false) -> Tensor {
        guard let t = tensors[prefix + "." + name] else {
            Issue.record("hoc_networks has no tensor \(prefix).\(name)")
            return Tensor(shape: [1])
        }
        return Tensor(shape: t.shape, values: t.array, requiresGrad: requiresGrad)
    }

    /// Sets every parameter and buffer of `module` to the stored value of the same name, after
    /// checking that the fixture and the module name the same tensors.
    func load(into module: any Module) {
        let named = module.namedParameters() + module.namedBuffers()
        let carve = Set(named.map(\.name))
        // The fixture's parameters and buffers: its names under prefix, less inputs, outputs, grads, after.
        let stored = Set(tensors.keys.filter { $0.hasPrefix(prefix + ".") }.map { String($0.dropFirst(prefix.count + 1)) }
            .filter { !["z", "images", "out"].contains($0) && !$0.hasPrefix("grad.") && !$0.hasPrefix("after.") })
        #expect(carve == stored, "\(prefix): only in Carve \(carve.subtracting(stored).sorted()), only in PyTorch \(stored.subtracting(carve).sorted())")
        for (name, t) in named {
            let value = tensor(name)
            #expect(value.shape == t.shape, "\(prefix).\(name): Carve \(t.shape), PyTorch \(value.shape)")
            if value.count == t.count { t.assign(value) }
        }
    }

    /// Expects `actual` to match the stored tensor `prefix.name` (shape and values).
    func check(_ actual: Tensor?, _ name: String) {
        let key = prefix + "." + name
        guard let expected = tensors[key] else {
            Issue.record("hoc_networks has no tensor \(key)")
            return
        }
        guard let actual else {
            Issue.record("\(key): no value (gradient missing?)")
            return
        }
        #expect(actual.shape == expected.shape, "\(key): shape \(actual.shape), PyTorch \(expected.shape)")
        guard actual.count == expected.count else { return }
        let scale = max(expected.array.map { Double(abs($0)) }.max() ?? 0, 1e-12)
        let c = closeness(actual.array, expected.array, atol: tolerance * scale, rtol: tolerance)
        let relative = c.maxAbs / scale
        print("hoc_networks \(key) \(expected.shape): max |Δ| / max |x| = \(relative)")
        if relative >= worst {
            worst = relative
            worstName = key
        }
        #expect(c.firstBad == nil && relative <= tolerance, "\(key): \(c), relative to max |x| \(relative)")
    }

    /// Checks `out`, then runs the backward of the fixture's weighted sum (out · pattern).sum().
    func backward(_ out: Tensor) {
        check(out, "out")
        // The weights scripts/make_fixtures.py's `pattern` uses: ((i·37) mod 23 − 11) / 8, exact.
        let weights = Tensor(shape: out.shape, values: (0..<out.count).map { Float(($0 * 37) % 23 - 11) / 8 })
        (out * weights).sum().backward()
    }

    func report() {
        print("hoc_networks \(prefix): worst relative error \(worst) (\(worstName)), bound \(tolerance)")
    }
}

@Suite struct HocNetworkFixtureTests {
    /// Table 2 G at widths [8, 8, 8, 8, 4], z dim 3, batch 2: one training forward (batch
    /// statistics, running statistics updated) and the backward to z and every parameter.
    @Test func generatorMatchesPyTorch() throws {
        // K, summed over every reduction (a bound on the longest chain): forward fan-ins fc 3,
        // conv1/conv2/deconv1/deconv2 8·4² each, deconv3 4·4² (579) and the same backward (579);
        // each BatchNorm's four reductions over N·H·W (bn0–bn2 128, bn3 512, bn4 2048: 4·2944);
        // weight gradients over N·H·W (2 + 128 + 128 + 128 + 512 + 2048) and deconv3's bias over
        // 2·64·64 = 8192; plus 16 element-wise roundings.
        let f = try NetworkComparison(prefix: "g", terms: 579 + 579 + 4 * 2944 + 2946 + 8192 + 16)
        let g = NoiseGenerator(zDim: 3, widths: [8, 8, 8, 8, 4])
        f.load(into: g)
        g.train(true)
        let z = f.tensor("z", requiresGrad: true)
        f.backward(g(z))
        f.check(z.grad, "grad.z")
        for (name, p) in g.namedParameters() { f.check(p.grad, "grad." + name) }
        for (name, b) in g.namedBuffers() { f.check(b, "after." + name) }
        f.report()
    }

    /// Table 2 D at widths [4, 8, 8, 8, 8], batch 2 on 64×64: one training forward (one power
    /// iteration per SN layer) and the backward to the images and every parameter.
    @Test func discriminatorMatchesPyTorch() throws {
        // K: forward fan-ins 27 + 36 + 72 + 72 + 72 + 8 (287) and backward (287); spectral norm's σ
        // and W/σ over every weight (108 + 288 + 3·576 + 8 = 2132), forward and backward; weight
        // gradients over N·OH·OW (2048 + 512 + 128 + 32 + 32 + 32); plus 16 element-wise roundings.
        let f = try NetworkComparison(prefix: "d", terms: 287 + 287 + 2 * 2132 + 2784 + 16)
        let d = Discriminator(widths: [4, 8, 8, 8, 8])
        f.load(into: d)
        d.train(true)
        let images = f.tensor("images", requiresGrad: true)
        f.backward(d(images))
        f.check(images.grad, "grad.images")
        for (name, p) in d.namedParameters() { f.check(p.grad, "grad." + name) }
        for (name, b) in d.namedBuffers() { f.check(b, "after." + name) }
        f.report()
    }
}
