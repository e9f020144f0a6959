import DDP
import Foundation
import Tensor
import Testing

/// The watchdog's policy without MPI (Note [Collective watchdog]); launch/test-mpi.sh checks it
/// under mpirun (mpi-tests --absent-ranks, and a SIGSTOPped rank of `carve train`).
@Suite struct CollectiveWatchdogTests {
    /// One wait simulated poll by poll: `waited` advances by each sleep (1 µs for an MPI_Test
    /// without sleeping), until a report or `limit` seconds.
    struct Trace {
        var sleeps: [(waited: Double, sleep: Double)] = []
        var announcedAt: [Double] = []
        var report: (waited: Double, missing: [Int])?
    }

    static func simulate(_ watch: CollectiveWatchdog, arrivals: [Int], limit: Double = 10_000) -> Trace {
        var watch = watch, trace = Trace(), waited = 0.0
        while waited < limit {
            switch watch.next(waited: waited, arrivals: arrivals) {
            case .poll(let sleep):
                trace.sleeps.append((waited, sleep))
                waited += max(sleep, 1e-6)
            case .announce:
                trace.announcedAt.append(waited)
            case .report(let missing):
                trace.report = (waited, missing)
                return trace
            }
        }
        return trace
    }

    @Test func sleepsGrowFromSpinningToOneMillisecondThenTenAfterASecond() {
        let trace = Self.simulate(CollectiveWatchdog(collective: 3, timeout: 60, rank: 0, worldSize: 2), arrivals: [-1, 2])
        // The first 200 µs: MPI_Test without sleeping, as a blocking collective would.
        #expect(trace.sleeps.filter { $0.waited < 200e-6 }.allSatisfy { $0.sleep == 0 })
        #expect(trace.sleeps.filter { $0.waited >= 200e-6 }.allSatisfy { $0.sleep > 0 })
        let firstSecond = trace.sleeps.filter { $0.waited < 1 }.map(\.sleep)
        #expect(firstSecond.max() == 1e-3)
        let later = trace.sleeps.filter { $0.waited >= 1 }.map(\.sleep)
        #expect(later.max() == 10e-3)
        // Waiting a minute costs a few thousand polls, not the millions of a spinning wait.
        #expect(trace.sleeps.count < 10_000, "\(trace.sleeps.count) polls")
        // Growth is geometric: from 20 µs to 1 ms in ten polls (1.5^10 ≈ 58).
        let sleeping = trace.sleeps.filter { $0.sleep > 0 }.map(\.sleep)
        #expect(sleeping.first == 20e-6 && sleeping[10] == 1e-3)
    }

    @Test func announcesOnceAndReportsTheRanksItHeardNothingOfAfterTheGrace() throws {
        let watch = CollectiveWatchdog(collective: 5, timeout: 60, rank: 1, worldSize: 4)
        #expect(watch.announceAfter == 1 && watch.grace == 1.5)
        // Rank 0 is past collective 5 (a broadcast root that left early), rank 2 arrived, rank 3
        // last announced collective 4: only rank 3 did not arrive.
        let trace = Self.simulate(watch, arrivals: [6, -1, 5, 4])
        #expect(trace.announcedAt.count == 1)
        #expect(try #require(trace.announcedAt.first) >= 1 && trace.announcedAt[0] < 1.01)
        let report = try #require(trace.report)
        // Rank 0 arrived and is lower, so rank 1 defers once by another timeout + grace.
        #expect(report.missing == [3])
        #expect(report.waited >= 2 * (60 + 1.5) && report.waited < 2 * (60 + 1.5) + 0.011)
    }

    @Test func theLowestArrivedRankReportsWithoutDeferring() throws {
        let trace = Self.simulate(CollectiveWatchdog(collective: 2, timeout: 5, rank: 1, worldSize: 3), arrivals: [1, -1, 2])
        let report = try #require(trace.report)
        #expect(report.missing == [0])
        // timeout/4 = 1.25 s caps at 1 s: grace 1.5 s; polls are ≤ 10 ms apart by then.
        #expect(report.waited >= 6.5 && report.waited < 6.511)
    }

    @Test func shortTimeoutsAnnounceSooner() {
        let watch = CollectiveWatchdog(collective: 1, timeout: 1, rank: 0, worldSize: 2)
        #expect(watch.announceAfter == 0.25 && watch.grace == 0.75)
    }

    @Test func everyRankArrivedButTheCollectiveHungIsReportedWithNoRankMissing() throws {
        let trace = Self.simulate(CollectiveWatchdog(collective: 9, timeout: 2, rank: 0, worldSize: 3), arrivals: [-1, 9, 9])
        #expect(try #require(trace.report).missing == [])
    }

