// Broadcasting two shapes NumPy-style, and walking the result in contiguous runs.

/// How a binary op walks its output: `runs` rows of `runLength` elements; for row r the two
/// inputs start at `aOffsets[r]`, `bOffsets[r]` and step by `aStep`, `bStep` (0 = broadcast).
@usableFromInline
struct BroadcastPlan {
    @usableFromInline var shape: [Int]
    @usableFromInline var runLength: Int
    @usableFromInline var aStep: Int
    @usableFromInline var bStep: Int
    @usableFromInline var aOffsets: [Int]
    @usableFromInline var bOffsets: [Int]

    /// The plan for `a ∘ b`; shapes are right-aligned and each dimension must match or be 1.
    @usableFromInline
    init(_ a: [Int], _ b: [Int]) {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            precondition(pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1,
                         "broadcast: shapes \(a) and \(b) differ in dimension \(d)")
            out[d] = max(pa[d], pb[d])
        }
        shape = Array(out.suffix(max(rank, 0)))
        // Row-major strides with 0 where an input is broadcast.
        func strides(_ s: [Int]) -> [Int] {
            var st = [Int](repeating: 0, count: rank)
            var acc = 1
            for d in stride(from: rank - 1, through: 0, by: -1) {
                st[d] = s[d] == 1 && out[d] != 1 ? 0 : acc
                acc *= s[d]
            }
            return st
        }
        let sa = strides(pa), sb = strides(pb)
        // Coalesce trailing dimensions into one run while both inputs keep their pattern.
        var run = 1
        var d = rank - 1
        let aInner = rank > 0 ? (sa[rank - 1] == 0 ? 0 : 1) : 1
        let bInner = rank > 0 ? (sb[rank - 1] == 0 ? 0 : 1) : 1
        while d >= 0 {
            let aOK = aInner == 0 ? sa[d] == 0 : sa[d] == run
            let bOK = bInner == 0 ? sb[d] == 0 : sb[d] == run
            if out[d] == 1 || (aOK && bOK) { run *= out[d]; d -= 1 } else { break }
        }
        runLength = run
        aStep = aInner
        bStep = bInner
        // Offsets of every row over the remaining outer dimensions 0...d.
        var ao = [0], bo = [0]
        if d >= 0 {
            for dim in 0...d {
                var na: [Int] = [], nb: [Int] = []
                na.reserveCapacity(ao.count * out[dim])
                nb.reserveCapacity(bo.count * out[dim])
                for i in 0..<ao.count {
                    for j in 0..<out[dim] {
                        na.append(ao[i] + j * sa[dim])
                        nb.append(bo[i] + j * sb[dim])
                    }
                }
                ao = na
                bo = nb
            }
        }
        aOffsets = ao
        bOffsets = bo
    }
}
