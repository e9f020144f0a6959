@testable import Carve
import Foundation
import Testing

/// `Trainer` end to end at `tiny` size: the run folder, checkpoints, resume (issue 6).
@Suite(.serialized) struct TrainerTests {
    static func temporaryFolder(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("carve-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func train(_ run: URL, steps: Int, resume: Bool = false, set: [String] = []) throws -> RunSummary {
        var config = try Presets.named("tiny")
        config.steps = steps
        config = try config.applying(set)
        let options = TrainOptions(runDirectory: run, resume: resume, quiet: true)
        return try Trainer(config: config, options: options, communicator: LocalCommunicator()).train()
    }

    @Test func aTinyRunWritesConfigMetricsCheckpointsAndPanels() throws {
        let run = Self.temporaryFolder("run")
        defer { try? FileManager.default.removeItem(at: run) }
        let summary = try Self.train(run, steps: 10, set: ["eval_every=10", "checkpoint_every=5"])
        #expect(summary.lastStep == 10)
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: run.appendingPathComponent("config.json").path))
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == 2)  // log_every = 5
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["step"] as? Int == 5 && first["loss_d"] is Double)
        let latest = try String(contentsOf: run.appendingPathComponent("checkpoints/latest"), encoding: .utf8)
        #expect(latest.trimmingCharacters(in: .whitespacesAndNewlines) == "step-00000010.safetensors")
        #expect(fm.fileExists(atPath: run.appendingPathComponent("checkpoints/step-00000005.safetensors").path))
        #expect(fm.fileExists(atPath: run.appendingPathComponent("samples/step-00000010.png").path))
        let eval = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("eval/step-00000010.json"))) as! [String: Any]
        #expect(eval["mask_area_mean"] is Double && eval["single_component_rate"] is Double)
        let checkpoint = try Checkpoint.load(from: run.appendingPathComponent("checkpoints/step-00000010.safetensors"))
        #expect(checkpoint.step == 10 && checkpoint.preset == "tiny" && checkpoint.worldSize == 1)
        #expect(checkpoint.tensors.contains { $0.name == "G/fc.weight" })
        #expect(checkpoint.tensors.contains { $0.name == "opt/D/m/conv1.weight" })
        #expect(checkpoint.tensors.contains { $0.name == "G/bn0.running_mean" })
    }

    @Test func aResumedRunContinuesBitwiseLikeAnUninterruptedOne() throws {
        let straight = Self.temporaryFolder("straight"), split = Self.temporaryFolder("split")
        defer {
            try? FileManager.default.removeItem(at: straight)
            try? FileManager.default.removeItem(at: split)
        }
        _ = try Self.train(straight, steps: 12, set: ["checkpoint_every=6"])
        _ = try Self.train(split, steps: 6, set: ["checkpoint_every=6"])
        let resumed = try Self.train(split, steps: 12, resume: true, set: ["checkpoint_every=6"])
        #expect(resumed.firstStep == 6 && resumed.lastStep == 12)
        let a = try Checkpoint.load(from: straight.appendingPathComponent("checkpoints/step-00000012.safetensors"))
        let b = try Checkpoint.load(from: split.appendingPathComponent("checkpoints/step-00000012.safetensors"))
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.values == y.values, "tensor \(x.name) differs after resume")
        }
    }

    @Test func resumingWithoutACheckpointIsAClearError() throws {
        let run = Self.temporaryFolder("empty")
        defer { try? FileManager.default.removeItem(at: run) }
        #expect(throws: (any Error).self) { _ = try Self.train(run, steps: 2, resume: true) }
    }

    @Test func unknownOverridesNameTheKey() throws {
        let config = try Presets.named("tiny")
        #expect(throws: ConfigurationError.self) { _ = try config.applying(["no_such_key=1"]) }
        #expect(throws: ConfigurationError.self) { _ = try config.applying(["layers=two"]) }
        let changed = try config.applying(["layers=3", "g_channels=4,4,4,4,4", "sync_bn=false", "lambda_area=10"])
        #expect(changed.layers == 3 && changed.gChannels == [4, 4, 4, 4, 4] && !changed.syncBN && changed.lambdaArea == 10)
    }
}
