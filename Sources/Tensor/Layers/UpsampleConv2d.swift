// The "resize + conv" upsampling layer: an artifact-free alternative to ConvTranspose2d.

/// Doubles the spatial size without the checkerboard of stride-2 transposed convolutions:
/// nearest-neighbour upsampling by 2, then a 3×3 convolution at stride 1 with padding 1
/// (Odena et al., Distill 2016). Every output pixel sees the same number of input taps, so a
/// constant input gives a constant output away from the border.
///
/// Input [N, I, H, W] → output [N, O, 2H, 2W]. Parameters `weight` [O, I, 3, 3] and `bias` [O]
/// (PyTorch's Conv2d initialisation), named as a Conv2d's so checkpoints read the same.
///
/// ```swift
/// let up = UpsampleConv2d(inputChannels: 256, outputChannels: 128, bias: false)
/// up.initialize(seed: 1)
/// let y = up(h)   // [N, 256, 8, 8] → [N, 128, 16, 16]
/// ```
public final class UpsampleConv2d: Module, Upsampling {
    public var isTraining = true
    let conv: Conv2d

    public init(inputChannels: Int, outputChannels: Int, bias: Bool = true) {
        conv = Conv2d(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 3, stride: 1,
                      padding: 1, bias: bias)
    }

    /// [O, I, 3, 3].
    public var weight: Tensor { conv.weight }
    /// [O], or nil.
    public var bias: Tensor? { conv.bias }

    public var ownParameters: [(String, Tensor)] { conv.ownParameters }

    public func resetParameters(seed: UInt64, path: String) { conv.resetParameters(seed: seed, path: path) }

    /// [N, I, H, W] → [N, O, 2H, 2W].
    public func callAsFunction(_ x: Tensor) -> Tensor { conv(upsampleNearest(x, factor: 2)) }
}

/// A layer that doubles the spatial size of its input: ConvTranspose2d (stride 2) or
/// UpsampleConv2d. Decoders hold `[any Upsampling]` so one network serves both.
public protocol Upsampling: Module {
    /// [N, I, H, W] → [N, O, 2H, 2W].
    func callAsFunction(_ x: Tensor) -> Tensor
}

extension ConvTranspose2d: Upsampling {}
