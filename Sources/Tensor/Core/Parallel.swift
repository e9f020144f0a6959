// Splitting loops over the cores of one process.
import Dispatch
import Foundation

/// How many threads Carve's own kernels use (OpenBLAS has its own setting). Defaults to the
/// number of active processors; `CARVE_THREADS` or `OPENBLAS_NUM_THREADS` override it.
public enum Threads {
    public nonisolated(unsafe) static var count: Int = {
        let env = ProcessInfo.processInfo.environment
        for key in ["CARVE_THREADS", "OPENBLAS_NUM_THREADS"] {
            if let s = env[key], let n = Int(s), n > 0 { return n }
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }()
}

/// Chunks per thread of `parallelFor` (and of split sgemm calls): a few, so the split balances.
public let chunksPerThread = 4

/// Runs `body(range)` over `0..<count` split into contiguous chunks on `Threads.count` threads,
/// but only when the work is large enough: `grain` is the least number of items per chunk.
@inline(__always)
public func parallelFor(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let threads = Threads.count
    if threads <= 1 || count < 2 * grain {
        if count > 0 { body(0..<count) }
        return
    }
    // Up to 4 chunks per thread, handed out as threads come free (concurrentPerform is dynamic):
    // on a machine shared with other jobs a thread that lost its core takes fewer chunks instead of
    // holding up the others (Note [One thread pool] in BLAS.swift).
    let chunks = min(threads * chunksPerThread, count / grain)
    let per = (count + chunks - 1) / chunks
    withoutActuallyEscaping(body) { body in
        // Each chunk touches its own range only; the closure is not Sendable by type, but the
        // chunks never share mutable state.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * per
            let hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}
