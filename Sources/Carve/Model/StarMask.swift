import Foundation
import Tensor

// Note [Star masks]
// A hoc provider's free-form mask channel (the decoder's fourth output) can take any shape the
// discriminator lets through, and on real clusters it took uneven, lobed ones: the area penalty
// fixes the mask's size, and where the generated appearance is background-coloured the
// discriminator cannot see where the mask ends. Sampled masks scored shape IoU 0.85–0.87 on
// single micrographs where a disc of the nuclei's median area scores 0.91–0.96. Neither a
// Gaussian smoothing of the mask logits nor an isotropic TV changed that (README).
//
// `mask_star` = K draws the mask as a solid star-convex region about the canvas centre (the
// layout moves it anyway) whose outline has K harmonics. The series is that of the outline's
// inverse square radius:
//     R² / r(θ)² = 1 + max(0, 1.25 + c₀ + Σ_{k=1…K} (a_k cos kθ + b_k sin kθ) / k),
// because an ellipse centred at the origin is exactly 1/r² = α + β cos 2θ + γ sin 2θ: with K = 2
// every ellipse at every angle is reachable and nothing else with a notch is (the first harmonic
// makes eggs). The series of the radius itself was tried first, r = R·σ(Fourier series): with
// K = 3 or 2 the masks became kidneys with a notch (a cardioid is first-order in r), shape IoU
// 0.865 / 0.879 at step 1000 on cells3d slice 004; without the first harmonic, peanuts (an
// elongated ellipse needs every even harmonic of r), 0.866. In 1/r² space, 0.926 at step 500.
// The 1.25 starts the outline as the disc of 2/3 R (R² / r² = 2.25), R the envelope's outer
// radius (1.5× the radius of a disc of the target area under `auto_scale`), so a run begins at
// about the target area; r never exceeds R. The 1/k keeps higher harmonics small at the start.
// The mask is σ((r(θ) − ρ) / τ) at a pixel at distance ρ and angle θ from the centre, τ = 0.5 px:
// an edge of about two pixels, through which the gradients of D and of L_area reach the
// coefficients.
// Measured (`real-hoc` + `mask_star=2`, slice 004 alone, seeds 1–3): shape IoU 0.861 / 0.854 /
// 0.868 → 0.910 / 0.922 / 0.940, but the segmenter distilled from these providers got worse,
// AP@0.5 0.850 / 0.696 / 0.900 → 0.591 / 0.636 / 0.810: the appearance, no longer drawn with its
// mask, painted half-moons inside the ellipse (seed 1), and one seed's ellipses all lay the same
// way. `layout_transpose` (every other provider's instances turned over the diagonal by
// `TranslationLayout`) answers the second. Both, on all six single-image runs (slice 004 and
// scratch-assay image 000 alone, seeds 1–3; shape IoU with Note [Shape alignment]): AP@0.5 and
// count error held on every run (slice 004 AP@0.5 0.900 / 0.773 / 0.810, scratch 000 0.921 each),
// shape IoU 0.915 / 0.853 / 0.920 and 0.898 / 0.891 / 0.898 — seed 2's ellipses on slice 004 all
// lie one way, and on scratch 000 the area target is 9 % under the nuclei's (with evaluation
// sampling the instances as the layout turns them, 0.913 / 0.864 / 0.921 and 0.900 / 0.894 /
// 0.897). Four folder runs: shape IoU 0.929–0.944, but on cells3d (nuclei lying mostly one
// way) AP@0.5 0.760 → 0.698 and count error 0.05 → 0.14 on seed 2, and seed 1's providers
// collapsed to textured discs (AP@0.5 0.261, count error 0.25). A random turn of every instance
// (`layout_rotate`) instead of the transpose was worse on slice 004 in all three measures.
// No preset sets either (README, "hoc on real images", also for what the shape measure can give
// on one image: the nuclei's own shapes at new orientations score 0.83 / 0.88 there).

/// A hoc provider's mask as a solid star-convex region whose outline has K harmonics
/// (`mask_star`; not in the paper; Note [Star masks]).
///
/// The 2K + 1 coefficients come from z through a small MLP (z → 32, lReLU → 2K + 1); the
/// outline's radius at angle θ about the canvas centre is R / √(1 + max(0, 1.25 + s(θ))), s the
/// coefficients' Fourier series (K = 2: ellipses at any angle; 3–4 add eggs, triangles, beans),
/// and the mask at a pixel at distance ρ from the centre is σ((r(θ) − ρ) / 0.5 px).
///
/// ```swift
/// let star = StarMask(zDim: 4, order: 2, size: 64, maxRadius: 24)
/// let m = star(z)             // z [B, 4] → masks [B, 1, 64, 64] in (0, 1)
/// ```
public final class StarMask: Module {
    public var isTraining = true
    let order: Int
    let size: Int
    let maxRadius: Float
    let hidden: Linear
    let head: Linear
    /// [2K + 1, S·S]: 1, then cos kθ / k and sin kθ / k of each pixel's angle about the centre.
    let basis: Tensor
    /// [1, S·S]: each pixel centre's distance from the canvas centre, over τ.
    let scaledDistance: Tensor
    /// The sharpness of the outline in pixels.
    static let tau: Float = 0.5
    /// The constant that starts the outline as the disc of 2/3 R (R² / r² = 1 + 1.25).
    static let start: Float = 1.25

    public init(zDim: Int, order: Int, size: Int, maxRadius: Float) {
        precondition(order >= 1 && size >= 2 && maxRadius > 0, "StarMask: order \(order), size \(size), radius \(maxRadius)")
        self.order = order
        self.size = size
        self.maxRadius = maxRadius
        hidden = Linear(inputFeatures: zDim, outputFeatures: 32)
        head = Linear(inputFeatures: 32, outputFeatures: 2 * order + 1)
        let hw = size * size, half = Float(size) / 2
        // Each pixel centre's offset from the canvas centre.
        let offsets = (0..<hw).map { p in (dy: Float(p / size) + 0.5 - half, dx: Float(p % size) + 0.5 - half) }
        basis = Tensor(shape: [2 * order + 1, hw]) { out in
            for (p, o) in offsets.enumerated() {
                let theta = atan2(o.dy, o.dx)
                out[p] = 1
                for k in 1...order {
                    out[(2 * k - 1) * hw + p] = cos(Float(k) * theta) / Float(k)
                    out[2 * k * hw + p] = sin(Float(k) * theta) / Float(k)
                }
            }
        }
        scaledDistance = Tensor(shape: [1, hw]) { out in
            for (p, o) in offsets.enumerated() { out[p] = (o.dx * o.dx + o.dy * o.dy).squareRoot() / Self.tau }
        }
    }

    public var children: [(String, any Module)] { [("hidden", hidden), ("head", head)] }

    /// z [B, zDim] → masks [B, 1, S, S].
    public func callAsFunction(_ z: Tensor) -> Tensor {
        let b = z.shape[0]
        let series = matmul(head(hidden(z).leakyRelu(0.2)), basis)             // s(θ_p) [B, S·S]
        let inverseSquare = (series + Self.start).relu() + 1                    // R² / r(θ_p)²
        let radius = (inverseSquare.log() * -0.5).exp() * (maxRadius / Self.tau)  // r(θ_p) / τ
        return (radius - scaledDistance).sigmoid().reshaped([b, 1, size, size])
    }
}
