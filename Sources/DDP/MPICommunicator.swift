import Foundation
import MPIShim

/// The processes of an `mpirun`/`srun` job (MPI_COMM_WORLD), through MPIShim.
///
/// Created once per process by `initialize()` (MPI_Init_thread with FUNNELED: only the thread
/// that initialised MPI calls it). Every MPI failure becomes a `CommunicatorError` carrying MPI's
/// message; `abort` ends every rank of the job.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int

    private init(rank: Int, worldSize: Int) {
        self.rank = rank
        self.worldSize = worldSize
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
        try Self.check(carve_mpi_allreduce_sum_float(base, buffer.count), "MPI_Allreduce(float)")
        if op == .mean {
            let scale = 1 / Float(worldSize)
            for i in 0..<buffer.count { base[i] *= scale }
        }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, op: ReduceOp) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        precondition(op != .max, "allReduce: max is for integers only")
        try Self.check(carve_mpi_allreduce_sum_double(base, buffer.count), "MPI_Allreduce(double)")
        if op == .mean {
            let scale = 1 / Double(worldSize)
            for i in 0..<buffer.count { base[i] *= scale }
        }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int64>, op: ReduceOp) throws {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        switch op {
        case .sum: try Self.check(carve_mpi_allreduce_sum_int64(base, buffer.count), "MPI_Allreduce(int64)")
        case .max: try Self.check(carve_mpi_allreduce_max_int64(base, buffer.count), "MPI_Allreduce(int64 max)")
        case .mean: preconditionFailure("allReduce: mean of integers is not defined")
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        precondition((0..<worldSize).contains(root), "broadcast: root \(root) outside 0..<\(worldSize)")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        try Self.check(carve_mpi_broadcast_bytes(base, buffer.count, Int32(root)), "MPI_Bcast")
    }

    public func allGather(_ send: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: send.count * worldSize)
        guard send.count > 0 else { return out }
        try out.withUnsafeMutableBytes { receive in
            try Self.check(carve_mpi_allgather_bytes(send.baseAddress, receive.baseAddress, send.count),
                           "MPI_Allgather")
        }
        return out
    }

    public func barrier() throws { try Self.check(carve_mpi_barrier(), "MPI_Barrier") }

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
