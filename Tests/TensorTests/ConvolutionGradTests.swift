@testable import Tensor
import TestSupport
import Testing

/// A named gradcheck case over conv2d, convTranspose2d, linear and spectral norm: inputs are
/// x, weight, bias (all require gradients), so all three gradients are checked at once.
struct ConvCase: CustomTestStringConvertible, Sendable {
    let name: String
    let shapes: [[Int]]
    var epsilon: Float = 1e-2
    let build: @Sendable ([Tensor]) -> Tensor
    var testDescription: String { name }

    func inputs(seed: UInt64) -> [Tensor] {
        shapes.enumerated().map { i, s in
            Tensor.randomNormal(s, seed: seed, purpose: "convcase-\(name)", index: i).requiringGrad()
        }
    }

    static let all: [ConvCase] = [
        ConvCase(name: "conv2d 1×1", shapes: [[2, 3, 5, 5], [4, 3, 1, 1], [4]]) {
            conv2d($0[0], weight: $0[1], bias: $0[2])
        },
        ConvCase(name: "conv2d 3×3 s1 p1", shapes: [[2, 3, 6, 5], [4, 3, 3, 3], [4]]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 1, padding: 1)
        },
        ConvCase(name: "conv2d 3×3 s2 p1", shapes: [[2, 3, 7, 8], [4, 3, 3, 3], [4]]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        },
        ConvCase(name: "conv2d 4×4 s1 same", shapes: [[2, 3, 6, 6], [4, 3, 4, 4], [4]]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 1, padding: .same)
        },
        ConvCase(name: "conv2d 4×4 s2 p1", shapes: [[2, 3, 8, 8], [4, 3, 4, 4], [4]]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        },
        ConvCase(name: "conv2d 2×2 s2", shapes: [[2, 3, 6, 6], [4, 3, 2, 2], [4]]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2)
        },
        ConvCase(name: "convT 4×4 s2 p1", shapes: [[2, 3, 4, 4], [3, 4, 4, 4], [4]]) {
            convTranspose2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        },
        ConvCase(name: "convT 2×2 s2", shapes: [[2, 3, 3, 3], [3, 2, 2, 2], [2]]) {
            convTranspose2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 0)
        },
        ConvCase(name: "linear", shapes: [[3, 5], [4, 5], [4]]) {
            linear($0[0], weight: $0[1], bias: $0[2])
        },
        ConvCase(name: "matmul", shapes: [[3, 5], [5, 4]]) { matmul($0[0], $0[1]) },
        // The power iteration is frozen (fixed u, v), so the loss is a function of x, W, b alone.
        ConvCase(name: "spectral norm conv", shapes: [[2, 3, 6, 6], [4, 3, 3, 3], [4]], epsilon: 1e-3) {
            let u = Tensor.randomNormal([4], seed: 5, purpose: "u"), v = Tensor.randomNormal([27], seed: 5, purpose: "v")
            let wsn = spectralNormalized($0[1], u: u, v: v, powerIteration: false)
            return conv2d($0[0], weight: wsn, bias: $0[2], stride: 1, padding: 1)
        },
    ]
}

extension Tensor {
    /// A copy holding |x| element-wise (the inputs of a Σ|terms| magnitude run).
    var absolute: Tensor { Tensor(shape: shape, values: array.map { Swift.abs($0) }) }
}

@Suite struct ConvolutionGradTests {
    @Test(arguments: ConvCase.all)
    func gradientMatchesFiniteDifferences(_ op: ConvCase) {
        let inputs = op.inputs(seed: 7)
        let outShape = op.build(inputs).shape
        let weights = Tensor.randomNormal(outShape, seed: 8, purpose: "weights")
        let r = gradcheck(inputs, epsilon: op.epsilon) { (op.build(inputs) * weights).sum() }
        #expect(r.passes(atol: 1e-3, rtol: 1e-3), "\(op.name): \(r)")
        // Each input's gradient on its own (a wrong bias gradient could hide in the sum).
        for (i, t) in inputs.enumerated() {
            let ri = gradcheck([t], epsilon: op.epsilon, seed: 100 + UInt64(i)) { (op.build(inputs) * weights).sum() }
            #expect(ri.passes(atol: 1e-3, rtol: 1e-3), "\(op.name) input \(i) \(t.shape): \(ri)")
        }
    }

    // MARK: - Forward against direct loops

