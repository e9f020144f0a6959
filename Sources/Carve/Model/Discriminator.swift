import Tensor

/// The SN-GAN discriminators of Tables 1 and 2: spectral-normalised 3×3 convs with lReLU(0.2),
/// then a 1×1 conv to one logit per position of the last feature map.
///
/// Table 2 (64×64): widths 64, 128, 256, 512 at stride 2, then 1024 at stride 1 (4×4 logits).
/// Table 1 (128×128): widths 64, 128, 256, 256 at stride 2, then 256 at stride 1 (8×8 logits).
/// The paper's final "lReLU + sigmoid" is folded into the loss: logits go to BCE-with-logits.
///
/// ```swift
/// let d = Discriminator(widths: [64, 128, 256, 512, 1024])
/// let logits = d(images)     // [B, 3, 64, 64] → [B, 1, 4, 4]
/// ```
public final class Discriminator: Module {
    public var isTraining = true
    let convs: [Conv2d]
    let head: Conv2d

    public init(inputChannels: Int = 3, widths w: [Int]) {
        precondition(w.count == 5, "Discriminator: 5 widths, got \(w)")
        var convs: [Conv2d] = []
        var c = inputChannels
        for (i, width) in w.enumerated() {
            convs.append(Conv2d(inputChannels: c, outputChannels: width, kernelSize: 3, stride: i < 4 ? 2 : 1,
                                padding: 1, spectralNorm: true))
            c = width
        }
        self.convs = convs
        head = Conv2d(inputChannels: c, outputChannels: 1, kernelSize: 1, spectralNorm: true)
    }

    public var children: [(String, any Module)] {
        convs.enumerated().map { ("conv\($0.offset + 1)", $0.element as any Module) } + [("head", head)]
    }

    /// Images [B, 3, H, W] → logits [B, 1, H/16, W/16].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for conv in convs { h = conv(h).leakyRelu(0.2) }
        return head(h)
    }
}

/// The information head Q of the hoc application: predicts an instance's z from its RGBA image.
///
/// The paper adds "an information regularization term like InfoGAN" with weight β without
/// giving its form. Carve's choice: Q = three 4×4 stride-2 convs with lReLU and a linear map
/// to dim(z), trained with G on the mean squared error between Q(instance) and the z that made
/// it (the Gaussian-posterior form of InfoGAN's mutual-information bound). It rewards instances
/// whose appearance tells their z apart, i.e. diverse instances.
public final class InformationHead: Module {
    public var isTraining = true
    let conv1: Conv2d
    let conv2: Conv2d
    let conv3: Conv2d
    let fc: Linear
    let width: Int

    public init(zDim: Int, widths w: [Int], imageSize: Int = 64) {
        precondition(w.count == 3, "InformationHead: 3 widths, got \(w)")
        conv1 = Conv2d(inputChannels: 4, outputChannels: w[0], kernelSize: 4, stride: 2, padding: 1)
        conv2 = Conv2d(inputChannels: w[0], outputChannels: w[1], kernelSize: 4, stride: 2, padding: 1)
        conv3 = Conv2d(inputChannels: w[1], outputChannels: w[2], kernelSize: 4, stride: 2, padding: 1)
        width = w[2] * (imageSize / 8) * (imageSize / 8)
        fc = Linear(inputFeatures: width, outputFeatures: zDim)
    }

    public var children: [(String, any Module)] {
        [("conv1", conv1), ("conv2", conv2), ("conv3", conv3), ("fc", fc)]
    }

    /// RGBA instances [B, 4, 64, 64] → predicted z [B, zDim].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = conv1(x).leakyRelu(0.2)
        h = conv2(h).leakyRelu(0.2)
        h = conv3(h).leakyRelu(0.2)
        return fc(h.reshaped([x.shape[0], width]))
    }
}
