// A mixture of full-covariance Gaussians over RGB colours: GrabCut's colour model of one class.
import Foundation

/// K Gaussians over colours (SIMD3, full 3 × 3 covariance), weighted by their share of the
/// samples. Fitted from samples and a component per sample; `split(_:into:)` gives the
/// first assignment by Orchard–Bouman splitting (repeatedly halve the component of largest
/// variance across its principal axis), as GrabCut (Rother et al. 2004) does.
///
/// ```swift
/// let colours: [SIMD3<Double>] = ...
/// let model = GaussianMixture(colours, components: GaussianMixture.split(colours, into: 5))
/// let cost = -model.logDensity(colours[0])
/// ```
public struct GaussianMixture: Sendable {
    struct Component: Sendable {
        var mean: SIMD3<Double>
        /// The covariance's inverse (rows), and log weight − ½ log((2π)³ det Σ).
        var inverse: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)
        var logNormaliser: Double

        func logDensity(_ x: SIMD3<Double>) -> Double {
            let d = x - mean
            let q = (inverse.0 * d).sum() * d.x + (inverse.1 * d).sum() * d.y + (inverse.2 * d).sum() * d.z
            return logNormaliser - 0.5 * q
        }
    }

    var components: [Component]

    /// Added to each covariance's diagonal so that a flat class keeps a finite density: (1/1000)²,
    /// a quarter of an 8-bit grey level, squared. Small, as OpenCV's GrabCut keeps it: with
    /// (1/100)² GrabCut from the box scored 0.779 instead of 0.839 on the 324 photo composites
    /// cut with a ring, 0.638 instead of 0.628 on the 24 cut-outs (README "fg on real box crops").
    static let ridge = 1e-6

    /// Fits one Gaussian per component index in `assignment` (0..<K) to `samples`; components
    /// without samples are left out. Precondition: at least one sample.
    public init(_ samples: [SIMD3<Double>], components assignment: [Int]) {
        precondition(!samples.isEmpty && samples.count == assignment.count,
                     "GaussianMixture: \(samples.count) samples, \(assignment.count) assignments")
        let k = (assignment.max() ?? 0) + 1
        var n = [Double](repeating: 0, count: k)
        var sum = [SIMD3<Double>](repeating: .zero, count: k)
        var outer = [(SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)](repeating: (.zero, .zero, .zero), count: k)
        for (x, c) in zip(samples, assignment) {
            n[c] += 1
            sum[c] += x
            outer[c].0 += x.x * x
            outer[c].1 += x.y * x
            outer[c].2 += x.z * x
        }
        components = (0..<k).compactMap { c in
            guard n[c] > 0 else { return nil }
            let mean = sum[c] / n[c]
            var rows = (outer[c].0 / n[c] - mean.x * mean, outer[c].1 / n[c] - mean.y * mean, outer[c].2 / n[c] - mean.z * mean)
            rows.0.x += Self.ridge
            rows.1.y += Self.ridge
            rows.2.z += Self.ridge
            let (inverse, det) = Self.inverse(rows)
            return Component(mean: mean, inverse: inverse,
                             logNormaliser: log(n[c] / Double(samples.count)) - 0.5 * (3 * log(2 * Double.pi) + log(det)))
        }
    }

    /// The inverse and the determinant of a symmetric positive definite 3 × 3 matrix (rows).
    static func inverse(_ m: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>))
        -> ((SIMD3<Double>, SIMD3<Double>, SIMD3<Double>), Double) {
        let (a, b, c) = m
        // Cofactors: the rows of the inverse are the cross products of the columns / det.
        let r0 = SIMD3(b.y * c.z - b.z * c.y, a.z * c.y - a.y * c.z, a.y * b.z - a.z * b.y)
        let r1 = SIMD3(b.z * c.x - b.x * c.z, a.x * c.z - a.z * c.x, a.z * b.x - a.x * b.z)
        let r2 = SIMD3(b.x * c.y - b.y * c.x, a.y * c.x - a.x * c.y, a.x * b.y - a.y * b.x)
        let det = a.x * r0.x + a.y * r1.x + a.z * r2.x
        return ((r0 / det, r1 / det, r2 / det), det)
    }

    /// log p(x) of the mixture.
    public func logDensity(_ x: SIMD3<Double>) -> Double {
        var best = -Double.infinity
        for c in components { best = max(best, c.logDensity(x)) }
        var s = 0.0
        for c in components { s += exp(c.logDensity(x) - best) }
        return best + log(s)
    }

    /// The component most likely to have drawn `x` (its index among the fitted components).
    public func likeliestComponent(_ x: SIMD3<Double>) -> Int {
        var best = 0, bestValue = -Double.infinity
        for (i, c) in components.enumerated() {
            let v = c.logDensity(x)
            if v > bestValue { best = i; bestValue = v }
        }
        return best
    }

    /// A first assignment of `samples` to `k` components by Orchard–Bouman splitting: start with
    /// one, then split the component whose covariance has the largest eigenvalue by the plane
    /// through its mean across the principal eigenvector, until there are `k` (or none can split).
    public static func split(_ samples: [SIMD3<Double>], into k: Int) -> [Int] {
        var assignment = [Int](repeating: 0, count: samples.count)
        var count = 1
        while count < k {
            var best: (component: Int, eigenvalue: Double, axis: SIMD3<Double>, mean: SIMD3<Double>)?
            for c in 0..<count {
                let members = samples.indices.filter { assignment[$0] == c }
                guard members.count >= 2 else { continue }
                let mean = members.reduce(SIMD3<Double>.zero) { $0 + samples[$1] } / Double(members.count)
                var rows = (SIMD3<Double>.zero, SIMD3<Double>.zero, SIMD3<Double>.zero)
                for i in members {
                    let d = samples[i] - mean
                    rows.0 += d.x * d
                    rows.1 += d.y * d
                    rows.2 += d.z * d
                }
                let (value, axis) = principalAxis(rows)
                if value > 0 && value > (best?.eigenvalue ?? 0) { best = (c, value, axis, mean) }
            }
            guard let best else { break }
            for i in samples.indices where assignment[i] == best.component
                && ((samples[i] - best.mean) * best.axis).sum() > 0 {
                assignment[i] = count
            }
            count += 1
        }
        return assignment
    }

    /// The largest eigenvalue of a symmetric positive semidefinite 3 × 3 matrix and its unit
    /// eigenvector, by power iteration from the row of largest norm.
    static func principalAxis(_ m: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)) -> (Double, SIMD3<Double>) {
        func apply(_ v: SIMD3<Double>) -> SIMD3<Double> {
            SIMD3((m.0 * v).sum(), (m.1 * v).sum(), (m.2 * v).sum())
        }
        var v = [m.0, m.1, m.2].max { ($0 * $0).sum() < ($1 * $1).sum() }!
        var norm = (v * v).sum().squareRoot()
        guard norm > 0 else { return (0, SIMD3(1, 0, 0)) }
        v /= norm
        for _ in 0..<50 {
            let w = apply(v)
            norm = (w * w).sum().squareRoot()
            guard norm > 0 else { return (0, v) }
            v = w / norm
        }
        return ((apply(v) * v).sum(), v)
    }
}
