import Tensor
import TestSupport
import Testing

/// Nearest upsampling and the resize + conv layer (issue 14: decoders without checkerboard).
struct UpsampleTests {
    @Test func nearestRepeatsEveryPixelAsPyTorchDoes() {
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        #expect(upsampleNearest(x, factor: 2).array == [1, 1, 2, 2,  1, 1, 2, 2,  3, 3, 4, 4,  3, 3, 4, 4])
        #expect(upsampleNearest(x, factor: 1).array == x.array)
    }

    @Test func nearestGradientSumsEachBlock() {
        let x = Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]).requiringGrad()
        let w = Tensor(shape: [1, 1, 4, 4], values: (0..<16).map(Float.init))
        (upsampleNearest(x, factor: 2) * w).sum().backward()
        // Blocks of w: {0,1,4,5}, {2,3,6,7}, {8,9,12,13}, {10,11,14,15}: small integers, exact.
        #expect(x.grad!.array == [10, 18, 42, 50])
    }

    @Test func gradcheckOfUpsampleConv() {
        let layer = UpsampleConv2d(inputChannels: 3, outputChannels: 2)
        layer.initialize(seed: 3)
        let x = Tensor.randomNormal([2, 3, 4, 5], seed: 3, purpose: "upsample-x").requiringGrad()
        let weights = Tensor.randomNormal([2, 2, 8, 10], seed: 3, purpose: "upsample-w")
        let r = gradcheck([x, layer.weight, layer.bias!], epsilon: 1e-2) { (layer(x) * weights).sum() }
        #expect(r.passes(atol: 1e-3, rtol: 2e-3), "\(r)")
    }

    /// A constant input: resize + conv gives a constant output away from the zero-padded border,
    /// while a 4×4 stride-2 transposed convolution gives a 2-periodic pattern (the checkerboard).
    @Test func resizeConvHasNoCheckerboardWhereDeconvHasOne() {
        let x = Tensor(shape: [1, 4, 6, 6], repeating: 1)
        func spread(_ y: Tensor) -> Float {
            let h = y.shape[2], w = y.shape[3]
            var lo = Float.infinity, hi = -Float.infinity
            for i in 2..<(h - 2) { for j in 2..<(w - 2) { lo = min(lo, y.data[i * w + j]); hi = max(hi, y.data[i * w + j]) } }
            return hi - lo
        }
        let resize = UpsampleConv2d(inputChannels: 4, outputChannels: 1)
        resize.initialize(seed: 5)
        let deconv = ConvTranspose2d(inputChannels: 4, outputChannels: 1, kernelSize: 4, stride: 2, padding: 1)
        deconv.initialize(seed: 5)
        let flat = Autodiff.withoutRecording { resize(x) }, checker = Autodiff.withoutRecording { deconv(x) }
        // Interior outputs of resize + conv are the same sum of K = 36 products w·1 (+ bias), up to
        // summation order: they differ by at most 2·K·ε·Σ|w| (ε = float32 unit roundoff).
        var absSum: Float = abs(resize.bias!.data[0])
        for i in 0..<resize.weight.count { absSum += abs(resize.weight.data[i]) }
        #expect(spread(flat) <= 2 * 36 * (Float.ulpOfOne / 2) * absSum, "resize + conv output not flat")
        #expect(spread(checker) > 1e-3, "deconv output unexpectedly flat")
    }
}
