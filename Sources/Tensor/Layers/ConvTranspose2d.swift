// The ConvTranspose2d layer ("deconv" in the paper's tables).

/// A transposed 2-D convolution layer with PyTorch's parameters and default initialisation.
///
/// Input [N, I, H, W] → output [N, O, (H−1)·S − 2P + K, (W−1)·S − 2P + K] (see
/// `convTranspose2d`). Parameters `weight` [I, O, K, K] and `bias` [O].
///
/// - Parameters:
///   - inputChannels: I.
///   - outputChannels: O.
///   - kernelSize: K (square).
///   - stride: S.
///   - padding: P.
///   - bias: whether to add a learned bias.
///
/// ```swift
/// let up = ConvTranspose2d(inputChannels: 256, outputChannels: 128, kernelSize: 4, stride: 2, padding: 1)
/// up.initialize(seed: 1)
/// let y = up(h)   // [N, 256, 8, 8] → [N, 128, 16, 16]
/// ```
///
/// Tables 1–2: the "deconv" rows (4×4 s2 p1; 2×2 s2).
public final class ConvTranspose2d: Module {
    public var isTraining = true
    /// [I, O, K, K].
    public let weight: Tensor
    /// [O], or nil.
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0,
                     "ConvTranspose2d: channels \(inputChannels)→\(outputChannels), kernel \(kernelSize), stride \(stride), padding \(padding)")
        weight = .parameter([inputChannels, outputChannels, kernelSize, kernelSize])
        self.bias = bias ? .parameter([outputChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    public var ownParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// PyTorch's default: weight and bias ~ U(−1/√fan_in, 1/√fan_in) with fan_in = O·K·K
    /// (PyTorch takes fan_in from dimension 1 of the [I, O, K, K] weight).
    public func resetParameters(seed: UInt64, path: String) {
        let fanIn = weight.count / weight.shape[0]
        let bound = 1 / Float(fanIn).squareRoot()
        weight.fillUniform(bound: bound, seed: seed, purpose: path + "weight")
        bias?.fillUniform(bound: bound, seed: seed, purpose: path + "bias")
    }

    /// [N, I, H, W] → [N, O, OH, OW].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        convTranspose2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}
