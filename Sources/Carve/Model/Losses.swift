import Tensor

/// The losses of eqs. 6–7 and the information term, written as quantities to minimise.
public enum GANLoss {
    /// L_D of eq. (6) as a negative log-likelihood: BCE(D(x), 1) + BCE(D(x_g), 0), from logits.
    public static func discriminator(realLogits: Tensor, fakeLogits: Tensor) -> Tensor {
        realLogits.bceWithLogits(target: 1) + fakeLogits.bceWithLogits(target: 0)
    }

    /// The non-saturating generator term of eq. (7): BCE(D(x_g), 1) = −E[log D(x_g)].
    public static func generator(fakeLogits: Tensor) -> Tensor {
        fakeLogits.bceWithLogits(target: 1)
    }

    /// L_area of eq. (7): the mean over instances of (‖m_i‖₁ / A − a)², masks [K, 1, H, W].
    public static func area(masks: Tensor, target a: Float) -> Tensor {
        let fraction = masks.mean(from: 1)  // ‖m_i‖₁ / A, masks are non-negative
        let d = fraction - a
        return (d * d).mean()
    }

    /// Mask binarisation: the mean of min(m, 1 − m) = 0.5 − |m − 0.5|, zero for hard masks.
    public static func binarization(masks: Tensor) -> Tensor {
        (0.5 - (masks - 0.5).abs()).mean()
    }

    /// Total variation of masks [K, 1, H, W]: mean |m(y, x+1) − m(y, x)| + mean |m(y+1, x) − m(y, x)|.
    public static func totalVariation(masks: Tensor) -> Tensor {
        let h = masks.shape[2], w = masks.shape[3]
        let dx = masks.slice(axis: 3, 1..<w) - masks.slice(axis: 3, 0..<(w - 1))
        let dy = masks.slice(axis: 2, 1..<h) - masks.slice(axis: 2, 0..<(h - 1))
        return dx.abs().mean() + dy.abs().mean()
    }

    /// The information term: mean squared error between Q's prediction and the instances' z.
    public static func information(predicted: Tensor, z: Tensor) -> Tensor {
        predicted.mse(z)
    }
}
