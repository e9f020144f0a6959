/// How far two float arrays are apart: the worst absolute and relative differences and the
/// first index beyond tolerance (llm.c's `check_tensor`).
public struct Closeness: CustomStringConvertible, Sendable {
    public var maxAbs: Double = 0
    public var maxRel: Double = 0
    public var firstBad: Int? = nil
    public var count = 0
    public var description: String {
        "max |Δ| \(maxAbs), max rel \(maxRel)" + (firstBad.map { ", first bad index \($0)" } ?? "")
    }
}

/// Compares `actual` with `expected` element-wise: |a − e| ≤ atol + rtol·|e| everywhere.
public func closeness(_ actual: [Float], _ expected: [Float], atol: Double, rtol: Double) -> Closeness {
    precondition(actual.count == expected.count, "closeness: \(actual.count) values against \(expected.count)")
    var c = Closeness()
    c.count = actual.count
    for i in 0..<actual.count {
        let a = Double(actual[i]), e = Double(expected[i])
        let d = abs(a - e)
        c.maxAbs = max(c.maxAbs, d)
        c.maxRel = max(c.maxRel, d / max(abs(e), 1e-12))
        if c.firstBad == nil && !(d <= atol + rtol * abs(e)) { c.firstBad = i }
    }
    return c
}
