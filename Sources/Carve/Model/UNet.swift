import Tensor

/// The Table 1 segmentation network: a UNet from an RGB image to a soft foreground mask.
///
/// Encoder: 4×4 convs at stride 2 with widths e0…e4 and a 2×2 stride-2 conv e5, each followed by
/// BN and lReLU(0.2) (Table 1: 64, 128, 256, 512, 512, 512). Decoder: 2×2, 2×2, 4×4, 4×4, 4×4
/// deconvs at stride 2 with BN and lReLU, each concatenated with the encoder feature map of the
/// same size (UNet skips), and a last 4×4 deconv to one channel with a sigmoid at full size.
/// (Table 1's last rows as printed stop at half size with 13 channels; Carve adds the final
/// deconv so the mask has the input's size, which the composition needs.)
///
/// With `upsample: .resize` every deconv becomes nearest ×2 + 3×3 conv (`UpsampleConv2d`):
/// the stride-2 deconvs, the last 4×4 one most visibly, print a checkerboard into the masks
/// on real images; resize + conv does not (issue 14; the `paper-*` presets keep Table 1).
///
/// ```swift
/// let unet = UNet(widths: [64, 128, 256, 512, 512, 512])
/// let mask = unet(images)    // [B, 3, 128, 128] → [B, 1, 128, 128]
/// ```
public final class UNet: Module {
    public var isTraining = true
    let encoders: [Conv2d]
    let encoderNorms: [BatchNorm]
    let decoders: [any Upsampling]
    let decoderNorms: [BatchNorm]
    let output: any Upsampling

    /// - Parameter outputChannels: maps out, each through its own sigmoid (1 for fg's mask; 2
    ///   for hoc's instance segmenter, foreground and centre-ness, `InstanceSegmenter`).
    public init(inputChannels: Int = 3, outputChannels: Int = 1, widths e: [Int], upsample: UpsamplingKind = .deconv) {
        precondition(e.count == 6, "UNet: 6 widths, got \(e)")
        var enc: [Conv2d] = []
        var c = inputChannels
        for i in 0..<6 {
            enc.append(i < 5
                ? Conv2d(inputChannels: c, outputChannels: e[i], kernelSize: 4, stride: 2, padding: 1, bias: false)
                : Conv2d(inputChannels: c, outputChannels: e[i], kernelSize: 2, stride: 2, bias: false))
            c = e[i]
        }
        encoders = enc
        encoderNorms = e.map { BatchNorm(channels: $0) }
        // Decoder widths mirror the encoder: 512, 512, 512, 128, 64 in Table 1.
        let d = [e[4], e[3], e[3], e[1], e[0]]
        var dec: [any Upsampling] = []
        var inC = e[5]
        for i in 0..<5 {
            if upsample == .resize {
                dec.append(UpsampleConv2d(inputChannels: inC, outputChannels: d[i], bias: false))
            } else {
                dec.append(i < 2
                    ? ConvTranspose2d(inputChannels: inC, outputChannels: d[i], kernelSize: 2, stride: 2, bias: false)
                    : ConvTranspose2d(inputChannels: inC, outputChannels: d[i], kernelSize: 4, stride: 2, padding: 1, bias: false))
            }
            inC = d[i] + e[4 - i]  // concatenated with the skip of the same size
        }
        decoders = dec
        decoderNorms = d.map { BatchNorm(channels: $0) }
        if upsample == .resize {
            output = UpsampleConv2d(inputChannels: inC, outputChannels: outputChannels)
        } else {
            output = ConvTranspose2d(inputChannels: inC, outputChannels: outputChannels, kernelSize: 4, stride: 2, padding: 1)
        }
    }

    public var children: [(String, any Module)] {
        var out: [(String, any Module)] = []
        for i in 0..<6 { out += [("enc\(i + 1)", encoders[i]), ("enc\(i + 1)_bn", encoderNorms[i])] }
        for i in 0..<5 { out += [("dec\(i + 1)", decoders[i]), ("dec\(i + 1)_bn", decoderNorms[i])] }
        out.append(("out", output))
        return out
    }

    /// Images [B, 3, S, S] (S a multiple of 64) → soft maps [B, outputChannels, S, S] in (0, 1).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[2] % 64 == 0 && x.shape[2] == x.shape[3],
                     "UNet: input \(x.shape), expected [B, C, S, S] with S a multiple of 64")
        var skips: [Tensor] = []
        var h = x
        for i in 0..<6 {
            h = encoderNorms[i](encoders[i](h)).leakyRelu(0.2)
            skips.append(h)
        }
        for i in 0..<5 {
            h = decoderNorms[i](decoders[i](h)).leakyRelu(0.2)
            h = Tensor.concat([h, skips[4 - i]], axis: 1)
        }
        let maps = output(h).sigmoid()
        return window.map { maps * $0 } ?? maps
    }

    /// Where the maps may be non-zero, [1, 1, S, S] of 0/1 (nil: everywhere): fg's box inside a
    /// crop cut with a margin (`box_margin`, Note [Box in its surroundings]).
    public var window: Tensor?
}

/// How a decoder doubles its resolution (configuration key `upsample`).
public enum UpsamplingKind: String, Codable, Sendable, CaseIterable {
    /// Stride-2 transposed convolutions, as the paper's Tables 1–2 print them.
    case deconv
    /// Nearest-neighbour ×2 then a 3×3 convolution (`UpsampleConv2d`): no checkerboard.
    case resize
}
