import Foundation

/// A group of processes that train one model together: rank `0..<worldSize`, collectives in place.
///
/// Every rank calls the same collectives in the same order with the same counts (as in PyTorch's
/// `ProcessGroup`). `LocalCommunicator` is the one-process group (collectives are no-ops);
/// `MPICommunicator` spans the processes started by `mpirun` or `srun`.
///
/// ```swift
/// let comm = try Communicator.fromEnvironment()
/// try comm.allReduce(&gradients, op: .mean)
/// if comm.rank == 0 { try checkpoint.write(to: url) }
/// ```
public protocol Communicator: AnyObject, Sendable {
    /// This process's index in `0..<worldSize`.
    var rank: Int { get }
    /// The number of processes in the group.
    var worldSize: Int { get }
    /// Sums (or averages) `buffer` element-wise over all ranks, in place on every rank.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, op: ReduceOp) throws
    /// Sums `buffer` element-wise over all ranks in Double, in place (BatchNorm statistics).
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, op: ReduceOp) throws
    /// Sums (or takes the maximum of) `buffer` element-wise over all ranks, in place.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Int64>, op: ReduceOp) throws
    /// Copies `root`'s bytes into `buffer` on every rank.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Concatenates every rank's `send` bytes in rank order (each rank sends the same count).
    func allGather(_ send: UnsafeRawBufferPointer) throws -> [UInt8]
    /// Waits until every rank has arrived.
    func barrier() throws
    /// Ends the whole job with `code`; under MPI no rank is left waiting.
    func abort(code: Int32) -> Never
    /// Seconds a rank may wait in one collective before it ends the job with
    /// `CollectiveTimeoutError`; 0 waits forever (Note [Collective watchdog]). No effect on one process.
    var collectiveTimeout: Double { get set }
    /// The step and purpose that the watchdog's message names for the next collectives.
    var context: CollectiveContext { get set }
}

/// The element-wise reduction of an all-reduce.
public enum ReduceOp: Sendable {
    case sum
    /// The sum divided by the world size.
    case mean
    /// The maximum (integers only).
    case max
}

/// An MPI call that failed, with MPI's own message.
public struct CommunicatorError: LocalizedError, Equatable {
    public let operation: String
    public let message: String
    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }
    public var errorDescription: String? { "MPI \(operation) failed: \(message)" }
}

// MARK: - Conveniences shared by every communicator

extension Communicator {
    /// All-reduces a Swift array in place.
    public func allReduce(_ values: inout [Float], op: ReduceOp) throws {
        try values.withUnsafeMutableBufferPointer { try allReduce($0, op: op) }
    }

    public func allReduce(_ values: inout [Double], op: ReduceOp) throws {
        try values.withUnsafeMutableBufferPointer { try allReduce($0, op: op) }
    }

    public func allReduce(_ values: inout [Int64], op: ReduceOp) throws {
        try values.withUnsafeMutableBufferPointer { try allReduce($0, op: op) }
    }

    /// Broadcasts a float array from `root` (every rank passes an array of the same count).
    public func broadcast(_ values: inout [Float], root: Int) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Broadcasts `root`'s bytes of any length: the length goes first, then the bytes.
    public func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] {
        var count: [Int64] = [Int64(bytes.count)]
        try count.withUnsafeMutableBytes { try broadcast($0, root: root) }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count[0]))
        try out.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return out
    }

    /// Runs `body` with `purpose` naming its collectives in the watchdog's message.
    public func withPurpose<T>(_ purpose: String, _ body: () throws -> T) rethrows -> T {
        let outer = context.purpose
        context.purpose = purpose
        defer { context.purpose = outer }
        return try body()
    }

    /// Gathers one Int64 per rank, in rank order.
    public func allGather(_ value: Int64) throws -> [Int64] {
        var v = value
        let bytes = try withUnsafeBytes(of: &v) { try allGather($0) }
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
    }
}

// MARK: - Choosing a communicator

/// Where `Communicator.fromEnvironment()` looks to tell whether `mpirun` or `srun` started us.
public enum LaunchEnvironment {
    /// Variables set by Open MPI's mpirun, PMI/PMIx launchers, MPICH's Hydra and Slurm's srun.
    public static let mpiVariables = [
        "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
        "MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS",
    ]

    /// True when the process was started by an MPI launcher (so MPI_Init is expected).
    public static func startedByMPILauncher(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> Bool
    {
        // srun sets SLURM_STEP_NUM_TASKS for every step; a plain `srun carve` (one task) still
        // works with MPI, but one task needs nothing from it.
        if let tasks = environment["SLURM_STEP_NUM_TASKS"], let n = Int(tasks) {
            return n > 1 || environment["PMIX_RANK"] != nil || environment["PMI_RANK"] != nil
        }
        return mpiVariables.contains { environment[$0] != nil }
    }
}

/// Picks the communicator for this process: MPI when started by mpirun or srun, else local.
public func communicatorFromEnvironment() throws -> any Communicator {
    if LaunchEnvironment.startedByMPILauncher() {
        return try MPICommunicator.initialize()
    }
    return LocalCommunicator()
}

extension Communicator where Self == LocalCommunicator {
    /// `Communicator.fromEnvironment()`: MPI when started by mpirun or srun, else local.
    public static func fromEnvironment() throws -> any Communicator { try communicatorFromEnvironment() }
}
