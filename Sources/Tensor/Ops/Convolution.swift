// 2-D convolution (PyTorch semantics) through im2col + sgemm, batched over the whole batch.
// N = batch, C = input channels, H × W = input spatial, O = output channels, K = kernel size,
// OH × OW = output spatial, S = stride. All tensors are NCHW, Float32, contiguous.
//
// Note [Batched columns]: the columns of a group of G samples are laid out [C·K·K, G·OH·OW]
// (sample-major inside a row), so one sgemm covers the whole group. Small feature maps
// (4×4, 8×8) would make per-sample GEMMs tiny and slow; one wide GEMM keeps OpenBLAS at full
// speed, at the cost of a cheap reshuffle between [G, O, OH·OW] and [O, G·OH·OW].

/// How much a convolution pads its input on each side.
///
/// `.explicit(p)` pads p on all four sides (an integer literal means this); `.same` is
/// PyTorch's `padding='same'` for stride 1: K − 1 in total, (K − 1)/2 on top/left and the rest
/// on bottom/right (the 4×4 stride-1 convs of Table 2 pad 1 before and 2 after).
///
/// ```swift
/// let a: Padding = 1          // .explicit(1)
/// let b: Padding = .same      // output H × W == input H × W at stride 1
/// ```
public enum Padding: ExpressibleByIntegerLiteral, Equatable, Sendable, CustomStringConvertible {
    case explicit(Int)
    case same

    public init(integerLiteral value: Int) { self = .explicit(value) }

    /// Padding before (top/left) and after (bottom/right) for kernel size `k`.
    public func amounts(kernelSize k: Int) -> (before: Int, after: Int) {
        switch self {
        case .explicit(let p): return (p, p)
        case .same: return ((k - 1) / 2, k - 1 - (k - 1) / 2)
        }
    }

    public var description: String {
        switch self {
        case .explicit(let p): return "\(p)"
        case .same: return "same"
        }
    }
}

// MARK: - Geometry

/// One image [C, H, W] and its columns [C·K·K, OH·OW] under a K×K window at stride S.
/// A convolution reads the image through its columns; a transposed convolution writes the
/// image from columns (col2im), with the same geometry.
struct ConvGeometry {
    let c: Int, h: Int, w: Int  // image
    let k: Int, stride: Int
    let padTop: Int, padLeft: Int
    let oh: Int, ow: Int  // column grid (the conv's output spatial size)

    init(c: Int, h: Int, w: Int, k: Int, stride: Int, padding: Padding) {
        let (before, after) = padding.amounts(kernelSize: k)
        self.c = c; self.h = h; self.w = w; self.k = k; self.stride = stride
        padTop = before; padLeft = before
        oh = (h + before + after - k) / stride + 1
        ow = (w + before + after - k) / stride + 1
    }

    /// Rows of the column matrix: C·K·K.
    var rows: Int { c * k * k }
    /// Floats in one image.
    var imageCount: Int { c * h * w }
    /// Columns per sample: OH·OW.
    var positions: Int { oh * ow }
}

// Note [Cache-sized groups]
// A group's columns are kept small enough to stay in a core's L2 cache (128 Ki floats =
// 512 KiB, but at least 512 columns so the GEMM stays wide): im2col writes them, OpenBLAS packs
// them and its kernel reads them without a trip to memory, and the backward recomputes them per
// group. With several threads the groups run in parallel, one thread per group with its nested
// kernels serial (`parallelSlots`, Note [Nested parallelism]), instead of splitting one big group's
// im2col and sgemm over the threads. On demo-hoc (`carve bench step`, this machine) this took the
// 1-thread step from 0.47–0.50 s to 0.42–0.43 s, the 2-thread step from 0.28 to 0.21 s (with
// Note [Padded planes] and AVX2), and peak RSS from 569 to 332 MB (paper-fg-cub: 1871 → 1337 MB).

/// How samples are grouped into batched columns: at most `maxFloats` floats of columns per
/// group, but at least `minColumns` columns (Note [Cache-sized groups]).
struct ColumnGrouping: Equatable {
    var maxFloats: Int
    var minColumns: Int

    /// The grouping for `threads` kernel threads.
    static let cacheSized = ColumnGrouping(maxFloats: 128 << 10, minColumns: 512)

    /// Tests bind this (`ColumnGrouping.$override.withValue(…) { … }`) to exercise several groups;
    /// a task-local, so a test's grouping never reaches tests running beside it.
    @TaskLocal static var override: ColumnGrouping?
    static var current: ColumnGrouping { override ?? cacheSized }
}

