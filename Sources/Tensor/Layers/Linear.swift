// The Linear layer: y = x · Wᵀ + b.

/// A fully connected layer with PyTorch's parameters and default initialisation.
///
/// Input [N, I] → output [N, O] (see `linear`). Parameters `weight` [O, I] and `bias` [O].
///
/// - Parameters:
///   - inputFeatures: I.
///   - outputFeatures: O.
///   - bias: whether to add a learned bias.
///
/// ```swift
/// let fc = Linear(inputFeatures: 6, outputFeatures: 8 * 8 * 256)
/// fc.initialize(seed: 1)
/// let h = fc(z).reshaped([z.shape[0], 256, 8, 8])
/// ```
///
/// Table 2's first generator layer ("1×1 conv. 8·8·256" on a 1×1 z).
public final class Linear: Module {
    public var isTraining = true
    /// [O, I].
    public let weight: Tensor
    /// [O], or nil.
    public let bias: Tensor?

    public init(inputFeatures: Int, outputFeatures: Int, bias: Bool = true) {
        precondition(inputFeatures > 0 && outputFeatures > 0, "Linear: features \(inputFeatures)→\(outputFeatures)")
        weight = .parameter([outputFeatures, inputFeatures])
        self.bias = bias ? .parameter([outputFeatures]) : nil
    }

    public var ownParameters: [(String, Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// PyTorch's default: weight and bias ~ U(−1/√I, 1/√I).
    public func resetParameters(seed: UInt64, path: String) {
        let bound = 1 / Float(weight.shape[1]).squareRoot()
        weight.fillUniform(bound: bound, seed: seed, purpose: path + "weight")
        bias?.fillUniform(bound: bound, seed: seed, purpose: path + "bias")
    }

    /// [N, I] → [N, O].
    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }
}
