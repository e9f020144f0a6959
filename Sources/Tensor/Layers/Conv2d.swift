// The Conv2d layer: weight, optional bias, optional spectral normalisation.

/// A 2-D convolution layer with PyTorch's parameters and default initialisation.
///
/// Input [N, C, H, W] → output [N, O, OH, OW] (see `conv2d`). Parameters `weight` [O, C, K, K]
/// and `bias` [O]; with `spectralNorm`, buffers `weight_u` [O] and `weight_v` [C·K·K] and the
/// forward uses W / σ(W) (Note [Spectral norm as in PyTorch]): one power iteration per forward
/// in training mode, none in evaluation mode.
///
/// - Parameters:
///   - inputChannels: C.
///   - outputChannels: O.
///   - kernelSize: K (square).
///   - stride: S.
///   - padding: `.explicit(p)` (an integer) or `.same` (stride 1).
///   - bias: whether to add a learned bias.
///   - spectralNorm: SN-GAN's spectral normalisation of the weight.
///
/// ```swift
/// let conv = Conv2d(inputChannels: 3, outputChannels: 64, kernelSize: 3, stride: 2, padding: 1, spectralNorm: true)
/// conv.initialize(seed: 1)
/// let y = conv(x)   // [N, 3, 64, 64] → [N, 64, 32, 32]
/// ```
///
/// Tables 1–2: every "conv" row (the discriminators with SN).
public final class Conv2d: Module {
    public var isTraining = true
    /// [O, C, K, K] (PyTorch's `weight`, or `weight_orig` under spectral norm).
    public let weight: Tensor
    /// [O], or nil.
    public let bias: Tensor?
    /// Spectral-norm left vector [O] (buffer `weight_u`), nil without spectral norm.
    public let weightU: Tensor?
    /// Spectral-norm right vector [C·K·K] (buffer `weight_v`), nil without spectral norm.
    public let weightV: Tensor?
    public let stride: Int
    public let padding: Padding

    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
                padding: Padding = 0, bias: Bool = true, spectralNorm: Bool = false) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0,
                     "Conv2d: channels \(inputChannels)→\(outputChannels), kernel \(kernelSize), stride \(stride)")
        precondition(padding != .same || stride == 1, "Conv2d: padding 'same' needs stride 1, got \(stride)")
        weight = .parameter([outputChannels, inputChannels, kernelSize, kernelSize])
        self.bias = bias ? .parameter([outputChannels]) : nil
        weightU = spectralNorm ? Tensor(shape: [outputChannels]) : nil
        weightV = spectralNorm ? Tensor(shape: [inputChannels * kernelSize * kernelSize]) : nil
        self.stride = stride
        self.padding = padding
    }

    public var ownParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public var ownBuffers: [(String, Tensor)] {
        guard let weightU, let weightV else { return [] }
        return [("weight_u", weightU), ("weight_v", weightV)]
    }

    /// PyTorch's default: weight and bias ~ U(−1/√fan_in, 1/√fan_in), fan_in = C·K·K
    /// (kaiming_uniform with a = √5); spectral-norm u, v = normalized N(0, 1) vectors.
    public func resetParameters(seed: UInt64, path: String) {
        let fanIn = weight.count / weight.shape[0]
        let bound = 1 / Float(fanIn).squareRoot()
        weight.fillUniform(bound: bound, seed: seed, purpose: path + "weight")
        bias?.fillUniform(bound: bound, seed: seed, purpose: path + "bias")
        for (name, t) in ownBuffers {
            t.fillNormal(std: 1, seed: seed, purpose: path + name)
            var s = 0.0
            for i in 0..<t.count { s += Double(t.data[i]) * Double(t.data[i]) }
            let norm = max(Float(s.squareRoot()), 1e-12)
            for i in 0..<t.count { t.data[i] /= norm }
        }
    }

    /// [N, C, H, W] → [N, O, OH, OW].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var w = weight
        if let weightU, let weightV {
            w = spectralNormalized(weight, u: weightU, v: weightV, powerIteration: isTraining)
        }
        return conv2d(x, weight: w, bias: bias, stride: stride, padding: padding)
    }
}