/// How many samples go into one group of batched columns (Note [Batched columns]): the whole
/// batch unless the columns would exceed the grouping's float limit (but never fewer samples than
/// its least number of columns needs, and never fewer than one).
func samplesPerGroup(batch: Int, columnFloatsPerSample: Int, positions: Int) -> Int {
    let grouping = ColumnGrouping.current
    let byLimit = grouping.maxFloats / max(columnFloatsPerSample, 1)
    let byWidth = (grouping.minColumns + positions - 1) / max(positions, 1)
    return max(1, min(batch, max(byLimit, byWidth)))
}

// MARK: - im2col / col2im

// Note [Padded planes]
// im2col and col2im go through one zero-padded copy of an image plane at a time, in a per-thread
// scratch buffer that stays in L1: every tap then reads (or accumulates) whole output rows with
// no bounds checks, 8 or 16 floats per SIMD operation, instead of clipping each row to the image
// and calling memmove/memset for a handful of floats (8×8 planes made those calls most of the
// time). The plane is PH × PW with PH = (OH − 1)·S + K (and likewise PW) plus 16 floats of slack,
// so a SIMD16 access at the end of a row may spill into the next row or the slack but never out of
// the buffer.

/// The zero-padded plane geometry of `g`: rows, row stride and the buffer size with slack.
private struct PaddedPlane {
    let rows: Int, stride: Int, count: Int
    init(_ g: ConvGeometry) {
        rows = max((g.oh - 1) * g.stride + g.k, g.padTop + g.h)
        stride = max((g.ow - 1) * g.stride + g.k, g.padLeft + g.w)
        count = rows * stride + 16
    }
}

/// col[r, n·OH·OW + oy·OW + ox] = image[n, c, oy·S − padTop + ky, ox·S − padLeft + kx]
/// (0 outside the image), r = (c·K + ky)·K + kx, for `samples` consecutive images.
/// Shapes: images [G, C, H, W], col [C·K·K, G·OH·OW]. See Note [Padded planes].
func im2col(_ g: ConvGeometry, images: UnsafePointer<Float>, samples: Int, col: UnsafeMutablePointer<Float>) {
    let ld = samples * g.positions
    let kk = g.k * g.k
    let plane = PaddedPlane(g)
    let planes = g.c * samples
    // (channel, sample) planes in order; each takes all K·K taps while its padded copy is in L1.
    parallelFor(planes, grain: max(1, 32768 / max(kk * g.positions, 1))) { range in
        let pad = UnsafeMutablePointer<Float>.allocate(capacity: plane.count)
        defer { pad.deallocate() }
        pad.initialize(repeating: 0, count: plane.count)
        for index in range {
            let ci = index / samples, n = index % samples
            let src = images + n * g.imageCount + ci * g.h * g.w
            // The interior; the border stays zero from the initialisation.
            for iy in 0..<g.h {
                copyRow(src + iy * g.w, into: pad + (iy + g.padTop) * plane.stride + g.padLeft, count: g.w)
            }
            for r in (ci * kk)..<((ci + 1) * kk) {
                let ky = (r / g.k) % g.k, kx = r % g.k
                let dst = col + r * ld + n * g.positions
                for oy in 0..<g.oh {
                    let prow = pad + (oy * g.stride + ky) * plane.stride + kx
                    let drow = dst + oy * g.ow
                    switch g.stride {
                    case 1: copyRow(prow, into: drow, count: g.ow)
                    case 2: gatherEven(prow, 0, g.ow, into: drow)
                    default:
                        let s = g.stride
                        for ox in 0..<g.ow { drow[ox] = prow[ox &* s] }
                    }
                }
            }
        }
    }
}

/// The adjoint of im2col: image[n, c, iy, ix] += col[r, n·OH·OW + oy·OW + ox] for every window
/// position that reads (iy, ix). Shapes: col [C·K·K, G·OH·OW], images [G, C, H, W] (accumulated).
/// See Note [Padded planes].
func col2im(_ g: ConvGeometry, col: UnsafePointer<Float>, samples: Int, images: UnsafeMutablePointer<Float>) {
    let ld = samples * g.positions
    let kk = g.k * g.k
    let plane = PaddedPlane(g)
    // Each (channel, sample) plane is written by its own rows only, so planes run in parallel.
    parallelFor(g.c * samples, grain: max(1, 32768 / max(kk * g.positions, 1))) { range in
        let pad = UnsafeMutablePointer<Float>.allocate(capacity: plane.count)
        defer { pad.deallocate() }
        for index in range {
            let ci = index / samples, n = index % samples
            pad.update(repeating: 0, count: plane.count)
            for r in (ci * kk)..<((ci + 1) * kk) {
                let ky = (r / g.k) % g.k, kx = r % g.k
                let src = col + r * ld + n * g.positions
                for oy in 0..<g.oh {
                    let prow = pad + (oy * g.stride + ky) * plane.stride + kx
                    let srow = src + oy * g.ow
                    switch g.stride {
                    case 1: addRow(srow, into: prow, count: g.ow)
                    case 2: scatterAddEven(srow, 0, g.ow, into: prow)
                    default:
                        let s = g.stride
                        for ox in 0..<g.ow { prow[ox &* s] += srow[ox] }
                    }
                }
            }
            let dst = images + n * g.imageCount + ci * g.h * g.w
            for iy in 0..<g.h {
                addRow(pad + (iy + g.padTop) * plane.stride + g.padLeft, into: dst + iy * g.w, count: g.w)
            }
        }
    }
}

