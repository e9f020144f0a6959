import Foundation

/// A communicator that forwards every collective to another and adds up the seconds spent in them.
///
/// The trainer wraps its communicator in one so that `metrics.jsonl` can show the communication
/// share of a step (`comm_seconds`: gradient allreduces, synchronized BatchNorm statistics, the
/// metric and stop-flag allreduces). The time of a collective includes waiting for the slowest
/// rank to arrive, so on a loaded machine it measures imbalance as well as transfer; with
/// `barrierFirst` every collective is preceded by a barrier whose time goes to `waiting`, which
/// separates the two (a diagnostic: it adds one barrier per collective).
///
/// ```swift
/// let timed = TimedCommunicator(try communicatorFromEnvironment())
/// try timed.allReduce(&gradients, op: .mean)
/// print(timed.seconds.total, timed.seconds.float)
/// ```
public final class TimedCommunicator: Communicator, @unchecked Sendable {
    /// Cumulative seconds in collectives since creation, by kind.
    public struct Seconds: Sendable {
        /// Float allreduces (the fused gradient buckets).
        public var float = 0.0
        /// Double allreduces (BatchNorm statistics, step metrics).
        public var double = 0.0
        /// Everything else: integer allreduces, broadcasts, gathers, barriers.
        public var other = 0.0
        /// With `barrierFirst`: the barriers before the collectives (waiting for the slowest rank).
        public var waiting = 0.0
        /// Collectives called.
        public var calls = 0
        /// Seconds in collectives, waiting included.
        public var total: Double { float + double + other + waiting }
    }

    public let base: any Communicator
    /// Only the thread that runs the training loop calls collectives, so plain fields suffice.
    public private(set) var seconds = Seconds()
    /// Precede every collective by a timed barrier (see above).
    public var barrierFirst = false

    public init(_ base: any Communicator) { self.base = base }

    public var rank: Int { base.rank }
    public var worldSize: Int { base.worldSize }
    public var collectiveTimeout: Double {
        get { base.collectiveTimeout }
        set { base.collectiveTimeout = newValue }
    }
    public var context: CollectiveContext {
        get { base.context }
        set { base.context = newValue }
    }

    @inline(__always) private func timed<T>(_ kind: WritableKeyPath<Seconds, Double>, _ body: () throws -> T) throws -> T {
        seconds.calls += 1
        if barrierFirst {
            let start = DispatchTime.now().uptimeNanoseconds
            // A failing barrier shows again in the collective itself; a timed-out one cannot.
            do { try base.barrier() } catch let error as CollectiveTimeoutError { throw error } catch {}
            seconds.waiting += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds[keyPath: kind] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, op: ReduceOp) throws {
        try timed(\.float) { try base.allReduce(buffer, op: op) }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, op: ReduceOp) throws {
        try timed(\.double) { try base.allReduce(buffer, op: op) }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int64>, op: ReduceOp) throws {
        try timed(\.other) { try base.allReduce(buffer, op: op) }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try timed(\.other) { try base.broadcast(buffer, root: root) }
    }

    public func allGather(_ send: UnsafeRawBufferPointer) throws -> [UInt8] {
        try timed(\.other) { try base.allGather(send) }
    }

    public func barrier() throws { try timed(\.other) { try base.barrier() } }

    public func abort(code: Int32) -> Never { base.abort(code: code) }

    /// The `metrics.jsonl` fields for the collectives since `start` (an earlier `seconds`):
    /// comm_seconds (all, waiting included), comm_gradient_seconds (the float allreduces),
    /// comm_wait_seconds (with `barrierFirst`) and comm_calls.
    public func metrics(since start: Seconds) -> [String: Any] {
        ["comm_seconds": seconds.total - start.total, "comm_gradient_seconds": seconds.float - start.float,
         "comm_wait_seconds": seconds.waiting - start.waiting, "comm_calls": seconds.calls - start.calls]
    }
}
