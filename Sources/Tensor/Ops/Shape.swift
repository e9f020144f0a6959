// Shape ops: reshape (a view), concatenation and slicing along an axis (UNet skips, RGBA split).

extension Tensor {
    /// The same values in another shape of equal count; gradients flow through.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var newShape = newShape
        if let i = newShape.firstIndex(of: -1) {
            newShape[i] = count / newShape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
        }
        precondition(newShape.reduce(1, *) == count, "reshaped: \(shape) into \(newShape)")
        let n = count
        return Tensor.result(shape: newShape, storage: storage, parents: [self]) { [self] t in
            let g = t.gradStorage!.pointer
            let dx = self.gradBuffer()
            for i in 0..<n { dx[i] += g[i] }
        }
    }

    /// Concatenates tensors along `axis` (all other dimensions equal), e.g. channels of NCHW.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let first = parts[0].shape
        for p in parts {
            precondition(p.rank == first.count
                         && zip(p.shape, first).enumerated().allSatisfy { $0.offset == axis || $0.element.0 == $0.element.1 },
                         "concat along \(axis): shape \(p.shape) does not fit \(first)")
        }
        let outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        let widths = parts.map { $0.shape[axis] * inner }
        let total = widths.reduce(0, +)
        var shape = first
        shape[axis] = parts.map { $0.shape[axis] }.reduce(0, +)
        let out = Storage(count: outer * total)
        var offset = 0
        for (p, w) in zip(parts, widths) {
            for o in 0..<outer { (out.pointer + o * total + offset).update(from: p.data + o * w, count: w) }
            offset += w
        }
        return result(shape: shape, storage: out, parents: parts) { t in
            let g = t.gradStorage!.pointer
            var offset = 0
            for (p, w) in zip(parts, widths) {
                if p.requiresGrad {
                    let dx = p.gradBuffer()
                    for o in 0..<outer {
                        let src = g + o * total + offset, dst = dx + o * w
                        for i in 0..<w { dst[i] += src[i] }
                    }
                }
                offset += w
            }
        }
    }

    /// Elements `range` of `axis` (e.g. `slice(axis: 1, 0..<3)` is the RGB of an RGBA batch).
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        precondition(axis < rank && range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "slice: \(range) of axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let full = shape[axis] * inner
        let w = range.count * inner
        let start = range.lowerBound * inner
        var newShape = shape
        newShape[axis] = range.count
        let out = Storage(count: outer * w)
        let x = data
        for o in 0..<outer { (out.pointer + o * w).update(from: x + o * full + start, count: w) }
        return Tensor.result(shape: newShape, storage: out, parents: [self]) { [self] t in
            let g = t.gradStorage!.pointer
            let dx = self.gradBuffer()
            for o in 0..<outer {
                let src = g + o * w, dst = dx + o * full + start
                for i in 0..<w { dst[i] += src[i] }
            }
        }
    }

    /// The last two axes swapped: [..., H, W] → [..., W, H] (columns of an image become rows).
    public func transposedSpatial() -> Tensor {
        precondition(rank >= 2, "transposedSpatial: shape \(shape) needs two axes")
        let h = shape[rank - 2], w = shape[rank - 1], planes = count / max(h * w, 1)
        var newShape = shape
        newShape[rank - 2] = w
        newShape[rank - 1] = h
        let out = Storage(count: count)
        let x = data
        // out[p, j, i] = x[p, i, j]
        for p in 0..<planes {
            let src = x + p * h * w, dst = out.pointer + p * h * w
            for i in 0..<h { for j in 0..<w { dst[j * h + i] = src[i * w + j] } }
        }
        return Tensor.result(shape: newShape, storage: out, parents: [self]) { [self] t in
            // dx[p, i, j] += g[p, j, i]
            let g = t.gradStorage!.pointer
            let dx = self.gradBuffer()
            for p in 0..<planes {
                let src = g + p * h * w, dst = dx + p * h * w
                for i in 0..<h { for j in 0..<w { dst[i * w + j] += src[j * h + i] } }
            }
        }
    }
}
