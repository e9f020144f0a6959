// The collective watchdog: how long a rank waits in one collective, how it waits without burning
// a core, how it learns which ranks never arrived, and the one line it ends the job with.
// MPICommunicator drives it with MPI calls; everything here is plain arithmetic, tested without MPI.
//
// Note [Collective watchdog]
// A collective ends only when every rank has called it. If one rank is stopped (SIGSTOP, a hung
// file system, a dead link), a blocking MPI_Allreduce on the others spins at 100 % CPU forever.
// So MPICommunicator starts every collective non-blocking (MPI_Iallreduce, MPI_Ibcast, ...) and
// polls it with MPI_Test, sleeping between polls (`CollectiveWatchdog.next`):
//
// - Back-off. The first 200 µs it polls without sleeping (a collective whose ranks arrive
//   together costs what it did); then it sleeps 20 µs, growing ×1.5 per poll to 1 ms, and to
//   10 ms once it has waited a second. A rank waiting for minutes uses well under 1 % of a core.
//   Open MPI progresses a non-blocking collective only inside MPI calls, so a transfer that is
//   under way can lose up to one sleep (≤ 1 ms in the first second) per round of its algorithm.
// - Timeout. After `timeout` seconds (the `collective_timeout` key, default 300 s) the rank ends
//   the job: MPICommunicator throws `CollectiveTimeoutError`, which Apps prints as one line
//   (`carve: rank 0: step 12: allreduce (gradients of D, 5 floats) waited 61 s for rank 1
//   (timeout 60 s); aborting the job`) before MPI_Abort. A collective still in flight cannot be
//   cancelled (MPI has no MPI_Cancel for collectives), so the error is fatal by design. The first
//   collective of a process gets `firstCollectiveFactor` × the timeout: before it, ranks load
//   their data, which may take long and not equally long. 0 turns the watchdog off: the blocking
//   MPI calls are used, as before the watchdog existed.
// - Who did not arrive: arrival notices. Collectives say nothing about who is missing, so every
//   rank numbers its collectives 0, 1, 2, … (the same on every rank: all ranks call the same
//   collectives in the same order). A rank that has waited `announceAfter` (min(1 s, timeout/4))
//   in collective #n sends the number n to every other rank (W − 1 eight-byte MPI_Isends on a
//   duplicate communicator, once per long wait, so nothing in the common case), and while it
//   polls it receives the others' notices (MPI_Iprobe). Rank r has arrived at #n when its latest
//   notice is ≥ n (a rank already past #n, such as a broadcast's root, announces a later number).
//   A rank that arrived before the deadline has announced by deadline + announceAfter, so the
//   rank decides after a grace of announceAfter + 0.5 s: the ranks it heard nothing of are the
//   ones that did not arrive. Alternatives we did not take: a barrier before every collective
//   (one more round trip per collective, and it still does not say who is missing); counters in
//   MPI one-sided windows (reading a stopped rank's window can itself hang over TCP).
// - One line. Every waiting rank times out at about the same moment; only the lowest-numbered
//   rank that arrived reports. A rank that has heard from a lower arrived rank defers once, by
//   another timeout + grace (that rank's report, which ends the job, is due before then), and
//   reports itself only if the job is still alive after that. When the network splits, notices
//   cannot cross either, so each side reports the other (launch/test-two-hosts.sh).
// - Only time this rank ran counts. A gap between two polls of more than `stoppedGap` (1 s, where
//   the sleeps are ≤ 10 ms) means this process itself was not running: stopped (SIGSTOP, a
//   debugger) or starved. It is not counted as waiting for the others: a stopped rank that Open MPI
//   continues (SIGCONT, then SIGTERM) while it ends the job would otherwise find itself past the
//   timeout at its first poll and print a second line blaming ranks that did arrive.
// A rank counted as missing can be one that left the collective early (a broadcast's root) and is
// computing, not yet waiting in the next collective; the timeout must exceed the longest work one
// rank does while the others wait (rank 0's evaluation and checkpoints).
import Foundation

/// What a rank is doing when it enters a collective, for the watchdog's message.
///
/// Set through `Communicator.context`: the trainer names the step, DDP names the purpose.
///
/// ```swift
/// comm.context.step = step
/// try comm.withPurpose("gradients of D") { try comm.allReduce(bucket, op: .mean) }
/// ```
public struct CollectiveContext: Sendable, Equatable {
    /// The training step the collectives belong to, when the caller has said.
    public var step: Int?
    /// What the collective is for, e.g. "gradients of D" or "BatchNorm statistics".
    public var purpose: String?

    public init(step: Int? = nil, purpose: String? = nil) {
        self.step = step
        self.purpose = purpose
    }
}

/// A collective that not every rank reached within the timeout. Fatal: the job must end.
public struct CollectiveTimeoutError: LocalizedError, Equatable {
    /// The step named by `CollectiveContext`, if any.
    public let step: Int?
    /// The collective with its purpose and size, e.g. "allreduce (gradients of D, 5 floats)".
    public let collective: String
    /// Seconds this rank waited.
    public let waited: Double
    /// The timeout it waited for (the first collective's longer one included).
    public let timeout: Double
    /// The ranks that did not arrive; empty when all arrived but the collective did not finish.
    public let missing: [Int]

    public init(step: Int?, collective: String, waited: Double, timeout: Double, missing: [Int]) {
        self.step = step
        self.collective = collective
        self.waited = waited
        self.timeout = timeout
        self.missing = missing
    }

