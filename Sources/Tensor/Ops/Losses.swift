// Losses (means over all elements): BCE with logits, the smooth L1 of eq. (8), L1, MSE.
import Foundation

extension Tensor {
    /// Mean binary cross-entropy of `sigmoid(self)` against `target` ∈ [0, 1], computed stably
    /// from the logits: max(x, 0) − x·t + log(1 + e^−|x|). Backward: (σ(x) − t) / n.
    public func bceWithLogits(target: Float) -> Tensor {
        let n = count
        let x = data
        var s = 0.0
        for i in 0..<n {
            let v = x[i]
            s += Double(max(v, 0) - v * target + Foundation.log1p(Foundation.exp(-Swift.abs(v))))
        }
        let out = Storage(count: 1)
        out.pointer[0] = Float(s / Double(n))
        return Tensor.result(shape: [], storage: out, parents: [self]) { [self] t in
            let g = t.gradStorage!.pointer[0] / Float(n)
            let dx = self.gradBuffer()
            for i in 0..<n { dx[i] += g * (1 / (1 + Foundation.exp(-x[i])) - target) }
        }
    }

    /// Mean smooth L1 of eq. (8) between `self` and `target`: 4d² where |d| < 0.25, else |d|.
    public func smoothL1(_ target: Tensor) -> Tensor {
        precondition(shape == target.shape, "smoothL1: \(shape) against \(target.shape)")
        let d = self - target
        let n = d.count
        let dp = d.data
        var s = 0.0
        for i in 0..<n { let v = dp[i]; s += Double(Swift.abs(v) < 0.25 ? 4 * v * v : Swift.abs(v)) }
        let out = Storage(count: 1)
        out.pointer[0] = Float(s / Double(n))
        return Tensor.result(shape: [], storage: out, parents: [d]) { t in
            // d/dv: 8v where |v| < 0.25, else sign(v)
            let g = t.gradStorage!.pointer[0] / Float(n)
            let dd = d.gradBuffer()
            for i in 0..<n {
                let v = dp[i]
                dd[i] += g * (Swift.abs(v) < 0.25 ? 8 * v : (v > 0 ? 1 : -1))
            }
        }
    }

    /// Mean absolute difference.
    public func l1(_ target: Tensor) -> Tensor { (self - target).abs().mean() }

    /// Mean squared difference.
    public func mse(_ target: Tensor) -> Tensor {
        let d = self - target
        return (d * d).mean()
    }
}
