import Foundation
import MPIShim

/// The processes of an `mpirun`/`srun` job (MPI_COMM_WORLD), through MPIShim.
///
/// Created once per process by `initialize()` (MPI_Init_thread with FUNNELED: only the thread
/// that initialised MPI calls it). Every MPI failure becomes a `CommunicatorError` carrying MPI's
/// message; `abort` ends every rank of the job. Collectives run non-blocking under a watchdog: a
/// rank that waits longer than `collectiveTimeout` throws `CollectiveTimeoutError` naming the
/// ranks that did not arrive, and waits sleeping, not spinning (Note [Collective watchdog]).
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    public var collectiveTimeout = CollectiveWatchdog.defaultTimeout
    public var context = CollectiveContext()
    /// Collectives begun by this process: the next one's number (Note [Collective watchdog]).
    private var collectivesStarted = 0
    /// The latest collective number each rank announced it was waiting in (−1: none yet).
    private var arrivals: [Int]
    /// Arrival notices this rank sent that MPI has not finished sending.
    private var pendingNotices: [OpaquePointer] = []

    private init(rank: Int, worldSize: Int) {
        self.rank = rank
        self.worldSize = worldSize
        arrivals = [Int](repeating: -1, count: worldSize)
    }

    private nonisolated(unsafe) static var shared: MPICommunicator?

    /// Initialises MPI (once per process) and returns the world communicator.
    public static func initialize() throws -> MPICommunicator {
        if let shared { return shared }
        var provided: Int32 = 0
        try check(carve_mpi_init(&provided), "MPI_Init_thread")
        var rank: Int32 = 0
        var size: Int32 = 0
        try check(carve_mpi_rank(&rank), "MPI_Comm_rank")
        try check(carve_mpi_size(&size), "MPI_Comm_size")
        let comm = MPICommunicator(rank: Int(rank), worldSize: Int(size))
        shared = comm
        atexit {
            if carve_mpi_initialized() != 0 && carve_mpi_finalized() == 0 { _ = carve_mpi_finalize() }
        }
        return comm
    }

    /// True when this process has called MPI_Init (used by tests: local mode must not).
    public static var isInitialized: Bool { carve_mpi_initialized() != 0 }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, op: ReduceOp) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        precondition(op != .max, "allReduce: max is for integers only")
        try collective("allreduce", "MPI_Allreduce(float)", count: buffer.count, of: "float",
                       blocking: { carve_mpi_allreduce_sum_float(base, buffer.count) },
                       start: { carve_mpi_iallreduce_sum_float(base + $0, $1, $2) })
        if op == .mean {
            let scale = 1 / Float(worldSize)
            for i in 0..<buffer.count { base[i] *= scale }
        }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, op: ReduceOp) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        precondition(op != .max, "allReduce: max is for integers only")
        try collective("allreduce", "MPI_Allreduce(double)", count: buffer.count, of: "double",
                       blocking: { carve_mpi_allreduce_sum_double(base, buffer.count) },
                       start: { carve_mpi_iallreduce_sum_double(base + $0, $1, $2) })
        if op == .mean {
            let scale = 1 / Double(worldSize)
            for i in 0..<buffer.count { base[i] *= scale }
        }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int64>, op: ReduceOp) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        switch op {
        case .sum:
            try collective("allreduce", "MPI_Allreduce(int64)", count: buffer.count, of: "int64",
                           blocking: { carve_mpi_allreduce_sum_int64(base, buffer.count) },
                           start: { carve_mpi_iallreduce_sum_int64(base + $0, $1, $2) })
        case .max:
            try collective("allreduce", "MPI_Allreduce(int64 max)", count: buffer.count, of: "int64",
                           blocking: { carve_mpi_allreduce_max_int64(base, buffer.count) },
                           start: { carve_mpi_iallreduce_max_int64(base + $0, $1, $2) })
        case .mean: preconditionFailure("allReduce: mean of integers is not defined")
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        precondition((0..<worldSize).contains(root), "broadcast: root \(root) outside 0..<\(worldSize)")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        try collective("broadcast from rank \(root)", "MPI_Bcast", count: buffer.count, of: "byte",
                       blocking: { carve_mpi_broadcast_bytes(base, buffer.count, Int32(root)) },
                       start: { carve_mpi_ibroadcast_bytes(base + $0, $1, Int32(root), $2) })
    }

    public func allGather(_ send: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: send.count * worldSize)
        guard send.count > 0 else { return out }
        try out.withUnsafeMutableBytes { receive in
            // One piece only: every rank's block must be contiguous in `receive`.
            try collective("allgather", "MPI_Allgather", count: send.count, of: "byte", pieces: false,
                           blocking: { carve_mpi_allgather_bytes(send.baseAddress, receive.baseAddress, send.count) },
                           start: { carve_mpi_iallgather_bytes(send.baseAddress, receive.baseAddress, $1, $2) })
        }
        return out
    }

    public func barrier() throws {
        try collective("barrier", "MPI_Barrier", count: 0, of: "", pieces: false,
                       blocking: { carve_mpi_barrier() }, start: { carve_mpi_ibarrier($2) })
    }

    // MARK: - The watchdog (Note [Collective watchdog])

    /// Runs one collective: the blocking MPI call without a timeout; else the non-blocking one,
    /// `Int32.max` elements at a time (`pieces`), each polled under the watchdog.
    /// - Parameters:
    ///   - kind: how the message names it ("allreduce", "broadcast from rank 0").
    ///   - operation: the MPI function, for MPI's own errors.
    ///   - count: elements of `unit` per rank.
    ///   - start: starts the piece at element offset $0 of $1 elements, request into $2.
    private func collective(_ kind: String, _ operation: String, count: Int, of unit: String, pieces: Bool = true,
                            blocking: () -> Int32,
                            start: (Int, Int, UnsafeMutablePointer<OpaquePointer?>) -> Int32) throws {
        let number = collectivesStarted
        collectivesStarted += 1
        let timeout = CollectiveWatchdog.timeout(collectiveTimeout, collective: number)
        guard timeout > 0 else { return try Self.check(blocking(), operation) }
        func clock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        var watch = CollectiveWatchdog(collective: number, timeout: timeout, rank: rank, worldSize: worldSize, startedAt: clock())
        var offset = 0
        repeat {
            let n = pieces ? min(count - offset, Int(Int32.max)) : count
            var request: OpaquePointer?
            try Self.check(start(offset, n, &request), operation)
            var done: Int32 = 0
            while true {
                try Self.check(carve_mpi_test(request, &done), operation)
                if done != 0 { break }
                try receiveNotices()
                let waited = watch.waited(at: clock())
                switch watch.next(waited: waited, arrivals: arrivals) {
                case .poll(let seconds):
                    if seconds > 0 { Self.sleep(seconds) }
                case .announce:
                    try announce(number)
                case .report(let missing):
                    let size = count == 0 ? nil : "\(count) \(unit)\(count == 1 ? "" : "s")"
                    let details = [context.purpose, size].compactMap { $0 }
                    let what = details.isEmpty ? kind : "\(kind) (\(details.joined(separator: ", ")))"
                    throw CollectiveTimeoutError(step: context.step, collective: what, waited: waited,
                                                 timeout: timeout, missing: missing)
                }
            }
            offset += n
        } while offset < count
    }

    /// Records the notices that have arrived: rank → the latest collective number it announced.
    private func receiveNotices() throws {
        var value: Int64 = 0, source: Int32 = 0, found: Int32 = 0
        while true {
            try Self.check(carve_mpi_notice_receive(&value, &source, &found), "MPI_Recv(arrival notice)")
            guard found != 0 else { return }
            if (0..<worldSize).contains(Int(source)) { arrivals[Int(source)] = max(arrivals[Int(source)], Int(value)) }
        }
    }

    /// Tells every other rank that this one is waiting in collective `number`.
    private func announce(_ number: Int) throws {
        // Sends still in flight (to a stopped rank, say) are kept until they finish.
        pendingNotices = try pendingNotices.filter { request in
            var done: Int32 = 0
            try Self.check(carve_mpi_test(request, &done), "MPI_Isend(arrival notice)")
            return done == 0
        }
        for destination in 0..<worldSize where destination != rank {
            var request: OpaquePointer?
            try Self.check(carve_mpi_notice_send(Int64(number), Int32(destination), &request), "MPI_Isend(arrival notice)")
            if let request { pendingNotices.append(request) }
        }
    }

    private static func sleep(_ seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    public func abort(code: Int32) -> Never {
        FileHandle.standardError.synchronizeFile()
        _ = carve_mpi_abort(code)
        exit(code)  // MPI_Abort does not return; this only satisfies the type checker.
    }

    private static func check(_ code: Int32, _ operation: String) throws {
        guard code != 0 else { return }
        var buffer = [CChar](repeating: 0, count: 512)
        carve_mpi_error_string(code, &buffer, buffer.count)
        throw CommunicatorError(operation: operation, message: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
