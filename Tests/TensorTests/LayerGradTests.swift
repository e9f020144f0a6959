import Foundation
import Tensor
import TestSupport
import Testing

/// A named gradcheck case over the hand-written layer kernels: batch norm, the layout ops and
/// the affine warp. `make` builds fresh leaves (inputs and layer parameters that require
/// gradients) and the function of them to check.
struct LayerCase: CustomTestStringConvertible, Sendable {
    let name: String
    var epsilon: Float = 1e-2
    let make: @Sendable () -> (tensors: [Tensor], f: () -> Tensor)
    var testDescription: String { name }

    static func input(_ shape: [Int], _ index: Int, scale: Float = 1, shift: Float = 0) -> Tensor {
        let t = Tensor.randomNormal(shape, seed: 7, purpose: "layercase", index: index)
        for i in 0..<t.count { t.data[i] = t.data[i] * scale + shift }
        return t.requiringGrad()
    }

    /// A BatchNorm with non-trivial γ, β (and running statistics for evaluation mode).
    static func batchNorm(channels: Int, training: Bool) -> BatchNorm {
        let bn = BatchNorm(channels: channels)
        let values = Tensor.randomNormal([4, channels], seed: 7, purpose: "layercase-bn").array
        for c in 0..<channels {
            bn.weight.data[c] = 1 + 0.5 * values[c]
            bn.bias.data[c] = 0.5 * values[channels + c]
            bn.runningMean.data[c] = 0.3 * values[2 * channels + c]
            bn.runningVar.data[c] = 0.8 + abs(values[3 * channels + c])
        }
        bn.train(training)
        return bn
    }

    static let all: [LayerCase] = [
        LayerCase(name: "batch norm train 4d") {
            let bn = batchNorm(channels: 3, training: true)
            let x = input([4, 3, 5, 6], 0, scale: 2, shift: 1)
            return ([x, bn.weight, bn.bias], { bn(x) })
        },
        LayerCase(name: "batch norm train 2d") {
            let bn = batchNorm(channels: 5, training: true)
            let x = input([6, 5], 1, scale: 2, shift: -0.5)
            return ([x, bn.weight, bn.bias], { bn(x) })
        },
        LayerCase(name: "batch norm eval") {
            let bn = batchNorm(channels: 3, training: false)
            let x = input([3, 3, 4, 5], 2)
            return ([x, bn.weight, bn.bias], { bn(x) })
        },
        LayerCase(name: "pad") {
            let x = input([2, 3, 4, 5], 3)
            return ([x], { pad(x, 2, value: 0.5) })
        },
        LayerCase(name: "crop") {
            let x = input([2, 3, 6, 7], 4)
            return ([x], { crop(x, top: 1, left: 2, height: 4, width: 3) })
        },
        LayerCase(name: "translate per-sample offsets") {
            let x = input([3, 2, 5, 6], 5)
            return ([x], { translate(x, padding: 2, offsets: [(dy: 0, dx: 4), (dy: 3, dx: 1), (dy: 2, dx: 2)]) })
        },
        LayerCase(name: "flip") {
            let x = input([2, 3, 4, 5], 6)
            return ([x], { flipHorizontal(x) })
        },
        LayerCase(name: "affine warp (image)") {
            let x = input([2, 3, 6, 7], 7)
            let theta = Tensor(shape: [2, 2, 3], values: [0.9, -0.3, 0.1, 0.35, 0.8, -0.2,
                                                          1.2, 0.4, 0.45, -0.5, 1.1, 0.3])
            return ([x], { affineWarp(x, theta: theta) })
        },
        LayerCase(name: "affine warp (theta)", epsilon: 1e-3) {
            // A smooth image: bilinear sampling is piecewise linear in θ with kinks at pixel
            // boundaries, and a rough image would make a finite difference across a kink
            // useless (PyTorch's θ gradient, out-of-bounds taps included, is matched in
            // PyTorchFixtureTests).
            let x = Tensor(shape: [2, 3, 6, 7]) { p in
                for i in 0..<p.count {
                    let (s, c, y, x) = (i / 126, i / 42 % 3, i / 7 % 6, i % 7)
                    p[i] = Foundation.sin(0.5 * Float(y) + 0.3 * Float(x) + Float(c + s)) + 0.1 * Float(x)
                }
            }
            // Zoomed in (Σ|θ_row| < 0.8) so every tap stays inside (the zero border is a kink
            // too), with "irrational" entries so that no sample sits exactly on a pixel boundary
            // (round values like 0.5, 0.1 put some there, and a central difference then sees
            // the mean of two slopes).
            let theta = Tensor(shape: [2, 2, 3], values: [0.4837, -0.1372, 0.0913, 0.2154, 0.4421, -0.0867,
                                                          0.5263, 0.1129, -0.0471, -0.1538, 0.4912, 0.0829],
                               requiresGrad: true)
            return ([theta], { affineWarp(x, theta: theta) })
        },
    ]
}

