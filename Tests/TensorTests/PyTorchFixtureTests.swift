import Foundation
import Tensor
import TestSupport
import Testing

// Forward and backward against PyTorch on fixed inputs. The fixtures are committed files that
// scripts/make_fixtures.py writes (run it with a Python that has torch); these tests only read
// them. Every backward is of the fixed weighted sum (out · weights).sum() stored in the fixture.

extension Fixture {
    /// A fixture of this test target's `Fixtures` folder.
    static func load(_ name: String) throws -> [String: Tensor] { try load(name, bundle: .module) }
}

/// Collects comparisons against one fixture and remembers the worst relative error, measured as
/// max |actual − expected| / max |expected| per tensor (element-wise relative errors are
/// meaningless near zero). Agreement means ≤ 2·γ_K for every tensor (Note [Rounding bounds]):
/// Carve and PyTorch compute the same float32 sums in different orders, K is the longest chain
/// of roundings in the fixture's forward and backward (each test derives it from its shapes), and
/// Σ|terms| is taken as the tensor's largest magnitude — the fixtures draw standard-normal inputs,
/// so no output is a small difference of large terms.
final class FixtureComparison {
    let fixture: String
    let tensors: [String: Tensor]
    let tolerance: Double
    private(set) var worst = 0.0
    private(set) var worstName = ""

    init(_ fixture: String, terms: Int) throws {
        self.fixture = fixture
        self.tensors = try Fixture.load(fixture)
        self.tolerance = 2 * RoundingBound.gamma(terms)
    }

    /// The stored tensor `name` (a copy, requiring gradients when asked).
    func tensor(_ name: String, requiresGrad: Bool = false) -> Tensor {
        guard let t = tensors[name] else {
            Issue.record("fixture \(fixture) has no tensor \(name)")
            return Tensor(shape: [1])
        }
        return Tensor(shape: t.shape, values: t.array, requiresGrad: requiresGrad)
    }

    /// Expects `actual` to match the stored tensor `name` (shape and values).
    func check(_ actual: Tensor?, _ name: String) {
        guard let expected = tensors[name] else {
            Issue.record("fixture \(fixture) has no tensor \(name)")
            return
        }
        guard let actual else {
            Issue.record("\(fixture) \(name): no value (gradient missing?)")
            return
        }
        #expect(actual.count == expected.count, "\(fixture) \(name): shape \(actual.shape), PyTorch \(expected.shape)")
        guard actual.count == expected.count else { return }
        let scale = max(expected.array.map { Double(abs($0)) }.max() ?? 0, 1e-12)
        let c = closeness(actual.array, expected.array, atol: tolerance * scale, rtol: tolerance)
        let relative = c.maxAbs / scale
        if relative >= worst {
            worst = relative
            worstName = name
        }
        #expect(c.firstBad == nil && relative <= tolerance, "\(fixture) \(name): \(c), relative to max |x| \(relative)")
    }

    /// Backward of (out · weights).sum() with the stored weights of `prefix`.
    func backward(_ out: Tensor, _ prefix: String) {
        check(out, prefix + ".out")
        (out * tensor(prefix + ".weights")).sum().backward()
    }

    /// Prints the worst agreement (shown in the test log; the issue asks to report it).
    func report() {
        print("PyTorch fixture \(fixture): worst relative error \(worst) (\(worstName)), bound \(tolerance)")
    }
}

@Suite struct PyTorchFixtureTests {
    // MARK: Batch norm