    /// Direct 7-loop convolution: y[n,o,oy,ox] = b[o] + Σ x[n,c,oy·s−pt+ky, ox·s−pl+kx]·w[o,c,ky,kx].
    static func directConv(_ x: Tensor, _ w: Tensor, _ b: Tensor, stride s: Int, padding: Padding) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[0], w.shape[2])
        let (pb, pa) = padding.amounts(kernelSize: k)
        let oh = (h + pb + pa - k) / s + 1, ow = (wd + pb + pa - k) / s + 1
        var y = [Float](repeating: 0, count: n * o * oh * ow)
        for ni in 0..<n { for oi in 0..<o { for oy in 0..<oh { for ox in 0..<ow {
            var acc = Double(b.data[oi])
            for ci in 0..<c { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - pb + ky, ix = ox * s - pb + kx
                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                acc += Double(x.data[((ni * c + ci) * h + iy) * wd + ix]) * Double(w.data[((oi * c + ci) * k + ky) * k + kx])
            } } }
            y[((ni * o + oi) * oh + oy) * ow + ox] = Float(acc)
        } } } }
        return y
    }

    /// Direct transposed convolution: y[n,o,iy·s−p+ky, ix·s−p+kx] += x[n,i,iy,ix]·w[i,o,ky,kx].
    static func directConvTranspose(_ x: Tensor, _ w: Tensor, _ b: Tensor, stride s: Int, padding p: Int) -> [Float] {
        let (n, ci, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[1], w.shape[2])
        let oh = (h - 1) * s - 2 * p + k, ow = (wd - 1) * s - 2 * p + k
        var y = [Double](repeating: 0, count: n * o * oh * ow)
        for ni in 0..<n { for oi in 0..<o { for i in 0..<(oh * ow) { y[(ni * o + oi) * oh * ow + i] = Double(b.data[oi]) } } }
        for ni in 0..<n { for ii in 0..<ci { for iy in 0..<h { for ix in 0..<wd {
            let v = Double(x.data[((ni * ci + ii) * h + iy) * wd + ix])
            for oi in 0..<o { for ky in 0..<k { for kx in 0..<k {
                let yy = iy * s - p + ky, xx = ix * s - p + kx
                if yy < 0 || yy >= oh || xx < 0 || xx >= ow { continue }
                y[((ni * o + oi) * oh + yy) * ow + xx] += v * Double(w.data[((ii * o + oi) * k + ky) * k + kx])
            } } }
        } } } }
        return y.map(Float.init)
    }

    /// Roundings in one output of a convolution with `channels` input channels against a Double
    /// reference: C·K² products summed (any order), the bias added, the reference rounded to float.
    static func convTerms(channels: Int, kernel: Int) -> Int { channels * kernel * kernel + 2 }

    /// A float32 result against the Double direct loops, within γ_K · Σ|terms| (the direct loops on
    /// absolute values) per element (Note [Rounding bounds]).
    static func againstDirect(_ actual: [Float], _ expected: [Float], _ magnitudes: [Float], terms: Int) -> Closeness {
        RoundingBound.check(actual, expected, magnitudes: magnitudes, terms: terms, computations: 1)
    }

    @Test(arguments: [(1, 1, 0), (3, 1, 1), (3, 2, 1), (4, 1, -1), (4, 2, 1), (2, 2, 0), (3, 2, 0), (5, 3, 2)])
    func conv2dMatchesDirectLoops(_ kernel: Int, _ stride: Int, _ pad: Int) {
        let padding: Padding = pad < 0 ? .same : .explicit(pad)
        let x = Tensor.randomNormal([3, 2, 9, 7], seed: 1, purpose: "x")
        let w = Tensor.randomNormal([5, 2, kernel, kernel], seed: 1, purpose: "w")
        let b = Tensor.randomNormal([5], seed: 1, purpose: "b")
        let y = conv2d(x, weight: w, bias: b, stride: stride, padding: padding)
        let expected = Self.directConv(x, w, b, stride: stride, padding: padding)
        #expect(y.count == expected.count)
        let c = Self.againstDirect(y.array, expected, Self.directConv(x.absolute, w.absolute, b.absolute, stride: stride, padding: padding),
                                   terms: Self.convTerms(channels: 2, kernel: kernel))
        #expect(c.firstBad == nil, "conv2d K\(kernel) S\(stride) P\(padding): \(c)")
    }

    @Test(arguments: [(4, 2, 1), (2, 2, 0), (3, 1, 1), (3, 2, 0)])
    func convTransposeMatchesDirectLoops(_ kernel: Int, _ stride: Int, _ pad: Int) {
        let x = Tensor.randomNormal([3, 4, 5, 6], seed: 2, purpose: "x")
        let w = Tensor.randomNormal([4, 3, kernel, kernel], seed: 2, purpose: "w")
        let b = Tensor.randomNormal([3], seed: 2, purpose: "b")
        let y = convTranspose2d(x, weight: w, bias: b, stride: stride, padding: pad)
        let expected = Self.directConvTranspose(x, w, b, stride: stride, padding: pad)
        #expect(y.count == expected.count)
        let c = Self.againstDirect(y.array, expected, Self.directConvTranspose(x.absolute, w.absolute, b.absolute, stride: stride, padding: pad),
                                   terms: Self.convTerms(channels: 4, kernel: kernel))
        #expect(c.firstBad == nil, "convT K\(kernel) S\(stride) P\(pad): \(c)")
    }

    /// Rows wide enough for the 16- and 8-float paths of im2col/col2im and their scalar tails
    /// (Note [Padded planes]), forward against direct loops and backward through both adjoints.
    @Test(arguments: [(3, 2, 1), (4, 2, 1), (4, 1, -1), (3, 1, 1), (5, 3, 2)])
    func wideRowsMatchDirectLoops(_ kernel: Int, _ stride: Int, _ pad: Int) {
        let padding: Padding = pad < 0 ? .same : .explicit(pad)
        let x = Tensor.randomNormal([2, 3, 37, 45], seed: 4, purpose: "x").requiringGrad()
        let w = Tensor.randomNormal([5, 3, kernel, kernel], seed: 4, purpose: "w")
        let b = Tensor.randomNormal([5], seed: 4, purpose: "b")
        let y = conv2d(x, weight: w, bias: b, stride: stride, padding: padding)
        let expected = Self.directConv(x, w, b, stride: stride, padding: padding)
        let c = Self.againstDirect(y.array, expected, Self.directConv(x.absolute, w.absolute, b.absolute, stride: stride, padding: padding),
                                   terms: Self.convTerms(channels: 3, kernel: kernel))
        #expect(c.firstBad == nil, "conv2d K\(kernel) S\(stride) P\(padding) on 37×45: \(c)")
        // ⟨conv(x), r⟩ = ⟨x, convᵀ(r)⟩: the backward (col2im) against the same direct loops.
        let r = Tensor.randomNormal(y.shape, seed: 4, purpose: "r")
        (y * r).sum().backward()
        var lhs = 0.0, rhs = 0.0
        for (a, e) in zip(r.array, zip(y.array, Self.directConv(x, w, Tensor(shape: [5]), stride: stride, padding: padding))) {
            lhs += Double(a) * Double(e.1)
        }
        for (a, g) in zip(x.array, x.grad!.array) { rhs += Double(a) * Double(g) }
        // lhs is exact up to Double rounding; each float gradient element g = Σ_o,k w·r (col2im of
        // wᵀr: 5·k² terms at most) is within γ of Σ|w||r|, so |lhs − rhs| ≤ γ_K·⟨|r|, conv_|w|(|x|)⟩.
        let magnitude = zip(r.array, Self.directConv(x.absolute, w.absolute, Tensor(shape: [5]), stride: stride, padding: padding))
            .reduce(0.0) { $0 + Double(abs($1.0)) * Double($1.1) }
        let adjointBound = RoundingBound.bound(terms: 5 * kernel * kernel + 1, magnitude: magnitude, computations: 1) + 1e-12 * magnitude
        #expect(abs(lhs - rhs) <= adjointBound, "adjoint K\(kernel) S\(stride): \(lhs) vs \(rhs) (bound \(adjointBound))")
        if stride == 2 && pad >= 0 {
            let h = Tensor.randomNormal([2, 3, 19, 23], seed: 5, purpose: "h")
            let wt = Tensor.randomNormal([3, 4, kernel, kernel], seed: 5, purpose: "wt")
            let bt = Tensor.randomNormal([4], seed: 5, purpose: "bt")
            let z = convTranspose2d(h, weight: wt, bias: bt, stride: stride, padding: pad)
            let direct = Self.directConvTranspose(h, wt, bt, stride: stride, padding: pad)
            let cT = Self.againstDirect(z.array, direct, Self.directConvTranspose(h.absolute, wt.absolute, bt.absolute, stride: stride, padding: pad),
                                        terms: Self.convTerms(channels: 3, kernel: kernel))
            #expect(cT.firstBad == nil, "convT K\(kernel) S\(stride) P\(pad) on 19×23: \(cT)")
        }
    }

    /// Batches split into several column groups give the same values and gradients as one group.
    @Test func groupedColumnsMatchOneGroup() {
        let x = Tensor.randomNormal([5, 3, 8, 8], seed: 3, purpose: "x").requiringGrad()
        let w = Tensor.randomNormal([4, 3, 3, 3], seed: 3, purpose: "w").requiringGrad()
        let wt = Tensor.randomNormal([3, 2, 4, 4], seed: 3, purpose: "wt").requiringGrad()
        func run(limit: Int, _ x: Tensor, _ w: Tensor, _ wt: Tensor) -> [[Float]] {
            ColumnGrouping.$override.withValue(ColumnGrouping(maxFloats: limit, minColumns: 0)) {
                x.zeroGrad(); w.zeroGrad(); wt.zeroGrad()
                let y = conv2d(x, weight: w, bias: nil, stride: 2, padding: 1)
                let z = convTranspose2d(y.slice(axis: 1, 0..<3), weight: wt, bias: nil, stride: 2, padding: 1)
                (z * z).sum().backward()
                return [z.array, x.grad!.array, w.grad!.array, wt.grad!.array]
            }
        }
        let one = run(limit: 16 << 20, x, w, wt), many = run(limit: 600, x, w, wt)
        // Σ|terms| of every output: the same polynomial on |x|, |w|, |wt| (Note [Rounding bounds]).
        let magnitudes = run(limit: 16 << 20, x.absolute.requiringGrad(), w.absolute.requiringGrad(), wt.absolute.requiringGrad())
        // Roundings along the longest chain: conv 3·3² = 27, convT 3·4² = 48, z·z 1, convTᵀ 2·4² = 32,
        // convᵀ 4·3² = 36, and the weight gradients' reductions over 5 samples × 4×4 positions (80)
        // for each weight — 304 in all, bounded by K = 320.
        for (i, (a, b)) in zip(one, many).enumerated() {
            let c = RoundingBound.check(b, a, magnitudes: magnitudes[i], terms: 320)
            #expect(c.firstBad == nil, "grouped vs one group, output \(i): \(c)")
        }
        // With several threads the groups run in parallel slots and dW sums per slot in a fixed
        // order (ParallelPartials): a second run gives the same bits whatever the threads' timing.
        #expect(run(limit: 600, x, w, wt) == many, "grouped columns on \(Threads.count) threads are not reproducible")
    }

    // MARK: - Hand-computed values

    @Test func conv2dHandComputed() {
        let x = Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let w = Tensor(shape: [1, 1, 2, 2], values: [1, 0, 0, 1])
        #expect(conv2d(x, weight: w, bias: Tensor(shape: [1], values: [0.5])).array == [6.5, 8.5, 12.5, 14.5])
        // 'same' with K = 2 pads 0 before and 1 after.
        let x2 = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        let ones = Tensor(shape: [1, 1, 2, 2], repeating: 1)
        #expect(conv2d(x2, weight: ones, bias: nil, padding: .same).array == [10, 6, 7, 4])
        // 'same' with K = 4 pads 1 before and 2 after: a delta at (0, 0) shifts down-right by 1.
        var delta = [Float](repeating: 0, count: 16); delta[0] = 1
        let d = Tensor(shape: [1, 1, 4, 4], values: delta)
        #expect(conv2d(x, weight: d, bias: nil, padding: .same).array == [0, 0, 0, 0, 1, 2, 0, 4, 5])
        // Stride 2, padding 1, 3×3 of ones over 1…9: window sums at (0,0), (0,2), (2,0), (2,2).
        let ones3 = Tensor(shape: [1, 1, 3, 3], repeating: 1)
        #expect(conv2d(x, weight: ones3, bias: nil, stride: 2, padding: 1).array == [12, 16, 24, 28])
    }

    @Test func convTransposeHandComputed() {
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        let ones = Tensor(shape: [1, 1, 2, 2], repeating: 1)
        #expect(convTranspose2d(x, weight: ones, bias: nil, stride: 2, padding: 0).array
                == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        // 4×4 s2 p1 on a 1×1 input: output 2×2 = the centre of the kernel times x.
        let w = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map(Float.init))
        let y = convTranspose2d(Tensor(shape: [1, 1, 1, 1], values: [2]), weight: w,
                                bias: Tensor(shape: [1], values: [1]), stride: 2, padding: 1)
        #expect(y.shape == [1, 1, 2, 2])
        #expect(y.array == [11, 13, 19, 21])
    }

    @Test func linearHandComputed() {
        let x = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        let w = Tensor(shape: [3, 2], values: [1, 0, 0, 1, 1, 1])
        let b = Tensor(shape: [3], values: [0, 0, 1])
        #expect(linear(x, weight: w, bias: b).array == [1, 2, 4, 3, 4, 8])
        #expect(matmul(x, Tensor(shape: [2, 1], values: [1, -1])).array == [-1, -1])
    }

    // MARK: - Spectral norm

    @Test func spectralNormHandComputed() {
        // W = diag(3, 2): σ = 3 with u = v = e1; W_sn = diag(1, 2/3).
        let w = Tensor(shape: [2, 2, 1, 1], values: [3, 0, 0, 2])
        let u = Tensor(shape: [2], values: [0.6, 0.8]), v = Tensor(shape: [2], values: [0.8, 0.6])
        for _ in 0..<60 { spectralNormPowerIteration(w, u: u, v: v) }
        let wsn = spectralNormalized(w, u: u, v: v, powerIteration: false)
        let e = zip(wsn.array, [1, 0, 0, 2.0 / 3]).map { abs($0 - Float($1)) }.max()!
        #expect(e < 1e-5, "W_sn = \(wsn.array)")
    }

    @Test func spectralNormLayerIteratesInTrainingOnly() {
        let conv = Conv2d(inputChannels: 3, outputChannels: 8, kernelSize: 3, padding: 1, spectralNorm: true)
        conv.initialize(seed: 4)
        #expect(conv.namedParameters().map(\.name) == ["weight", "bias"])
        #expect(conv.namedBuffers().map(\.name) == ["weight_u", "weight_v"])
        let x = Tensor.randomNormal([2, 3, 5, 5], seed: 4, purpose: "x")
        let u0 = conv.weightU!.array
        _ = conv(x)
        let u1 = conv.weightU!.array
        #expect(u0 != u1, "training forward must update u")
        conv.train(false)
        _ = conv(x)
        #expect(conv.weightU!.array == u1, "eval forward must not update u")
        // After many iterations σ(W_sn) ≈ 1: ‖W_sn v‖ for the converged v.
        conv.train(true)
        for _ in 0..<200 { _ = Autodiff.withoutRecording { conv(x) } }
        let wsn = spectralNormalized(conv.weight, u: conv.weightU!, v: conv.weightV!, powerIteration: false)
        var s = 0.0
        for r in 0..<8 {
            var dot = 0.0
            for c in 0..<27 { dot += Double(wsn.data[r * 27 + c]) * Double(conv.weightV!.data[c]) }
            s += dot * dot
        }
        #expect(abs(s.squareRoot() - 1) < 1e-3, "‖W_sn v‖ = \(s.squareRoot())")
    }

    @Test func layerShapesAndInitBounds() {
        let conv = Conv2d(inputChannels: 4, outputChannels: 6, kernelSize: 4, stride: 2, padding: 1)
        let deconv = ConvTranspose2d(inputChannels: 6, outputChannels: 2, kernelSize: 4, stride: 2, padding: 1)
        let fc = Linear(inputFeatures: 5, outputFeatures: 3)
        conv.initialize(seed: 1); deconv.initialize(seed: 1); fc.initialize(seed: 1)
        #expect(conv.weight.array.allSatisfy { abs($0) <= 1 / Float(64).squareRoot() })
        #expect(deconv.weight.array.allSatisfy { abs($0) <= 1 / Float(32).squareRoot() })
        #expect(fc.weight.array.allSatisfy { abs($0) <= 1 / Float(5).squareRoot() })
        let x = Tensor.randomNormal([2, 4, 8, 8], seed: 1, purpose: "x")
        #expect(conv(x).shape == [2, 6, 4, 4])
        #expect(deconv(conv(x)).shape == [2, 2, 8, 8])
        #expect(fc(Tensor(shape: [7, 5])).shape == [7, 3])
    }
}
