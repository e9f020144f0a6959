// Splitting loops over the cores of one process.
import Dispatch
import Foundation

/// How many threads Carve's own kernels use (OpenBLAS has its own setting). Defaults to the
/// number of active processors; `CARVE_THREADS` or `OPENBLAS_NUM_THREADS` override it.
public enum Threads {
    /// CARVE_THREADS, else OPENBLAS_NUM_THREADS, else this node's cores divided among the ranks a
    /// launcher started on it (`localRanks`), at least 1.
    public nonisolated(unsafe) static var count: Int = threads(in: ProcessInfo.processInfo.environment,
                                                             cores: ProcessInfo.processInfo.activeProcessorCount)

    /// The thread count the environment sets (CARVE_THREADS or OPENBLAS_NUM_THREADS), if any.
    public static let explicit: Int? = explicit(in: ProcessInfo.processInfo.environment)

    /// The processes a launcher started on this node, 1 without a launcher.
    public static let localRanks: Int = localRanks(in: ProcessInfo.processInfo.environment)

    /// The thread count for an environment and a node of `cores` cores.
    static func threads(in env: [String: String], cores: Int) -> Int {
        explicit(in: env) ?? max(1, cores / localRanks(in: env))
    }

    static func explicit(in env: [String: String]) -> Int? {
        for key in ["CARVE_THREADS", "OPENBLAS_NUM_THREADS"] {
            if let s = env[key], let n = Int(s), n > 0 { return n }
        }
        return nil
    }

    /// Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's MPI_LOCALNRANKS or Slurm's
    /// SLURM_NTASKS_PER_NODE (whose "4(x2)" form counts 4), else 1.
    static func localRanks(in env: [String: String]) -> Int {
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let s = env[key], let n = Int(s.prefix { $0.isNumber }), n > 0 { return n }
        }
        return 1
    }
}

/// Chunks per thread of `parallelFor` (and of split sgemm calls): a few, so the split balances.
public let chunksPerThread = 4

/// Runs `body(range)` over `0..<count` split into contiguous chunks on `Threads.count` threads,
/// but only when the work is large enough: `grain` is the least number of items per chunk.
@inline(__always)
public func parallelFor(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let threads = Threads.count
    if threads <= 1 || count < 2 * grain || ParallelRegion.isInside {
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

// Note [Nested parallelism]
// Some kernels are parallel over large independent pieces (the column groups of a convolution,
// Note [Cache-sized groups]) and call kernels that are parallel themselves (im2col, sgemm). Inside
// such a piece the nested calls run on the calling thread: each thread keeps its piece in its own
// cache, and no thread waits on work handed to the pool by another.

/// Marks the current thread as running one piece of an outer parallel loop.
public enum ParallelRegion {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// True inside `serially`: `parallelFor` and `sgemm` then run on this thread alone.
    @inline(__always)
    public static var isInside: Bool { pthread_getspecific(key) != nil }

    /// Runs `body` with the nested kernels on this thread (Note [Nested parallelism]).
    public static func serially<T>(_ body: () throws -> T) rethrows -> T {
        let saved = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: 1))
        defer { pthread_setspecific(key, saved) }
        return try body()
    }
}

/// Runs `body(slot, pieces)` for `count` independent pieces split into at most `Threads.count`
/// contiguous ranges (slots), one per thread, with nested kernels serial (Note [Nested
/// parallelism]). A slot's range depends only on `count` and `Threads.count`, so per-slot
/// accumulators sum in a fixed order whatever thread ran the slot. With one thread (or one piece,
/// or inside another region) it is a single slot on the calling thread, whose nested kernels
/// keep their own parallelism.
///
/// ```swift
/// parallelSlots(groups) { slot, range in
///     for group in range { im2col(...); sgemm(..., c: partials.buffer(slot)) }   // one thread each
/// }
/// ```
///
/// - Returns: the number of slots used (1 ... Threads.count).
@discardableResult
public func parallelSlots(_ count: Int, _ body: (_ slot: Int, _ pieces: Range<Int>) -> Void) -> Int {
    let slots = ParallelRegion.isInside ? 1 : max(1, min(Threads.count, count))
    if slots == 1 {
        if count > 0 { body(0, 0..<count) }
        return 1
    }
    let per = (count + slots - 1) / slots
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: slots) { slot in
            let lo = slot * per, hi = min(count, lo + per)
            if lo < hi { ParallelRegion.serially { body(slot, lo..<hi) } }
        }
    }
    return slots
}
