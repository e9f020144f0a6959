import Foundation

/// The group of one process: rank 0 of 1; every collective leaves its buffer as it is.
///
/// What llm.c's `multi_gpu_config_init` gives you without MPI, as a type. Never calls MPI, so
/// `swift test` and a plain `carve train` run without `mpirun`.
public final class LocalCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, op: ReduceOp) throws {}
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, op: ReduceOp) throws {}
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int64>, op: ReduceOp) throws {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        precondition(root == 0, "broadcast: root \(root) outside a world of size 1")
    }
    public func allGather(_ send: UnsafeRawBufferPointer) throws -> [UInt8] { Array(send) }
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
    /// Always 0: one process never waits for another, so it has no watchdog to configure.
    public var collectiveTimeout: Double {
        get { 0 }
        set {}  // nothing to watch (and a stored property would end Sendable)
    }
    /// Always empty: no watchdog message will name it.
    public var context: CollectiveContext {
        get { CollectiveContext() }
        set {}
    }
}
