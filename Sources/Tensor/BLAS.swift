// The only file that imports CBLAS (OpenBLAS). Everything else calls these wrappers.
import CBLAS
import Synchronization

/// The floating-point operations of every GEMM this process has run (2·m·n·k per product): what
/// `carve bench step` divides by the step time. Counted where the work happens, so the count
/// follows the networks as they are (conv, convT, resize-conv, linear, forward and backward)
/// instead of an analytic formula that could drift from them.
///
/// ```swift
/// let before = GEMMCounter.flops
/// _ = conv2d(x, weight: w, bias: nil)
/// let flops = GEMMCounter.flops - before   // 2·O·C·K²·N·OH·OW (when nothing else runs GEMMs)
/// ```
public enum GEMMCounter {
    private static let total = Atomic<Int>(0)
    /// The operations counted so far in this process (all threads).
    public static var flops: Int { total.load(ordering: .relaxed) }
    static func add(m: Int, n: Int, k: Int) { total.add(2 * m * n * k, ordering: .relaxed) }
}

/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C.
///
/// Shapes: op(A) is [m, k], op(B) is [k, n], C is [m, n]; `lda`, `ldb`, `ldc` are row strides.
///
/// With `Threads.count` > 1, a large product is split into that many blocks of C (along its
/// longer side) computed at once on Carve's threads, each by a 1-thread OpenBLAS call: see
/// Note [One thread pool].
public func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    GEMMCounter.add(m: m, n: n, k: k)
    let threads = Threads.count
    guard threads > 1, !ParallelRegion.isInside, Double(m) * Double(n) * Double(k) >= 2e6, max(m, n) >= 32 * threads else {
        BLASThreading.adopt()
        cblasSgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    BLASThreading.adopt()
    let alongColumns = n >= m
    let length = alongColumns ? n : m
    // Up to `chunksPerThread` blocks per thread of at least 32 lines, in whole 16-float lines.
    let wanted = min(threads * chunksPerThread, max(threads, length / 32))
    let per = ((length + wanted - 1) / wanted + 15) / 16 * 16
    let blocks = (length + per - 1) / per
    parallelFor(blocks, grain: 1) { range in
        for block in range {
            let lo = block * per, count = min(per, length - lo)
            if alongColumns {
                // C[:, lo..<lo+count] = op(A) · op(B)[:, lo..<lo+count]
                cblasSgemm(transposeA, transposeB, m, count, k, alpha, a, lda,
                           transposeB ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc)
            } else {
                // C[lo..<lo+count, :] = op(A)[lo..<lo+count, :] · op(B)
                cblasSgemm(transposeA, transposeB, count, n, k, alpha, transposeA ? a + lo : a + lo * lda, lda,
                           b, ldb, beta, c + lo * ldc, ldc)
            }
        }
    }
}

@inline(__always)
private func cblasSgemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
    _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

// Note [One thread pool]
// With OpenBLAS's own threads next to Carve's (parallelFor on Dispatch), two pools share the
// cores: between sgemm calls OpenBLAS's idle workers spin on sched_yield while Carve's threads do
// im2col, col2im, batch norm and the element-wise work, and the two fight for the same cores
// (perf: a fifth of a 2-thread demo-hoc step was the OpenBLAS worker yielding). So when Carve
// uses more than one thread, OpenBLAS is set to one thread per call and `sgemm` splits large
// products over Carve's threads itself. With `Threads.count` = 1 OpenBLAS keeps whatever
// OPENBLAS_NUM_THREADS says (one thread when it is unset). Without CARVE_THREADS or
// OPENBLAS_NUM_THREADS, `Threads.count` is the node's cores divided among the ranks a launcher put
// on it, so a bare `mpirun -n 8 carve train` does not start 8 × cores threads.
enum BLASThreading {
    /// Sets OpenBLAS to one thread per call, once, when Carve runs more than one thread.
    static let adopted: Bool = {
        // Carve splits products itself over more than one thread; with one thread, OpenBLAS keeps
        // an OPENBLAS_NUM_THREADS the user set, and otherwise runs one too (its default, every
        // core, would put ranks × cores threads on a node under mpirun).
        if Threads.count > 1 || Threads.explicit == nil { openblas_set_num_threads(1) }
        return true
    }()

    @inline(__always) static func adopt() { _ = adopted }
}

/// Row-major single-precision matrix–vector product: y = alpha · op(A) · x + beta · y.
///
/// Shapes: A is [m, n] with row stride `lda`; op(A) is A (x [n], y [m]) or Aᵀ (x [m], y [n]).
@inlinable
public func sgemv(
    transpose: Bool, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>
) {
    cblas_sgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), alpha, a,
                blasint(lda), x, 1, beta, y, 1)
}

/// OpenBLAS's view of the machine: the kernel set ("SkylakeX", "Haswell", "Zen", ...) and threads.
public enum BLASInfo {
    /// The name of the core type whose kernels OpenBLAS selected.
    public static var coreName: String { String(cString: openblas_get_corename()) }
    /// The number of threads OpenBLAS uses for one call.
    public static var threads: Int { Int(openblas_get_num_threads()) }
    /// Sets the number of threads OpenBLAS uses for one call.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}
