// Element-wise binary ops with broadcasting (add, sub, mul, div) and their backward rules.
// Forward: out[i] = a[ia(i)] ∘ b[ib(i)]; backward sums the output gradient over the dimensions
// an input was broadcast along.

public enum BinaryOp: Sendable { case add, sub, mul, div }

extension Tensor {
    /// `a ∘ b` element-wise with NumPy broadcasting (e.g. [N, C, H, W] with [1, C, 1, 1]).
    public static func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
        let plan = BroadcastPlan(a.shape, b.shape)
        let outCount = plan.shape.reduce(1, *)
        let out = Storage(count: outCount)
        let ap = a.data, bp = b.data, op_ = out.pointer
        let run = plan.runLength, sa = plan.aStep, sb = plan.bStep
        let rows = plan.aOffsets.count
        plan.aOffsets.withUnsafeBufferPointer { ao in
            plan.bOffsets.withUnsafeBufferPointer { bo in
                parallelFor(rows, grain: max(1, 16384 / max(run, 1))) { range in
                    for r in range {
                        binaryRun(op, op_ + r * run, ap + ao[r], sa, bp + bo[r], sb, run)
                    }
                }
            }
        }
        return result(shape: plan.shape, storage: out, parents: [a, b]) { y in
            let g = y.gradStorage!.pointer
            // add: da += g, db += g;   sub: da += g, db −= g
            // mul: da += g·b, db += g·a;   div: da += g / b, db −= g·a / b²
            let ga = a.requiresGrad ? a.gradBuffer() : nil
            let gb = b.requiresGrad ? b.gradBuffer() : nil
            for r in 0..<rows {
                let gr = g + r * run
                let aRow = ap + plan.aOffsets[r], bRow = bp + plan.bOffsets[r]
                if let ga { accumulateA(op, ga + plan.aOffsets[r], sa, gr, aRow, sa, bRow, sb, run) }
                if let gb { accumulateB(op, gb + plan.bOffsets[r], sb, gr, aRow, sa, bRow, sb, run) }
            }
        }
    }
}

@inline(__always)
private func binaryRun(_ op: BinaryOp, _ o: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ sa: Int,
                       _ b: UnsafePointer<Float>, _ sb: Int, _ n: Int) {
    switch (op, sa, sb) {
    case (.add, 1, 1): for i in 0..<n { o[i] = a[i] + b[i] }
    case (.sub, 1, 1): for i in 0..<n { o[i] = a[i] - b[i] }
    case (.mul, 1, 1): for i in 0..<n { o[i] = a[i] * b[i] }
    case (.div, 1, 1): for i in 0..<n { o[i] = a[i] / b[i] }
    case (.add, 1, 0): let v = b[0]; for i in 0..<n { o[i] = a[i] + v }
    case (.sub, 1, 0): let v = b[0]; for i in 0..<n { o[i] = a[i] - v }
    case (.mul, 1, 0): let v = b[0]; for i in 0..<n { o[i] = a[i] * v }
    case (.div, 1, 0): let v = b[0]; for i in 0..<n { o[i] = a[i] / v }
    case (.add, 0, 1): let v = a[0]; for i in 0..<n { o[i] = v + b[i] }
    case (.sub, 0, 1): let v = a[0]; for i in 0..<n { o[i] = v - b[i] }
    case (.mul, 0, 1): let v = a[0]; for i in 0..<n { o[i] = v * b[i] }
    case (.div, 0, 1): let v = a[0]; for i in 0..<n { o[i] = v / b[i] }
    default:
        let x = a[0], y = b[0]
        let v: Float
        switch op { case .add: v = x + y; case .sub: v = x - y; case .mul: v = x * y; case .div: v = x / y }
        for i in 0..<n { o[i] = v }
    }
}

/// da (stride sda: 0 = reduce the run into one element) += ∂(a ∘ b)/∂a · g over one run.
@inline(__always)
private func accumulateA(_ op: BinaryOp, _ da: UnsafeMutablePointer<Float>, _ sda: Int, _ g: UnsafePointer<Float>,
                         _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int, _ n: Int) {
    if sda == 1 {
        switch op {
        case .add, .sub: for i in 0..<n { da[i] += g[i] }
        case .mul: for i in 0..<n { da[i] += g[i] * b[i * sb] }
        case .div: for i in 0..<n { da[i] += g[i] / b[i * sb] }
        }
    } else {
        var s: Float = 0
        switch op {
        case .add, .sub: for i in 0..<n { s += g[i] }
        case .mul: for i in 0..<n { s += g[i] * b[i * sb] }
        case .div: for i in 0..<n { s += g[i] / b[i * sb] }
        }
        da[0] += s
    }
}

/// db (stride sdb) += ∂(a ∘ b)/∂b · g over one run.
@inline(__always)
private func accumulateB(_ op: BinaryOp, _ db: UnsafeMutablePointer<Float>, _ sdb: Int, _ g: UnsafePointer<Float>,
                         _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int, _ n: Int) {
    if sdb == 1 {
        switch op {
        case .add: for i in 0..<n { db[i] += g[i] }
        case .sub: for i in 0..<n { db[i] -= g[i] }
        case .mul: for i in 0..<n { db[i] += g[i] * a[i * sa] }
        case .div: for i in 0..<n { let bv = b[i]; db[i] -= g[i] * a[i * sa] / (bv * bv) }
        }
    } else {
        var s: Float = 0
        switch op {
        case .add: for i in 0..<n { s += g[i] }
        case .sub: for i in 0..<n { s -= g[i] }
        case .mul: for i in 0..<n { s += g[i] * a[i * sa] }
        case .div: let bv = b[0]; for i in 0..<n { s -= g[i] * a[i * sa] / (bv * bv) }
        }
        db[0] += s
    }
}

// MARK: - Operators

public func + (a: Tensor, b: Tensor) -> Tensor { .binary(.add, a, b) }
public func - (a: Tensor, b: Tensor) -> Tensor { .binary(.sub, a, b) }
public func * (a: Tensor, b: Tensor) -> Tensor { .binary(.mul, a, b) }
public func / (a: Tensor, b: Tensor) -> Tensor { .binary(.div, a, b) }
public func + (a: Tensor, b: Float) -> Tensor { .binary(.add, a, Tensor(b)) }
public func - (a: Tensor, b: Float) -> Tensor { .binary(.sub, a, Tensor(b)) }
public func * (a: Tensor, b: Float) -> Tensor { .binary(.mul, a, Tensor(b)) }
public func / (a: Tensor, b: Float) -> Tensor { .binary(.div, a, Tensor(b)) }
public func + (a: Float, b: Tensor) -> Tensor { .binary(.add, Tensor(a), b) }
public func - (a: Float, b: Tensor) -> Tensor { .binary(.sub, Tensor(a), b) }
public func * (a: Float, b: Tensor) -> Tensor { .binary(.mul, Tensor(a), b) }
public prefix func - (a: Tensor) -> Tensor { .binary(.mul, a, Tensor(-1)) }