    public var errorDescription: String? {
        let whom: String
        switch missing.count {
        case 0: whom = "though every rank arrived (a rank stopped or lost its link during the transfer)"
        case 1: whom = "for rank \(missing[0])"
        default: whom = "for ranks \(missing.map(String.init).joined(separator: ", "))"
        }
        let at = step.map { "step \($0): " } ?? ""
        return "\(at)\(collective) waited \(Self.seconds(waited)) \(whom) (timeout \(Self.seconds(timeout))); aborting the job"
    }

    /// "6.5 s" below 10 s, "61 s" above.
    static func seconds(_ s: Double) -> String {
        s < 10 ? String(format: "%.1f s", s).replacingOccurrences(of: ".0 s", with: " s") : String(format: "%.0f s", s)
    }
}

/// The decisions of one rank waiting in one collective (Note [Collective watchdog]).
///
/// Call `next` after every poll that found the collective unfinished, with the seconds waited so
/// far and the latest collective number each rank announced (−1: none).
///
/// ```swift
/// var watch = CollectiveWatchdog(collective: n, timeout: 60, rank: 0, worldSize: 2)
/// switch watch.next(waited: 0.5, arrivals: [-1, 6]) { case .poll(let s): sleep(s) ... }
/// ```
public struct CollectiveWatchdog: Sendable {
    /// The default of `collective_timeout`, in seconds.
    public static let defaultTimeout = 300.0
    /// The first collective of a process waits this many timeouts (ranks load data before it).
    public static let firstCollectiveFactor = 10.0
    /// Polls without sleeping for this long: a collective whose ranks arrive together costs what
    /// a blocking one does.
    static let spin = 200e-6
    /// The first sleep, its growth per poll, and its cap in the first second and after.
    static let firstSleep = 20e-6, growth = 1.5, shortCap = 1e-3, longCap = 10e-3
    /// A gap between polls longer than this is time this rank did not run (Note [Collective watchdog]).
    public static let stoppedGap = 1.0

    /// The timeout of collective number `collective` (the first one's is longer); 0 = none.
    public static func timeout(_ configured: Double, collective: Int) -> Double {
        collective == 0 ? configured * firstCollectiveFactor : configured
    }

    /// What the waiting rank does next.
    public enum Action: Equatable, Sendable {
        /// Poll again after sleeping this many seconds (0: at once).
        case poll(sleep: Double)
        /// Send this collective's number to every other rank, then poll again.
        case announce
        /// End the job: these ranks did not arrive.
        case report(missing: [Int])
    }

    public let collective: Int
    public let timeout: Double
    public let rank: Int
    public let worldSize: Int
    /// Seconds of waiting before this rank announces that it arrived.
    public let announceAfter: Double
    /// Seconds after the timeout before deciding: a rank that arrived by the timeout has been heard by then.
    public let grace: Double
    private var decideAt: Double
    private var announced = false
    private var deferred = false
    private var sleep = 0.0
    /// The clock reading (seconds) of the last poll, and the seconds waited up to it.
    private var lastPoll: Double, waitedSoFar = 0.0

    /// - Parameters:
    ///   - collective: this collective's number (0, 1, 2, … on every rank alike).
    ///   - timeout: seconds before the job ends (0: wait forever, never announce).
    ///   - startedAt: the clock reading (seconds) when the collective started, for `waited(at:)`.
    public init(collective: Int, timeout: Double, rank: Int, worldSize: Int, startedAt: Double = 0) {
        lastPoll = startedAt
        precondition(timeout >= 0, "CollectiveWatchdog: timeout \(timeout) is negative")
        self.collective = collective
        self.timeout = timeout
        self.rank = rank
        self.worldSize = worldSize
        announceAfter = timeout > 0 ? min(1, timeout / 4) : .infinity
        grace = announceAfter + 0.5
        decideAt = timeout > 0 ? timeout + grace : .infinity
    }

    /// The seconds waited in this collective at clock reading `now` (seconds, monotonic): the
    /// time since it started, less every gap between polls of more than `stoppedGap`.
    public mutating func waited(at now: Double) -> Double {
        let gap = now - lastPoll
        lastPoll = now
        if gap <= Self.stoppedGap { waitedSoFar += max(gap, 0) }
        return waitedSoFar
    }

    /// The next action after an unfinished poll, `waited` seconds into the collective, given the
    /// latest collective number each rank has announced (indexed by rank).
    public mutating func next(waited: Double, arrivals: [Int]) -> Action {
        precondition(arrivals.count == worldSize, "CollectiveWatchdog: \(arrivals.count) arrivals for \(worldSize) ranks")
        if !announced && waited >= announceAfter {
            announced = true
            return .announce
        }
        if waited >= decideAt {
            let lowerArrived = (0..<rank).contains { arrivals[$0] >= collective }
            if lowerArrived && !deferred {
                deferred = true
                decideAt += timeout + grace  // that rank reports before then (Note [Collective watchdog])
            } else {
                return .report(missing: (0..<worldSize).filter { $0 != rank && arrivals[$0] < collective })
            }
        }
        if waited < Self.spin { return .poll(sleep: 0) }
        sleep = min(max(Self.firstSleep, sleep * Self.growth), waited < 1 ? Self.shortCap : Self.longCap)
        return .poll(sleep: sleep)
    }
}