@Suite struct LayerGradTests {
    @Test(arguments: LayerCase.all)
    func gradientMatchesFiniteDifferences(_ layer: LayerCase) {
        let (tensors, f) = layer.make()
        let weights = Tensor.randomNormal(f().shape, seed: 8, purpose: "weights")
        let r = gradcheck(tensors, epsilon: layer.epsilon) { (f() * weights).sum() }
        #expect(r.passes(atol: 1e-3, rtol: 2e-3), "\(layer.name): \(r)")
        print("gradcheck \(layer.name): rel. error \(r.relativeError)")
    }

    // MARK: Forward values by hand

    @Test func batchNormTrainingNormalisesAndUpdatesRunningStatistics() {
        let bn = BatchNorm(channels: 1, momentum: 0.5)
        let x = Tensor(shape: [4, 1], values: [1, 2, 3, 4])   // mean 2.5, biased var 1.25, unbiased 5/3
        let y = bn(x).array
        let inv = 1 / (1.25 + 1e-5 as Float).squareRoot()
        #expect(zip(y, [-1.5, -0.5, 0.5, 1.5].map { $0 * inv }).allSatisfy { abs($0 - $1) < 1e-5 }, "\(y)")
        #expect(abs(bn.runningMean.item - 1.25) < 1e-6)
        #expect(abs(bn.runningVar.item - (0.5 + 0.5 * 5 / 3)) < 1e-6)
        bn.train(false)
        let e = bn(Tensor(shape: [1, 1], values: [1.25])).item
        #expect(abs(e) < 1e-6)
    }

    @Test func batchNormNamesItsParametersAndBuffers() {
        let bn = BatchNorm(channels: 2)
        #expect(bn.namedParameters().map(\.name) == ["weight", "bias"])
        #expect(bn.namedBuffers().map(\.name) == ["running_mean", "running_var"])
        #expect(bn.weight.array == [1, 1] && bn.runningVar.array == [1, 1])
    }

    @Test func padCropOpsMoveValuesAsDocumented() {
        let x = Tensor(shape: [1, 1, 2, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(pad(x, 1).array == [0, 0, 0, 0, 0,  0, 1, 2, 3, 0,  0, 4, 5, 6, 0,  0, 0, 0, 0, 0])
        #expect(crop(x, top: 1, left: 1, height: 1, width: 2).array == [5, 6])
        #expect(flipHorizontal(x).array == [3, 2, 1, 6, 5, 4])
        // (p, p) is the identity; (0, 0) moves the image down and right by p.
        #expect(translate(x, padding: 1, offsets: [(dy: 1, dx: 1)]).array == x.array)
        #expect(translate(x, padding: 1, offsets: [(dy: 0, dx: 0)]).array == [0, 0, 0, 0, 1, 2])
        #expect(translate(x, padding: 1, offsets: [(dy: 2, dx: 2)]).array == [5, 6, 0, 0, 0, 0])
        // translate equals pad-then-crop at every offset.
        for dy in 0...2 {
            for dx in 0...2 {
                let fused = translate(x, padding: 1, offsets: [(dy: dy, dx: dx)]).array
                #expect(fused == crop(pad(x, 1), top: dy, left: dx, height: 2, width: 3).array)
            }
        }
    }

    @Test func affineWarpIdentityReturnsTheImage() {
        let x = Tensor.randomNormal([2, 3, 5, 4], seed: 1, purpose: "warp")
        let theta = Tensor(shape: [2, 2, 3], values: [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0])
        let y = affineWarp(x, theta: theta)
        let c = closeness(y.array, x.array, atol: 1e-6, rtol: 1e-6)
        #expect(c.firstBad == nil, "\(c)")
    }
}
