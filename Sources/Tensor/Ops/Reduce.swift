// Reductions: sum and mean over everything, or over the trailing axes (per sample).

extension Tensor {
    /// The sum of all elements, as a scalar tensor (accumulated in Double).
    public func sum() -> Tensor {
        let n = count
        let x = data
        var s = 0.0
        for i in 0..<n { s += Double(x[i]) }
        let out = Storage(count: 1)
        out.pointer[0] = Float(s)
        return Tensor.result(shape: [], storage: out, parents: [self]) { [self] t in
            // forward: y = Σ x;  backward: dx[i] += g
            let g = t.gradStorage!.pointer[0]
            let dx = self.gradBuffer()
            for i in 0..<n { dx[i] += g }
        }
    }

    /// The mean of all elements, as a scalar tensor.
    public func mean() -> Tensor { sum() * (1 / Float(count)) }

    /// Sums over axes `axis...` (e.g. `sum(from: 1)` of [N, C, H, W] is [N]).
    public func sum(from axis: Int) -> Tensor {
        precondition(axis >= 0 && axis <= rank, "sum(from: \(axis)) of a tensor of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[axis...].reduce(1, *)
        let x = data
        let out = Storage(count: outer)
        for o in 0..<outer {
            var s = 0.0
            let row = x + o * inner
            for i in 0..<inner { s += Double(row[i]) }
            out.pointer[o] = Float(s)
        }
        return Tensor.result(shape: Array(shape[..<axis]), storage: out, parents: [self]) { [self] t in
            let g = t.gradStorage!.pointer
            let dx = self.gradBuffer()
            for o in 0..<outer {
                let v = g[o]
                let row = dx + o * inner
                for i in 0..<inner { row[i] += v }
            }
        }
    }

    /// Means over axes `axis...` (e.g. the mask area fraction per sample: `m.mean(from: 1)`).
    public func mean(from axis: Int) -> Tensor {
        sum(from: axis) * (1 / Float(shape[axis...].reduce(1, *)))
    }
}