    @Test(arguments: ["train4d", "train2d", "eval4d"])
    func batchNorm(_ name: String) throws {
        // Per channel: mean and variance over M = N·H·W values, then the backward's Σdy and Σdy·x̂
        // (M each), plus a dozen element-wise roundings.
        let shape = try Fixture.load("batch_norm")["\(name).x"]!.shape
        let m = shape.reduce(1, *) / shape[1]
        let f = try FixtureComparison("batch_norm", terms: 4 * m + 12)
        let x = f.tensor("\(name).x", requiresGrad: true)
        let bn = BatchNorm(channels: x.shape[1])
        bn.weight.assign(f.tensor("\(name).weight"))
        bn.bias.assign(f.tensor("\(name).bias"))
        bn.runningMean.assign(f.tensor("\(name).running_mean_before"))
        bn.runningVar.assign(f.tensor("\(name).running_var_before"))
        bn.train(name.hasPrefix("train"))
        f.backward(bn(x), name)
        f.check(bn.runningMean, "\(name).running_mean_after")
        f.check(bn.runningVar, "\(name).running_var_after")
        f.check(x.grad, "\(name).grad_x")
        f.check(bn.weight.grad, "\(name).grad_weight")
        f.check(bn.bias.grad, "\(name).grad_bias")
        f.report()
    }

    // MARK: Affine warp

    @Test func affineWarpMatchesGridSample() throws {
        // Bilinear taps (4 per output) and θ's gradient: a sum over every output of C·H·W values,
        // 4 taps, 2 coordinates (8·C·H·W terms), plus the grid's own few roundings.
        let f = try FixtureComparison("affine_warp", terms: 8 * 4 * 6 * 7 + 16)
        let x = f.tensor("warp.x", requiresGrad: true)
        let theta = f.tensor("warp.theta", requiresGrad: true)
        f.backward(affineWarp(x, theta: theta), "warp")
        f.check(x.grad, "warp.grad_x")
        f.check(theta.grad, "warp.grad_theta")
        f.report()
    }

    // MARK: Convolutions

    @Test(arguments: [("k3s2p1", 2, Padding.explicit(1)), ("k4s1same", 1, .same), ("k1", 1, .explicit(0))])
    func conv2dMatches(_ name: String, _ stride: Int, _ padding: Padding) throws {
        let shapes = try Fixture.load("conv2d")
        let (xs, ws, ys) = (shapes["\(name).x"]!.shape, shapes["\(name).weight"]!.shape, shapes["\(name).out"]!.shape)
        // Forward C·K² terms (+ bias), grad_x O·K², grad_weight and grad_bias N·OH·OW, + 2.
        let f = try FixtureComparison("conv2d", terms: xs[1] * ws[2] * ws[3] + ws[0] * ws[2] * ws[3] + ys[0] * ys[2] * ys[3] + 2)
        let x = f.tensor("\(name).x", requiresGrad: true)
        let w = f.tensor("\(name).weight", requiresGrad: true)
        let b = f.tensor("\(name).bias", requiresGrad: true)
        f.backward(conv2d(x, weight: w, bias: b, stride: stride, padding: padding), name)
        f.check(x.grad, "\(name).grad_x")
        f.check(w.grad, "\(name).grad_weight")
        f.check(b.grad, "\(name).grad_bias")
        f.report()
    }

    @Test(arguments: [("k4s2p1", 2, 1), ("k2s2", 2, 0)])
    func convTranspose2dMatches(_ name: String, _ stride: Int, _ padding: Int) throws {
        let shapes = try Fixture.load("conv_transpose2d")
        let (ws, ys) = (shapes["\(name).weight"]!.shape, shapes["\(name).out"]!.shape)
        // Forward Cin·K² terms (+ bias), grad_x Cout·K², grad_weight and grad_bias N·OH·OW, + 2.
        let f = try FixtureComparison("conv_transpose2d", terms: ws[0] * ws[2] * ws[3] + ws[1] * ws[2] * ws[3] + ys[0] * ys[2] * ys[3] + 2)
        let x = f.tensor("\(name).x", requiresGrad: true)
        let w = f.tensor("\(name).weight", requiresGrad: true)
        let b = f.tensor("\(name).bias", requiresGrad: true)
        f.backward(convTranspose2d(x, weight: w, bias: b, stride: stride, padding: padding), name)
        f.check(x.grad, "\(name).grad_x")
        f.check(w.grad, "\(name).grad_weight")
        f.check(b.grad, "\(name).grad_bias")
        f.report()
    }

