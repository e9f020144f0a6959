// Tolerances derived from the arithmetic, not picked on one CPU.
//
// Note [Rounding bounds]
// A float32 sum of K products (a dot product, one output of a convolution, one element of an
// sgemm, a reduction over a batch) computed in ANY order, with or without FMA, satisfies the
// classical bound (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1):
//
//     |fl(Σ aᵢbᵢ) − Σ aᵢbᵢ| ≤ γ_K · Σ |aᵢbᵢ|,    γ_K = K·u / (1 − K·u),  u = 2⁻²⁴.
//
// Two float32 computations of the same sum that differ only in summation order (OpenBLAS kernel
// families, column groups, 1 rank against W ranks) are each within that bound of the exact value,
// so |a − b| ≤ 2 · γ_K · Σ|terms|; a float32 result against a Double reference is within
// γ_K · Σ|terms| plus the reference's own rounding to float (u·|e| ≤ u·Σ|terms|, so K + 1).
// When outputs feed further sums (a convolution followed by a transposed one, a forward followed
// by its backward), K is the number of roundings along the longest chain and Σ|terms| is the same
// computation run on the absolute values of every input (for products of linear maps that is the
// exact Σ|terms| of the expanded sum). The bound is a worst case: real errors are ~√K·u·Σ|terms|,
// so a test using it fails only on a real bug, on any CPU, kernel or thread count.

/// The worst-case rounding bound of float32 sums (Note [Rounding bounds]).
public enum RoundingBound {
    /// The unit roundoff of float32, u = 2⁻²⁴.
    public static let unitRoundoff = Double(Float.ulpOfOne) / 2

    /// γ_K = K·u / (1 − K·u): the relative bound on a float32 sum of K terms in any order.
    public static func gamma(_ k: Int) -> Double {
        precondition(k >= 0 && Double(k) * unitRoundoff < 0.5, "RoundingBound.gamma: K = \(k) is too large for a bound")
        let ku = Double(k) * unitRoundoff
        return ku / (1 - ku)
    }

    /// The bound on |a − b| for one element: `computations` · γ_K · `magnitude`, where magnitude is
    /// Σ|terms| of the exact sum. Use computations = 2 for two float32 results that differ in
    /// summation order and 1 for a float32 result against an exact (Double) reference.
    public static func bound(terms k: Int, magnitude: Double, computations: Int = 2) -> Double {
        Double(computations) * gamma(k) * magnitude
    }

    /// Compares `actual` with `expected` element-wise against the bound of each element:
    /// |aᵢ − eᵢ| ≤ computations · γ_K · magnitudesᵢ. `Closeness.maxRel` is the worst ratio of a
    /// difference to its bound (≤ 1 passes); `firstBad` the first element beyond it. A NaN on
    /// either side is always beyond the bound.
    public static func check(_ actual: [Float], _ expected: [Float], magnitudes: [Double], terms k: Int,
                             computations: Int = 2) -> Closeness {
        check(actual, exact: expected.map(Double.init), magnitudes: magnitudes, terms: k, computations: computations)
    }

    /// `check` against expected values held in Double (an exact or Double-computed reference).
    public static func check(_ actual: [Float], exact expected: [Double], magnitudes: [Double], terms k: Int,
                             computations: Int = 1) -> Closeness {
        precondition(actual.count == expected.count && expected.count == magnitudes.count,
                     "RoundingBound.check: \(actual.count) values, \(expected.count) expected, \(magnitudes.count) magnitudes")
        var c = Closeness()
        c.count = actual.count
        for i in 0..<actual.count {
            let d = abs(Double(actual[i]) - expected[i])
            let limit = bound(terms: k, magnitude: magnitudes[i], computations: computations)
            c.maxAbs = max(c.maxAbs, d.isNaN ? .infinity : d)
            c.maxRel = max(c.maxRel, d.isNaN ? .infinity : (d == 0 ? 0 : d / limit))
            if c.firstBad == nil && !(d <= limit) { c.firstBad = i }
        }
        return c
    }

    /// `check` with magnitudes given as float32 values (from the same computation run on the
    /// absolute values of its inputs).
    public static func check(_ actual: [Float], _ expected: [Float], magnitudes: [Float], terms k: Int,
                             computations: Int = 2) -> Closeness {
        // The float32 magnitude run rounds too: fl(M) ≥ (1 − γ_K)·M, so M ≤ fl(M) / (1 − γ_K).
        let widened = magnitudes.map { Double($0) / (1 - gamma(k)) }
        return check(actual, expected, magnitudes: widened, terms: k, computations: computations)
    }
}
