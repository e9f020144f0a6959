import Tensor

/// The composition module (eq. 5): alpha-blends instance layers in stacking order.
///
/// x_i = Î_i ⊙ m̂_i + x_{i−1} ⊙ (1 − m̂_i), computed as x_{i−1} + m̂_i ⊙ (Î_i − x_{i−1}) (the
/// same value and gradient with one multiply fewer). x_0 is the background.
///
/// ```swift
/// let x = Composition.composite(background: x0, layers: [(rgb1, m1), (rgb2, m2)])
/// ```
public enum Composition {
    /// Composites `layers` (appearance [B, 3, H, W], mask [B, 1, H, W]) over `background` [B, 3, H, W].
    public static func composite(background: Tensor, layers: [(appearance: Tensor, mask: Tensor)]) -> Tensor {
        var x = background
        for (appearance, mask) in layers {
            precondition(appearance.shape == background.shape && mask.shape[0] == background.shape[0]
                         && mask.shape[1] == 1 && mask.shape[2...] == background.shape[2...],
                         "composite: layer \(appearance.shape) with mask \(mask.shape) over \(background.shape)")
            x = x + mask * (appearance - x)
        }
        return x
    }
}