    @Test func spectralNormConvMatchesOneTrainingForward() throws {
        // One power iteration (Wᵀu: 4 terms, its norm 27, Wv: 27, its norm 4), σ = uᵀWv (4·27),
        // W/σ, then the convolution 3·3² forward, 4·3² grad_x, N·OH·OW = 32 for the weight, and
        // the weight gradient back through W/σ (another 4·27).
        let f = try FixtureComparison("spectral_norm", terms: 4 + 27 + 27 + 4 + 108 + 1 + 27 + 36 + 32 + 108 + 2)
        let conv = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: 1, spectralNorm: true)
        conv.weight.assign(f.tensor("sn.weight_orig"))
        conv.bias!.assign(f.tensor("sn.bias"))
        conv.weightU!.assign(f.tensor("sn.weight_u_before"))
        conv.weightV!.assign(f.tensor("sn.weight_v_before"))
        conv.train(true)
        let x = f.tensor("sn.x", requiresGrad: true)
        f.backward(conv(x), "sn")
        f.check(conv.weightU, "sn.weight_u_after")
        f.check(conv.weightV, "sn.weight_v_after")
        f.check(x.grad, "sn.grad_x")
        f.check(conv.weight.grad, "sn.grad_weight_orig")
        f.check(conv.bias!.grad, "sn.grad_bias")
        f.report()
    }

    // MARK: Adam

    @Test func adamMatchesThreeSteps() throws {
        // Three steps of about ten element-wise roundings each (moments, √v, division, update).
        let f = try FixtureComparison("adam", terms: 32)
        let p = f.tensor("adam.p", requiresGrad: true), q = f.tensor("adam.q", requiresGrad: true)
        let adam = Adam(parameters: [(name: "p", tensor: p), (name: "q", tensor: q)], learningRate: 0.01,
                        beta1: 0.5, beta2: 0.999, epsilon: 1e-8)
        for step in 1...3 {
            p.zeroGrad()
            q.zeroGrad()
            _ = p.gradBuffer()
            _ = q.gradBuffer()
            p.grad!.assign(f.tensor("adam.grad_p\(step)"))
            q.grad!.assign(f.tensor("adam.grad_q\(step)"))
            adam.step()
            f.check(p, "adam.p\(step)")
            f.check(q, "adam.q\(step)")
        }
        let state = Dictionary(uniqueKeysWithValues: adam.state().map { ($0.name, $0.tensor) })
        f.check(state["m/p"], "adam.m_p")
        f.check(state["v/p"], "adam.v_p")
        f.check(state["m/q"], "adam.m_q")
        f.check(state["v/q"], "adam.v_q")
        f.report()
    }

    // MARK: Losses

    @Test func smoothL1OfEquation8() throws {
        // The mean over 32 values and a few element-wise roundings.
        let f = try FixtureComparison("losses", terms: 32 + 8)
        let a = f.tensor("smooth_l1.input", requiresGrad: true)
        let loss = a.smoothL1(f.tensor("smooth_l1.target"))
        f.check(loss.reshaped([1]), "smooth_l1.loss")
        loss.backward()
        f.check(a.grad, "smooth_l1.grad_input")
        f.report()
    }

    @Test(arguments: [1, 0])
    func bceWithLogits(_ target: Int) throws {
        // The mean over 36 values and the log-sum-exp's few roundings.
        let f = try FixtureComparison("losses", terms: 36 + 8)
        let x = f.tensor("bce\(target).x", requiresGrad: true)
        let loss = x.bceWithLogits(target: Float(target))
        f.check(loss.reshaped([1]), "bce\(target).loss")
        loss.backward()
        f.check(x.grad, "bce\(target).grad_x")
        f.report()
    }
}