    @Test func timeThisRankWasStoppedIsNotCountedAsWaiting() {
        // Polls 10 ms apart from clock reading 100 s, then a 30 s gap (SIGSTOP, SIGCONT), then
        // polls again: the gap is not waiting, so a rank with a 5 s timeout resumed after 30 s
        // polls on instead of reporting the others (Note [Collective watchdog]).
        var watch = CollectiveWatchdog(collective: 4, timeout: 5, rank: 0, worldSize: 2, startedAt: 100)
        var now = 100.0
        for _ in 0..<100 { now += 0.01; _ = watch.waited(at: now) }
        #expect(abs(watch.waited(at: now) - 1) < 1e-9)
        now += 30
        let resumed = watch.waited(at: now)
        #expect(abs(resumed - 1) < 1e-9)
        var w = watch
        #expect(w.next(waited: resumed, arrivals: [4, 4]) != .report(missing: []))
        // A gap of up to `stoppedGap` is waiting (a loaded machine's late poll), and the clock
        // running on counts again: the rank reports once it has *waited* past timeout + grace.
        now += CollectiveWatchdog.stoppedGap
        #expect(abs(watch.waited(at: now) - 1 - CollectiveWatchdog.stoppedGap) < 1e-9)
        var last = watch.waited(at: now), action = CollectiveWatchdog.Action.poll(sleep: 0)
        while last <= watch.timeout + watch.grace + 0.1 {
            now += 0.01
            last = watch.waited(at: now)
            action = watch.next(waited: last, arrivals: [4, 3])
            if case .report = action { break }
        }
        #expect(action == .report(missing: [1]))
        #expect(last >= watch.timeout + watch.grace && now - 100 >= 30 + watch.timeout + watch.grace)
    }

    @Test func aTimeoutOfZeroNeverAnnouncesOrReports() {
        let trace = Self.simulate(CollectiveWatchdog(collective: 1, timeout: 0, rank: 0, worldSize: 2), arrivals: [-1, -1],
                                  limit: 100)
        #expect(trace.report == nil && trace.announcedAt.isEmpty)
    }

    @Test func theFirstCollectiveWaitsLonger() {
        #expect(CollectiveWatchdog.timeout(60, collective: 0) == 600)
        #expect(CollectiveWatchdog.timeout(60, collective: 1) == 60)
        #expect(CollectiveWatchdog.timeout(0, collective: 0) == 0)
    }

    @Test func theMessageIsOneLineNamingStepCollectiveAndRanks() {
        let one = CollectiveTimeoutError(step: 12, collective: "allreduce (gradients of D, 5 floats)", waited: 61.4,
                                         timeout: 60, missing: [1])
        #expect(one.localizedDescription
            == "step 12: allreduce (gradients of D, 5 floats) waited 61 s for rank 1 (timeout 60 s); aborting the job")
        let two = CollectiveTimeoutError(step: nil, collective: "barrier", waited: 6.52, timeout: 5, missing: [1, 3])
        #expect(two.localizedDescription == "barrier waited 6.5 s for ranks 1, 3 (timeout 5 s); aborting the job")
        let none = CollectiveTimeoutError(step: 0, collective: "allgather (8 bytes)", waited: 3, timeout: 1, missing: [])
        #expect(none.localizedDescription.hasPrefix("step 0: allgather (8 bytes) waited 3 s though every rank arrived"))
        #expect(!one.localizedDescription.contains("\n") && !none.localizedDescription.contains("\n"))
    }

    @Test func ddpNamesItsCollectivesAndTimedCommunicatorForwardsTheContext() throws {
        let recorder = RecordingCommunicator()
        let timed = TimedCommunicator(recorder)
        timed.collectiveTimeout = 7
        timed.context.step = 4
        #expect(recorder.collectiveTimeout == 7 && recorder.context.step == 4)
        let p = Tensor(shape: [3], values: [1, 2, 3])
        let ddp = DistributedDataParallel(parameters: [("w", p)], communicator: timed, name: "D")
        try ddp.allReduceGradients()
        try ddp.broadcastParameters()
        try timed.verifyAgreement([("configuration", 1)])
        var unnamed: [Double] = [1]
        try timed.allReduce(&unnamed, op: .sum)
        #expect(recorder.purposes == ["gradients of D", "parameters and buffers of D", "agreement on the configuration", nil])
        #expect(recorder.context == CollectiveContext(step: 4, purpose: nil))
    }
}

/// A two-rank communicator whose collectives do nothing but record the purpose they were given.
final class RecordingCommunicator: Communicator, @unchecked Sendable {
    var purposes: [String?] = []
    var collectiveTimeout = 0.0
    var context = CollectiveContext()
    var rank: Int { 0 }
    var worldSize: Int { 2 }
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, op: ReduceOp) throws { purposes.append(context.purpose) }
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, op: ReduceOp) throws { purposes.append(context.purpose) }
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Int64>, op: ReduceOp) throws { purposes.append(context.purpose) }
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws { purposes.append(context.purpose) }
    func allGather(_ send: UnsafeRawBufferPointer) throws -> [UInt8] {
        purposes.append(context.purpose)
        return Array(send) + Array(send)
    }
    func barrier() throws { purposes.append(context.purpose) }
    func abort(code: Int32) -> Never { exit(code) }
}
