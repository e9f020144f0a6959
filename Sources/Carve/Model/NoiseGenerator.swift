import Foundation
import Tensor

/// The Table 2 generator: a noise vector z → one RGBA instance, 64×64, sigmoid output.
///
/// RGB is the instance appearance, A its soft mask (paper Fig. 4, second case). Layers:
/// z → 1×1 conv to 8·8·w0 (a linear map of the 1×1 input), BN, lReLU → 4×4 conv w1 "same",
/// BN, lReLU → 4×4 conv w2 "same", BN, lReLU → 4×4 deconv w3 s2, BN, lReLU → 4×4 deconv w4 s2,
/// BN, lReLU → 4×4 deconv 4 s2, sigmoid. Widths `w` = `g_channels` (Table 2: 256, 256, 256, 128, 64).
///
/// Layers followed by BatchNorm have no bias (BN's β replaces it; a bias there only gets
/// rounding-noise gradients).
///
/// ```swift
/// let g = NoiseGenerator(zDim: 6, widths: [256, 256, 256, 128, 64])
/// let rgba = g(z)            // z [B, 6] → [B, 4, 64, 64]
/// ```
public final class NoiseGenerator: Module {
    public var isTraining = true
    public let zDim: Int
    let widths: [Int]
    let fc: Linear
    let bn0: BatchNorm
    let conv1: Conv2d
    let bn1: BatchNorm
    let conv2: Conv2d
    let bn2: BatchNorm
    let deconv1: any Upsampling
    let bn3: BatchNorm
    let deconv2: any Upsampling
    let bn4: BatchNorm
    let deconv3: any Upsampling

    /// The fixed mask envelope [1, 1, 64, 64], or nil (see `Configuration.maskEnvelope`).
    let envelope: Tensor?
    /// The star-convex mask head that replaces the decoder's mask channel (`mask_star` > 0), or nil.
    let star: StarMask?

    /// `maskStar` > 0 draws the mask as a star-convex outline of that many harmonics
    /// (`StarMask`, reaching at most the envelope's outer radius, or 0.9 of the half side) and
    /// the decoder gives the appearance only.
    public init(zDim: Int, widths w: [Int], maskEnvelope: Double = 0, maskStar: Int = 0, upsample: UpsamplingKind = .deconv) {
        precondition(w.count == 5, "NoiseGenerator: 5 widths, got \(w)")
        self.zDim = zDim
        if maskStar > 0 {
            envelope = nil
            star = StarMask(zDim: zDim, order: maskStar, size: 64, maxRadius: 32 * Float(maskEnvelope > 0 ? min(maskEnvelope, 1) : 0.9))
        } else {
            envelope = maskEnvelope > 0 ? Self.radialEnvelope(size: 64, outer: Float(maskEnvelope)) : nil
            star = nil
        }
        self.widths = w
        fc = Linear(inputFeatures: zDim, outputFeatures: 8 * 8 * w[0], bias: false)
        bn0 = BatchNorm(channels: w[0])
        conv1 = Conv2d(inputChannels: w[0], outputChannels: w[1], kernelSize: 4, padding: .same, bias: false)
        bn1 = BatchNorm(channels: w[1])
        conv2 = Conv2d(inputChannels: w[1], outputChannels: w[2], kernelSize: 4, padding: .same, bias: false)
        bn2 = BatchNorm(channels: w[2])
        // Table 2's 4×4 stride-2 deconvs, or nearest ×2 + 3×3 conv (no checkerboard; issue 14).
        func up(_ i: Int, _ o: Int, bias: Bool) -> any Upsampling {
            upsample == .resize
                ? UpsampleConv2d(inputChannels: i, outputChannels: o, bias: bias)
                : ConvTranspose2d(inputChannels: i, outputChannels: o, kernelSize: 4, stride: 2, padding: 1, bias: bias)
        }
        deconv1 = up(w[2], w[3], bias: false)
        bn3 = BatchNorm(channels: w[3])
        deconv2 = up(w[3], w[4], bias: false)
        bn4 = BatchNorm(channels: w[4])
        deconv3 = up(w[4], maskStar > 0 ? 3 : 4, bias: true)
    }

    public var children: [(String, any Module)] {
        [("fc", fc), ("bn0", bn0), ("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2),
         ("deconv1", deconv1), ("bn3", bn3), ("deconv2", deconv2), ("bn4", bn4), ("deconv3", deconv3)]
            + (star.map { [("star", $0 as any Module)] } ?? [])
    }

    /// z [B, zDim] → RGBA [B, 4, 64, 64] in (0, 1).
    public func callAsFunction(_ z: Tensor) -> Tensor {
        precondition(z.rank == 2 && z.shape[1] == zDim, "NoiseGenerator: z \(z.shape), expected [B, \(zDim)]")
        let b = z.shape[0]
        var h = fc(z).reshaped([b, widths[0], 8, 8])
        h = bn0(h).leakyRelu(0.2)
        h = bn1(conv1(h)).leakyRelu(0.2)
        h = bn2(conv2(h)).leakyRelu(0.2)
        h = bn3(deconv1(h)).leakyRelu(0.2)
        h = bn4(deconv2(h)).leakyRelu(0.2)
        if let star { return Tensor.concat([deconv3(h).sigmoid(), star(z)], axis: 1) }
        let rgba = deconv3(h).sigmoid()
        guard let envelope else { return rgba }
        return Tensor.concat([rgba.slice(axis: 1, 0..<3), rgba.slice(axis: 1, 3..<4) * envelope], axis: 1)
    }

    /// 1 within radius (outer − 0.25)·S/2 of the centre, a cosine fall to 0 at outer·S/2.
    static func radialEnvelope(size: Int, outer: Float) -> Tensor {
        let half = Float(size) / 2, r1 = outer * half, r0 = (outer - 0.25) * half
        return Tensor(shape: [1, 1, size, size]) { out in
            for y in 0..<size {
                for x in 0..<size {
                    let dy = Float(y) + 0.5 - half, dx = Float(x) + 0.5 - half
                    let r = (dx * dx + dy * dy).squareRoot()
                    let t = min(max((r - r0) / (r1 - r0), 0), 1)
                    out[y * size + x] = 0.5 + 0.5 * cos(Float.pi * t)
                }
            }
        }
    }
}
