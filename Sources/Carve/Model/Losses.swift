import Foundation
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

    /// The one-sided area penalty: the mean over instances of max(0, ‖m_i‖₁ / A − a)². Masks
    /// smaller than a cost nothing, so objects that fill 20 % or 80 % of their crop are both
    /// left to the adversarial loss; only the trivial "everything is foreground" mask pays.
    public static func areaAbove(masks: Tensor, target a: Float) -> Tensor {
        let excess = (masks.mean(from: 1) - a).relu()
        return (excess * excess).mean()
    }

    /// Everything the masks pay besides the adversarial term, as `config` asks: λ·L_area
    /// (`area_penalty` "two-sided" = eq. 7, "one-sided" = `areaAbove`) + the binarisation and
    /// total-variation priors when their weights are positive (the TV weighted by the edges of
    /// `images`, the pictures the masks were cut from, when `mask_tv_contrast` > 0). Returns
    /// L_area (unweighted, for the metrics) and the weighted sum.
    public static func maskPenalty(masks: Tensor, images: Tensor? = nil, config: Configuration) -> (area: Tensor, total: Tensor) {
        let a = Float(config.areaTarget)
        let area = config.areaPenalty == "one-sided" ? areaAbove(masks: masks, target: a) : self.area(masks: masks, target: a)
        var total = area * Float(config.lambdaArea)
        if config.binarize > 0 { total = total + binarization(masks: masks) * Float(config.binarize) }
        if config.maskTV > 0 {
            let tv: Tensor
            if config.maskTvNorm == "l2" {
                tv = isotropicTotalVariation(masks: masks)
            } else if config.maskTvContrast > 0, let images {
                tv = contrastTotalVariation(masks: masks, images: images, gamma: config.maskTvContrast)
            } else {
                tv = totalVariation(masks: masks)
            }
            total = total + tv * Float(config.maskTV)
        }
        if config.maskCentre > 0 { total = total + centring(masks: masks) * Float(config.maskCentre) }
        if config.boxPrior > 0 { total = total + boxTightness(masks: masks) * Float(config.boxPrior) }
        return (area, total)
    }

    /// Mask binarisation: the mean of min(m, 1 − m) = 0.5 − |m − 0.5|, zero for hard masks.
    public static func binarization(masks: Tensor) -> Tensor {
        (0.5 - (masks - 0.5).abs()).mean()
    }

    /// Total variation of masks [K, 1, H, W]: mean |m(y, x+1) − m(y, x)| + mean |m(y+1, x) − m(y, x)|.
    public static func totalVariation(masks: Tensor) -> Tensor {
        let (dx, dy) = neighbourDifferences(masks)
        return dx.abs().mean() + dy.abs().mean()
    }

    /// m(y, x+1) − m(y, x) [K, 1, H, W − 1] and m(y+1, x) − m(y, x) [K, 1, H − 1, W].
    static func neighbourDifferences(_ masks: Tensor) -> (dx: Tensor, dy: Tensor) {
        let h = masks.shape[2], w = masks.shape[3]
        return (masks.slice(axis: 3, 1..<w) - masks.slice(axis: 3, 0..<(w - 1)),
                masks.slice(axis: 2, 1..<h) - masks.slice(axis: 2, 0..<(h - 1)))
    }

    /// Contrast-sensitive total variation of masks [K, 1, H, W] cut from `images` [K, C, H, W]:
    /// `totalVariation` with each neighbour difference weighted by w = exp(−γ·‖ΔI‖² / (2β)),
    /// ‖ΔI‖² the squared difference of the image's two pixels summed over channels and β its mean
    /// over both directions of that image (GrabCut's pairwise term, Rother et al. 2004: β makes
    /// the weights the same for a dim micrograph and a bright photograph). A mask's outline along
    /// an edge of its image costs little, across flat background its length. The weights carry
    /// no gradient; an image without any contrast has w = 1 (the plain L1 total variation).
    public static func contrastTotalVariation(masks: Tensor, images: Tensor, gamma: Double) -> Tensor {
        let (wx, wy) = contrastWeights(images: images, gamma: gamma)
        let (dx, dy) = neighbourDifferences(masks)
        return (dx.abs() * wx).mean() + (dy.abs() * wy).mean()
    }

    /// The weights of `contrastTotalVariation`: [K, 1, H, W − 1] between horizontal neighbours and
    /// [K, 1, H − 1, W] between vertical ones (no history).
    static func contrastWeights(images: Tensor, gamma: Double) -> (x: Tensor, y: Tensor) {
        precondition(images.rank == 4, "contrastWeights: images \(images.shape)")
        let k = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3]
        let plane = h * w
        var dx = [Double](repeating: 0, count: k * h * (w - 1)), dy = [Double](repeating: 0, count: k * (h - 1) * w)
        var scale = [Double](repeating: 1, count: k)
        for n in 0..<k {
            for ch in 0..<c {
                let p = images.data + (n * c + ch) * plane
                for y in 0..<h {
                    for x in 0..<(w - 1) {
                        let d = Double(p[y * w + x + 1] - p[y * w + x])
                        dx[(n * h + y) * (w - 1) + x] += d * d
                    }
                }
                for y in 0..<(h - 1) {
                    for x in 0..<w {
                        let d = Double(p[(y + 1) * w + x] - p[y * w + x])
                        dy[(n * (h - 1) + y) * w + x] += d * d
                    }
                }
            }
            let sum = dx[(n * h * (w - 1))..<((n + 1) * h * (w - 1))].reduce(0, +)
                + dy[(n * (h - 1) * w)..<((n + 1) * (h - 1) * w)].reduce(0, +)
            let beta = sum / Double(h * (w - 1) + (h - 1) * w)
            scale[n] = beta > 0 ? gamma / (2 * beta) : 0
        }
        let wx = Tensor(shape: [k, 1, h, w - 1]) { out in
            for i in 0..<dx.count { out[i] = Float(exp(-scale[i / (h * (w - 1))] * dx[i])) }
        }
        let wy = Tensor(shape: [k, 1, h - 1, w]) { out in
            for i in 0..<dy.count { out[i] = Float(exp(-scale[i / ((h - 1) * w)] * dy[i])) }
        }
        return (wx, wy)
    }

    /// Isotropic total variation of masks [K, 1, H, W]: the mean over pixels of |∇b|, with b the
    /// mask blurred by the 3 × 3 binomial kernel ([1, 2, 1]/4 along each axis, valid part) and ∇
    /// by central differences, |∇b| = √(∂x² + ∂y² + 1e-8) (the square root as exp(½·log), so it
    /// needs no op of its own). On a blurred edge the gradient's direction is well measured, so a
    /// digital disc costs about its circumference: a disc of radius 10 px sums to 63, the square
    /// of the same area to 69. Forward differences of a hard mask charge a disc's staircase outline
    /// at a square's price or more (74 against 71), and L1 (`totalVariation`) prefers the square
    /// outright (80 against 72).
    public static func isotropicTotalVariation(masks: Tensor) -> Tensor {
        func blur(_ m: Tensor, axis: Int) -> Tensor {
            let n = m.shape[axis]
            return (m.slice(axis: axis, 0..<(n - 2)) + m.slice(axis: axis, 1..<(n - 1)) * 2 + m.slice(axis: axis, 2..<n)) * 0.25
        }
        let b = blur(blur(masks, axis: 3), axis: 2)
        let h = b.shape[2], w = b.shape[3]
        let rows = b.slice(axis: 2, 1..<(h - 1)), columns = b.slice(axis: 3, 1..<(w - 1))
        let dx = (rows.slice(axis: 3, 2..<w) - rows.slice(axis: 3, 0..<(w - 2))) * 0.5
        let dy = (columns.slice(axis: 2, 2..<h) - columns.slice(axis: 2, 0..<(h - 2))) * 0.5
        return ((dx * dx + dy * dy + 1e-8).log() * 0.5).exp().mean()
    }

    /// The centring prior of masks [K, 1, H, W]: the mean over masks of the squared distance of
    /// the mask's centroid from the canvas centre, in units of half the side (an empty mask's
    /// centroid is the centre: ε = 1e-3 in its weight).
    public static func centring(masks: Tensor) -> Tensor {
        let h = masks.shape[2], w = masks.shape[3]
        let ys = Tensor(shape: [1, 1, h, w]) { out in
            for y in 0..<h { for x in 0..<w { out[y * w + x] = (Float(y) + 0.5 - Float(h) / 2) / (Float(h) / 2) } }
        }
        let xs = Tensor(shape: [1, 1, h, w]) { out in
            for y in 0..<h { for x in 0..<w { out[y * w + x] = (Float(x) + 0.5 - Float(w) / 2) / (Float(w) / 2) } }
        }
        let mass = masks.sum(from: 1) + 1e-3
        let cy = (masks * ys).sum(from: 1) / mass, cx = (masks * xs).sum(from: 1) / mass
        return (cy * cy + cx * cx).mean()
    }

    /// The box-tightness prior of tight box crops (multiple-instance learning over the lines of a
    /// box, as in Hsu et al. 2019, "Weakly Supervised Instance Segmentation using the Bounding Box
    /// Tightness Prior"): every row and every column of a tight box crosses the object, so each
    /// holds a foreground pixel. Per line the noisy-OR p = 1 − Π (1 − m) is the probability that
    /// it does; the loss is the mean of −log p over the rows and columns of the central `band` of
    /// the crop (so a box with a margin of up to (1 − band)/2 of its side on each side keeps it).
    /// Masks [K, 1, H, W].
    public static func boxTightness(masks: Tensor, band: Double = 0.6) -> Tensor {
        let h = masks.shape[2], w = masks.shape[3]
        func lines(_ m: Tensor, count n: Int) -> Tensor {
            let lo = Int((Double(n) * (1 - band) / 2).rounded()), hi = n - lo
            // log Π (1 − m) along each line, with m scaled into [0, 0.999] so log stays finite.
            let logMiss = (1 - m.slice(axis: 2, lo..<hi) * 0.999).log().sum(from: 3)
            return ((1 - logMiss.exp()) + 1e-6).log()
        }
        let rows = lines(masks, count: h), columns = lines(masks.transposedSpatial(), count: w)
        return (rows.mean() + columns.mean()) * -0.5
    }

    /// The information term: mean squared error between Q's prediction and the instances' z.
    public static func information(predicted: Tensor, z: Tensor) -> Tensor {
        predicted.mse(z)
    }
}
