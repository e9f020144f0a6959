@testable import Carve
import Foundation
import Testing

/// Run folders a user can trust (issue 16): resume from the folder alone, refused trajectory
/// changes, no reuse of a folder that holds a run, and the lock (Note [Run folder lock]).
@Suite(.serialized) struct RunFolderTests {
    static func folder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("carve-\(name)-\(UUID().uuidString)")
    }

    static func train(_ request: TrainRequest) throws -> RunSummary {
        let (config, options) = try request.resolve()
        return try Trainer(config: config, options: options, communicator: LocalCommunicator()).train()
    }

    static func checkpoint(_ run: URL, step: Int) throws -> Checkpoint {
        try Checkpoint.load(from: run.appendingPathComponent("checkpoints/" + RunFolder.stepName(step, ext: "safetensors")))
    }

    @Test func resumeNeedsOnlyTheRunFolderAndContinuesBitwise() throws {
        let a = Self.folder("resume"), b = Self.folder("straight")
        defer { for u in [a, b] { try? FileManager.default.removeItem(at: u) } }
        _ = try Self.train(TrainRequest(preset: "tiny", runDirectory: a.path, steps: 6, sets: ["lambda_area=500"], quiet: true))
        // Nothing but the folder and the new end: the preset, the --set and the data come from config.json.
        let resumed = try Self.train(TrainRequest(runDirectory: a.path, resume: true, steps: 12, quiet: true))
        #expect(resumed.firstStep == 6 && resumed.lastStep == 12)
        _ = try Self.train(TrainRequest(preset: "tiny", runDirectory: b.path, steps: 12, sets: ["lambda_area=500"], quiet: true))
        let x = try Self.checkpoint(a, step: 12), y = try Self.checkpoint(b, step: 12)
        #expect(x.tensors.map(\.values) == y.tensors.map(\.values), "resumed run differs from the uninterrupted one")
        let record = try RunRecord.read(from: RunFolder(url: a).configURL)
        #expect(record.config.lambdaArea == 500 && record.config.steps == 12 && record.worldSize == 1)
    }

    @Test func aChangedFlagOnResumeIsRefusedUnlessOverriddenAndThenLogged() throws {
        let run = Self.folder("change")
        defer { try? FileManager.default.removeItem(at: run) }
        _ = try Self.train(TrainRequest(preset: "tiny", runDirectory: run.path, steps: 4, quiet: true))
        let config = try Data(contentsOf: RunFolder(url: run).configURL)
        let refused = TrainRequest(runDirectory: run.path, resume: true, steps: 8, sets: ["lambda_area=5"], quiet: true)
        #expect {
            _ = try refused.resolve()
        } throws: { error in
            let text = error.localizedDescription
            return text.contains("lambda_area 1000") && text.contains("→ 5") && text.contains("--override")
        }
        #expect(throws: ConfigurationError.self) {
            _ = try TrainRequest(data: "/elsewhere", runDirectory: run.path, resume: true, quiet: true).resolve()
        }
        #expect(try Data(contentsOf: RunFolder(url: run).configURL) == config, "a refused resume must not touch config.json")
        var overridden = refused
        overridden.override = true
        let summary = try Self.train(overridden)
        #expect(summary.lastStep == 8)
        let log = try String(contentsOf: run.appendingPathComponent("changes.log"), encoding: .utf8)
        #expect(log.contains("resume: lambda_area 1000 → 5"), "\(log)")
    }

    @Test func aNewRunIntoAFolderHoldingARunIsRefusedAndChangesNothing() throws {
        let run = Self.folder("reuse")
        defer { try? FileManager.default.removeItem(at: run) }
        _ = try Self.train(TrainRequest(preset: "tiny", runDirectory: run.path, steps: 2, quiet: true))
        let before = try FileManager.default.contentsOfDirectory(atPath: run.path).sorted()
        let metrics = try Data(contentsOf: RunFolder(url: run).metricsURL)
        #expect {
            _ = try Self.train(TrainRequest(preset: "tiny", runDirectory: run.path, steps: 2, quiet: true))
        } throws: { error in error.localizedDescription.contains("--resume") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted() == before)
        #expect(try Data(contentsOf: RunFolder(url: run).metricsURL) == metrics)
    }

    @Test func aFailedStartLeavesNoFolderBehind() throws {
        let run = Self.folder("nodata")
        #expect(throws: (any Error).self) {
            _ = try Self.train(TrainRequest(preset: "tiny", data: "/nonexistent/photo.png", runDirectory: run.path, steps: 2, quiet: true))
        }
        #expect(!FileManager.default.fileExists(atPath: run.path))
    }

    @Test func aLiveLockKeepsASecondRunOutAndAStaleOneIsBroken() throws {
        let run = Self.folder("lock")
        defer { try? FileManager.default.removeItem(at: run) }
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let lock = run.appendingPathComponent(".lock")
        // This test process is alive: its own pid and start time hold the folder.
        let me = getpid()
        try "\(RunLock.hostName()) \(me) \(RunLock.startTime(of: me)!)\n".write(to: lock, atomically: true, encoding: .utf8)
        #expect {
            _ = try Self.train(TrainRequest(preset: "tiny", runDirectory: run.path, steps: 2, quiet: true))
        } throws: { error in error.localizedDescription.contains("in use by another run (pid \(me))") }
        #expect(!FileManager.default.fileExists(atPath: RunFolder(url: run).configURL.path))
        // The same pid with another start time is a process that is gone (a reused pid): broken.
        try "\(RunLock.hostName()) \(me) 1\n".write(to: lock, atomically: true, encoding: .utf8)
        let summary = try Self.train(TrainRequest(preset: "tiny", runDirectory: run.path, steps: 2, quiet: true))
        #expect(summary.lastStep == 2)
        #expect(!FileManager.default.fileExists(atPath: lock.path), "the run must give its lock back")
        // Another host's lock is never broken automatically.
        try "other-host 12345 678\n".write(to: lock, atomically: true, encoding: .utf8)
        #expect {
            _ = try Self.train(TrainRequest(runDirectory: run.path, resume: true, steps: 4, quiet: true))
        } throws: { error in error.localizedDescription.contains("other-host") }
    }

    @Test func aConfigFileRepeatsARunAndFlagsOverrideIt() throws {
        let run = Self.folder("source")
        defer { try? FileManager.default.removeItem(at: run) }
        _ = try Self.train(TrainRequest(preset: "tiny", runDirectory: run.path, steps: 2, sets: ["layers=3"], quiet: true))
        let file = RunFolder(url: run).configURL.path
        let (config, options) = try TrainRequest(configFile: file, runDirectory: run.path + "-again", steps: 5, quiet: true).resolve()
        #expect(config.layers == 3 && config.steps == 5 && config.preset == "tiny")
        #expect(options.dataPath == nil)
        let (fresh, freshOptions) = try TrainRequest(preset: "tiny", quiet: true).resolve()
        #expect(fresh.preset == "tiny" && freshOptions.runDirectory.path.contains("runs/tiny/version_"))
    }
}