/// drow[i] = srow[i] for i in 0..<count, 16 or 8 floats at a time (no call for short rows).
@inline(__always)
func copyRow(_ srow: UnsafePointer<Float>, into drow: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i &+ 16 <= count {
        UnsafeMutableRawPointer(drow + i).storeBytes(of: UnsafeRawPointer(srow + i).loadUnaligned(as: SIMD16<Float>.self),
                                                     as: SIMD16<Float>.self)
        i &+= 16
    }
    if i &+ 8 <= count {
        UnsafeMutableRawPointer(drow + i).storeBytes(of: UnsafeRawPointer(srow + i).loadUnaligned(as: SIMD8<Float>.self),
                                                     as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count { drow[i] = srow[i]; i &+= 1 }
}

/// drow[i] += srow[i] for i in 0..<count, 16 or 8 floats at a time.
@inline(__always)
func addRow(_ srow: UnsafePointer<Float>, into drow: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i &+ 16 <= count {
        let d = UnsafeMutableRawPointer(drow + i)
        d.storeBytes(of: d.loadUnaligned(as: SIMD16<Float>.self) + UnsafeRawPointer(srow + i).loadUnaligned(as: SIMD16<Float>.self),
                     as: SIMD16<Float>.self)
        i &+= 16
    }
    if i &+ 8 <= count {
        let d = UnsafeMutableRawPointer(drow + i)
        d.storeBytes(of: d.loadUnaligned(as: SIMD8<Float>.self) + UnsafeRawPointer(srow + i).loadUnaligned(as: SIMD8<Float>.self),
                     as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count { drow[i] += srow[i]; i &+= 1 }
}

// Stride-2 rows, 8 outputs at a time: a 16-float load and its even lanes. A chunk at ox touches
// elements 2·ox … 2·ox + 15, one past the last element 2·(x1 − 1) the row itself needs; the
// padded planes leave room for that (Note [Padded planes]). The rest is scalar.

/// drow[ox] = srow[2·ox] for ox in x0..<x1.
@inline(__always)
func gatherEven(_ srow: UnsafePointer<Float>, _ x0: Int, _ x1: Int, into drow: UnsafeMutablePointer<Float>) {
    var ox = x0
    while ox &+ 8 <= x1 {
        let v = UnsafeRawPointer(srow + 2 &* ox).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(drow + ox).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
        ox &+= 8
    }
    while ox < x1 { drow[ox] = srow[2 &* ox]; ox &+= 1 }
}

/// drow[2·ox] += srow[ox] for ox in x0..<x1 (the odd elements are rewritten unchanged).
@inline(__always)
func scatterAddEven(_ srow: UnsafePointer<Float>, _ x0: Int, _ x1: Int, into drow: UnsafeMutablePointer<Float>) {
    var ox = x0
    while ox &+ 8 <= x1 {
        let d = UnsafeMutableRawPointer(drow + 2 &* ox)
        var v = d.loadUnaligned(as: SIMD16<Float>.self)
        v.evenHalf += UnsafeRawPointer(srow + ox).loadUnaligned(as: SIMD8<Float>.self)
        d.storeBytes(of: v, as: SIMD16<Float>.self)
        ox &+= 8
    }
    while ox < x1 { drow[2 &* ox] += srow[ox]; ox &+= 1 }
}

// MARK: - Memory-order shuffles between [G, C, P] and [C, G·P]

/// dst[c, n·P + p] = src[n, c, p]. Shapes: src [G, C, P], dst [C, G·P].
func channelMajor(_ src: UnsafePointer<Float>, samples: Int, channels: Int, positions p: Int,
                  into dst: UnsafeMutablePointer<Float>) {
    parallelFor(channels, grain: max(1, 32768 / max(samples * p, 1))) { cs in
        for c in cs {
            for n in 0..<samples {
                (dst + c * samples * p + n * p).update(from: src + (n * channels + c) * p, count: p)
            }
        }
    }
}

/// dst[n, c, p] (= or +=) src[c, n·P + p] + bias[c]. Shapes: src [C, G·P], dst [G, C, P], bias [C].
func sampleMajor(_ src: UnsafePointer<Float>, samples: Int, channels: Int, positions p: Int,
                 into dst: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, accumulate: Bool) {
    parallelFor(channels, grain: max(1, 32768 / max(samples * p, 1))) { cs in
        for c in cs {
            let b = bias?[c] ?? 0
            for n in 0..<samples {
                let s = src + c * samples * p + n * p
                let d = dst + (n * channels + c) * p
                if accumulate {
                    for i in 0..<p { d[i] += s[i] + b }
                } else {
                    for i in 0..<p { d[i] = s[i] + b }
                }
            }
        }
    }
}

/// db[c] += Σ_{n,p} dy[n, c, p]. Shapes: dy [N, C, P], db [C].
/// Each row is summed in 16 Float lanes (vectorised), the rows in Double.
func accumulateBiasGradient(_ dy: UnsafePointer<Float>, batch: Int, channels: Int, positions p: Int,
                            into db: UnsafeMutablePointer<Float>) {
    let chunks = p / 16
    for c in 0..<channels {
        var s = 0.0
        for n in 0..<batch {
            let row = dy + (n * channels + c) * p
            var lanes = SIMD16<Float>()
            for j in 0..<chunks {
                lanes += UnsafeRawPointer(row + 16 * j).loadUnaligned(as: SIMD16<Float>.self)
            }
            var tail: Float = 0
            for i in (16 * chunks)..<p { tail += row[i] }
            s += Double(lanes.sum()) + Double(tail)
        }
        db[c] += Float(s)
    }
}

// MARK: - conv2d

/// 2-D convolution with PyTorch semantics (cross-correlation, weight [O, C, K, K]).
///
/// Input x [N, C, H, W], output [N, O, OH, OW] with OH = (H + pad_top + pad_bottom − K)/S + 1
/// (likewise OW). Gradients flow to x, weight and bias. Computed as im2col + one sgemm per
/// group of samples; the backward is two sgemms and col2im.
///
/// - Parameters:
///   - x: input [N, C, H, W].
///   - weight: filters [O, C, K, K].
///   - bias: [O], or nil.
///   - stride: S (same in both directions).
///   - padding: `.explicit(p)` (an integer) or `.same` (stride 1 only).
///
/// ```swift
/// let x = Tensor.randomNormal([16, 3, 64, 64], seed: 1, purpose: "x")
/// let w = Tensor.parameter([64, 3, 3, 3])
/// let y = conv2d(x, weight: w, bias: nil, stride: 2, padding: 1)   // [16, 64, 32, 32]
/// ```
///
/// The convolutions of Tables 1–2 (1×1; 3×3 s1/s2; 4×4 s1 "same" and s2; 2×2 s2).
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Padding = 0) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4,
                 "conv2d: input \(x.shape) and weight \(weight.shape) must both be 4-D (NCHW, OCKK)")
    let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
    let o = weight.shape[0], k = weight.shape[2]
    precondition(weight.shape[1] == c && weight.shape[3] == k,
                 "conv2d: input \(x.shape) has \(c) channels, weight \(weight.shape) expects \(weight.shape[1]) (square K×K)")
    precondition(bias == nil || bias!.shape == [o], "conv2d: bias \(bias?.shape ?? []) for weight \(weight.shape)")
    precondition(stride >= 1, "conv2d: stride \(stride)")
    precondition(padding != .same || stride == 1, "conv2d: padding 'same' needs stride 1, got \(stride)")
    let g = ConvGeometry(c: c, h: h, w: w, k: k, stride: stride, padding: padding)
    precondition(g.oh >= 1 && g.ow >= 1,
                 "conv2d: input \(x.shape) too small for kernel \(k) with padding \(padding), stride \(stride)")
    let p = g.positions, rows = g.rows
    let group = samplesPerGroup(batch: n, columnFloatsPerSample: max(rows, o) * p, positions: p)
    let groups = (n + group - 1) / group
    let samples = { (index: Int) in (index * group, min(group, n - index * group)) }  // (n0, gn)

    let out = Storage(count: n * o * p)  // y [N, O, OH·OW]
    var kept: Storage?  // the columns, kept for the backward when the whole batch is one group
    // Groups in parallel, each on one thread (Note [Nested parallelism]); one group uses them all.
    parallelSlots(groups) { _, range in
        let yT = Storage(count: o * group * p)  // [O, G·OH·OW] (Note [Batched columns])
        for index in range {
            let (n0, gn) = samples(index)
            let col = Storage(count: rows * gn * p)  // [C·K·K, G·OH·OW]
            im2col(g, images: x.data + n0 * g.imageCount, samples: gn, col: col.pointer)
            // yT [O, G·P] = W [O, C·K·K] · col [C·K·K, G·P]
            sgemm(transposeA: false, transposeB: false, m: o, n: gn * p, k: rows,
                  a: weight.data, lda: rows, b: col.pointer, ldb: gn * p, c: yT.pointer, ldc: gn * p)
            sampleMajor(yT.pointer, samples: gn, channels: o, positions: p, into: out.pointer + n0 * o * p,
                        bias: bias?.data, accumulate: false)
            if groups == 1 { kept = col }
        }
    }
    return Tensor.result(shape: [n, o, g.oh, g.ow], storage: out, parents: [x, weight] + (bias.map { [$0] } ?? [])) { y in
        // forward was: col = im2col(x);  yT = W · col;  y = yT (sample-major) + b
        // so:          dyT = dy (channel-major);  dW += dyT · colᵀ;  dcol = Wᵀ · dyT;  dx += col2im(dcol);
        //              db += Σ_{n,p} dy
        let dy = y.gradStorage!.pointer
        if let bias, bias.requiresGrad { accumulateBiasGradient(dy, batch: n, channels: o, positions: p, into: bias.gradBuffer()) }
        // Gradient buffers before the threads start (they are created on first use).
        let dW = weight.requiresGrad ? weight.gradBuffer() : nil
        let dx = x.requiresGrad ? x.gradBuffer() : nil
        // dW sums over groups: per slot, then the slots in order (the same sum on every run).
        let partials = ParallelPartials(slots: min(groups, Threads.count), count: o * rows, into: dW)
        parallelSlots(groups) { slot, range in
            let dyT = Storage(count: o * group * p)  // [O, G·OH·OW]
            for index in range {
                let (n0, gn) = samples(index)
                channelMajor(dy + n0 * o * p, samples: gn, channels: o, positions: p, into: dyT.pointer)
                if dW != nil {
                    let col: Storage
                    if let kept { col = kept } else {
                        col = Storage(count: rows * gn * p)  // [C·K·K, G·OH·OW]
                        im2col(g, images: x.data + n0 * g.imageCount, samples: gn, col: col.pointer)
                    }
                    // dW [O, C·K·K] += dyT [O, G·P] · colᵀ [G·P, C·K·K]
                    sgemm(transposeA: false, transposeB: true, m: o, n: rows, k: gn * p,
                          a: dyT.pointer, lda: gn * p, b: col.pointer, ldb: gn * p,
                          beta: 1, c: partials.buffer(slot), ldc: rows)
                }
                if let dx {
                    let dcol = Storage(count: rows * gn * p)  // [C·K·K, G·OH·OW]
                    // dcol [C·K·K, G·P] = Wᵀ [C·K·K, O] · dyT [O, G·P]
                    sgemm(transposeA: true, transposeB: false, m: rows, n: gn * p, k: o,
                          a: weight.data, lda: rows, b: dyT.pointer, ldb: gn * p, c: dcol.pointer, ldc: gn * p)
                    col2im(g, col: dcol.pointer, samples: gn, images: dx + n0 * g.imageCount)
                }
            }
        }
        partials.finish()
    }
}

/// Per-slot accumulators for a sum over the pieces of `parallelSlots`: slot 0 accumulates into the
/// target itself, every other slot into a zeroed buffer of its own, and `finish` adds those to the
/// target in slot order, so the result depends on the number of slots but not on the threads'
/// timing. With no target (nothing to accumulate) it does nothing.
struct ParallelPartials {
    private let target: UnsafeMutablePointer<Float>?
    private let count: Int
    private let extra: [Storage]

    init(slots: Int, count: Int, into target: UnsafeMutablePointer<Float>?) {
        self.target = target
        self.count = count
        extra = target == nil || ParallelRegion.isInside ? [] : (1..<max(slots, 1)).map { _ in
            let s = Storage(count: count)
            s.zero()
            return s
        }
    }

    /// Where slot `slot` accumulates.
    func buffer(_ slot: Int) -> UnsafeMutablePointer<Float> {
        slot == 0 ? target! : extra[slot - 1].pointer
    }

    /// Adds the other slots' sums to the target, in slot order.
    func finish() {
        guard let target else { return }
        for s in extra { addRow(s.pointer, into: target, count: count) }
    }
}
