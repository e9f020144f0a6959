import Tensor

// Instance providers (paper Fig. 4): each gives RGBA instances [K, 4, H, W], RGB = appearance,
// A = soft mask. hoc's draws them from noise, fg's carves them out of the input images.

/// The noise instance provider of the hoc application: one shared generator, z drawn
/// independently per instance from the counter-based generator keyed by the instance's key.
public struct NoiseInstanceProvider {
    public let generator: NoiseGenerator
    public init(generator: NoiseGenerator) { self.generator = generator }

    /// z [K, dim(z)] ~ N(0, 1), instance k keyed by (seed, "z", step, keys[k]).
    public func noise(seed: UInt64, step: Int, keys: [Int]) -> Tensor {
        let d = generator.zDim
        return Tensor(shape: [keys.count, d]) { out in
            for (k, key) in keys.enumerated() {
                var rng = CounterRNG(seed: seed, purpose: "z", step: step, index: key)
                rng.fillNormal(UnsafeMutableBufferPointer(rebasing: out[(k * d)..<((k + 1) * d)]))
            }
        }
    }
}

/// The segmentation instance provider of the fg application: the input RGB with the UNet's mask.
public struct SegmentationInstanceProvider {
    public let network: UNet
    public init(network: UNet) { self.network = network }

    /// Images [B, 3, S, S] → RGBA [B, 4, S, S] (the image with its inferred soft mask).
    public func instances(images: Tensor) -> Tensor {
        Tensor.concat([images, network(images)], axis: 1)
    }
}
