// The only file that imports CBLAS (OpenBLAS). Everything else calls these wrappers.
import CBLAS

/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C.
///
/// Shapes: op(A) is [m, k], op(B) is [k, n], C is [m, n]; `lda`, `ldb`, `ldc` are row strides.
@inlinable
public func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
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
