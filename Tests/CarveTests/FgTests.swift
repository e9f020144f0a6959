@testable import Carve
import Foundation
import Testing

/// The fg application at `tiny-fg` size: one adversarial step, one distillation step, a short
/// run through `Trainer`, the mask scores and `segment` (issues 5 and 7).
@Suite(.serialized) struct FgTests {
    static func temporaryFolder(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("carve-fg-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A small synth-fg folder (train/, heldout/, backgrounds/), written once per test process.
    static let data: URL = {
        let url = temporaryFolder("data")
        try! SynthFg.write(to: url.path, count: 24, seed: 5, sceneSize: 80)
        return url
    }()

    /// A fixed batch of 4 crops and background patches.
    static func batch(size: Int = 64) throws -> TrainingBatch {
        let train = try FgDataset.load(folder: data.appendingPathComponent("train").path, size: size)
        let pool = try BackgroundPool.load(folder: data.appendingPathComponent("backgrounds").path, size: size)
        let samples = [0, 1, 2, 3]
        let images = Tensor(shape: [4, 3, size, size]) { train.fillImages($0, indices: samples) }
        let background = Tensor(shape: [4, 3, size, size]) { pool.fill($0, seed: 1, step: 0, samples: samples) }
        return TrainingBatch(images: images, background: background, samples: samples)
    }

    @Test func theGeneratorCompositesTheCarvedImageOverTheBackground() throws {
        let gan = FgGAN(config: try Presets.named("tiny-fg"), communicator: LocalCommunicator())
        let batch = try Self.batch()
        let g = Autodiff.withoutRecording {
            gan.generate(images: batch.images, background: batch.background, samples: batch.samples, step: 0)
        }
        #expect(g.instances.shape == [4, 4, 64, 64] && g.composite.shape == [4, 3, 64, 64])
        // x_g = x·m + bg·(1 − m) at a few pixels.
        for i in [0, 1000, 3 * 64 * 64 + 77, 4 * 3 * 64 * 64 - 1] {
            let n = i / (3 * 4096), p = i % 4096
            let m = g.masks.data[n * 4096 + p]
            let expected = batch.images.data[i] * m + batch.background.data[i] * (1 - m)
            #expect(abs(g.composite.data[i] - expected) < 1e-5)
        }
    }

    @Test func oneStepLowersTheDiscriminatorLossOnAFixedBatchAndMovesMasksTowardTheTarget() throws {
        var config = try Presets.named("tiny-fg")
        config.areaTarget = 0.1  // sigmoid outputs start near 0.5: far above the target
        config.lambdaArea = 10
        config.lrD = 2e-3
        config.lrG = 2e-3
        let gan = FgGAN(config: config, communicator: LocalCommunicator())
        let batch = try Self.batch()

        func discriminatorLoss() -> Float {
            Autodiff.withoutRecording {
                let g = gan.generate(images: batch.images, background: batch.background, samples: batch.samples, step: 0)
                return GANLoss.discriminator(realLogits: gan.discriminator(batch.images),
                                             fakeLogits: gan.discriminator(g.composite)).item
            }
        }
        func meanArea() -> Float {
            Autodiff.withoutRecording { gan.teacher(batch.images).mean().item }
        }
        let lossBefore = discriminatorLoss()
        let areaBefore = meanArea()
        let metrics = try gan.trainStep(batch, step: 0)
        #expect(metrics["loss_d"]!.isFinite && metrics["loss_g"]!.isFinite)
        let lossAfter = discriminatorLoss()
        let areaAfter = meanArea()
        #expect(lossAfter < lossBefore, "L_D \(lossBefore) → \(lossAfter)")
        #expect(abs(areaAfter - 0.1) < abs(areaBefore - 0.1), "mask area \(areaBefore) → \(areaAfter)")
    }

    @Test func oneDistillationStepLowersTheSmoothL1OnAFixedBatch() throws {
        var config = try Presets.named("tiny-fg")
        config.lrG = 2e-3
        let gan = FgGAN(config: config, communicator: LocalCommunicator())
        let batch = try Self.batch()
        let (input, target) = gan.distillationPair(batch, step: 0)
        func loss() -> Float {
            gan.student.train(true)
            return Autodiff.withoutRecording { gan.student(input).smoothL1(target).item }
        }
        let teacherBefore = gan.teacher.parameters.map(\.array)
        let before = loss()
        let metrics = try gan.distillStep(batch, step: 0)
        #expect(metrics["loss_distill"]!.isFinite)
        let after = loss()
        #expect(after < before, "smooth L1 \(before) → \(after)")
        #expect(gan.teacher.parameters.map(\.array) == teacherBefore, "the teacher must stay frozen")
    }

    @Test func distillationFlipsInputAndTargetTogether() throws {
        let x = Tensor(shape: [2, 1, 1, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(FgGAN.flipping(x, where: [true, false]).array == [3, 2, 1, 4, 5, 6])
        let gan = FgGAN(config: try Presets.named("tiny-fg"), communicator: LocalCommunicator())
        let batch = try Self.batch()
        let (input, target) = gan.distillationPair(batch, step: 3)
        let t = FgGAN.masks(of: gan.teacher, images: batch.images)
        let composite = Composition.composite(background: batch.background, layers: [(batch.images, t)])
        let mirroredComposite = FgGAN.flipping(composite, where: [true, true, true, true])
        let mirroredTarget = FgGAN.flipping(t, where: [true, true, true, true])
        // Each sample is the composite or its mirror, and its target is the teacher's mask likewise.
        for n in 0..<4 {
            let rgb = (n * 3 * 4096)..<((n + 1) * 3 * 4096), mask = (n * 4096)..<((n + 1) * 4096)
            let mirrored = rgb.allSatisfy { input.data[$0] == mirroredComposite.data[$0] }
            let plain = rgb.allSatisfy { input.data[$0] == composite.data[$0] }
            #expect(mirrored || plain)
            let expected = mirrored ? mirroredTarget : t
            #expect(mask.allSatisfy { target.data[$0] == expected.data[$0] })
        }
    }

    @Test func maskScoresOnHandMadeMasks() {
        // 4 × 4: truth = left half (8 px); prediction = left 3 columns (12 px) → TP 8, FP 4, FN 0.
        var truth = [Float](repeating: 0, count: 16), predicted = [Float](repeating: 0, count: 16)
        for y in 0..<4 {
            for x in 0..<2 { truth[y * 4 + x] = 1 }
            for x in 0..<3 { predicted[y * 4 + x] = x == 2 ? 0.4 : 0.9 }
        }
        let at05 = MaskScores(predicted: Image(channels: 1, height: 4, width: 4, pixels: predicted),
                              truth: Image(channels: 1, height: 4, width: 4, pixels: truth))
        #expect(at05 == MaskScores(iou: 1, precision: 1, recall: 1))  // column 2 is 0.4 < 0.5
        let at03 = MaskScores(predicted: Image(channels: 1, height: 4, width: 4, pixels: predicted),
                              truth: Image(channels: 1, height: 4, width: 4, pixels: truth), threshold: 0.3)
        #expect(abs(at03.iou - 8.0 / 12) < 1e-12 && abs(at03.precision - 8.0 / 12) < 1e-12 && at03.recall == 1)
        // Prediction = top row (4 px, 2 of them foreground): TP 2, FP 2, FN 6.
        let top = (0..<16).map { Float($0 < 4 ? 1 : 0) }
        let s = MaskScores(predicted: Image(channels: 1, height: 4, width: 4, pixels: top),
                           truth: Image(channels: 1, height: 4, width: 4, pixels: truth))
        #expect(abs(s.iou - 2.0 / 10) < 1e-12 && abs(s.precision - 0.5) < 1e-12 && abs(s.recall - 0.25) < 1e-12)
        // Empty prediction: IoU 0 and precision 0 against a non-empty truth; all 1 against an empty one.
        let empty = Image(channels: 1, height: 4, width: 4, repeating: 0)
        #expect(MaskScores(predicted: empty, truth: Image(channels: 1, height: 4, width: 4, pixels: truth))
                == MaskScores(iou: 0, precision: 0, recall: 0))
        #expect(MaskScores(predicted: empty, truth: empty) == MaskScores(iou: 1, precision: 1, recall: 1))
    }

    @Test func aTinyRunWritesCheckpointsMetricsAndEvaluationThenEvalAndSegmentWork() throws {
        let run = Self.temporaryFolder("run")
        defer { try? FileManager.default.removeItem(at: run) }
        var config = try Presets.named("tiny-fg")
        config = try config.applying(["steps=20", "distill_steps=5", "eval_every=10", "checkpoint_every=10"])
        let options = TrainOptions(runDirectory: run, dataPath: Self.data.path, quiet: true)
        let summary = try Trainer(config: config, options: options, communicator: LocalCommunicator()).train()
        #expect(summary.lastStep == 25 && !summary.interrupted)
        let fm = FileManager.default
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)  // log_every = 5
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect(first["loss_d"] is Double && first["mask_area"] is Double && first["phase"] as? String == "adversarial")
        let last = try JSONSerialization.jsonObject(with: Data(lines[4].utf8)) as! [String: Any]
        #expect(last["loss_distill"] is Double && last["step"] as? Int == 25)
        for step in [10, 20, 25] {
            let name = RunFolder.stepName(step, ext: "")
            #expect(fm.fileExists(atPath: run.appendingPathComponent("eval/\(name)json").path))
            #expect(fm.fileExists(atPath: run.appendingPathComponent("eval/\(name)csv").path))
            #expect(fm.fileExists(atPath: run.appendingPathComponent("samples/\(name)png").path))
        }
        let teacherEval = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("eval/step-00000020.json"))) as! [String: Any]
        #expect(teacherEval["model"] as? String == "teacher" && teacherEval["mean_iou"] is Double)
        let final = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("eval/step-00000025.json"))) as! [String: Any]
        #expect(final["model"] as? String == "student" && final["mean_iou"] is Double && final["teacher_mean_iou"] is Double)
        #expect(final["precision"] is Double && final["recall"] is Double && (final["iou_by_threshold"] as? [String: Double])?.count == 9)
        let checkpointURL = run.appendingPathComponent("checkpoints/step-00000025.safetensors")
        let checkpoint = try Checkpoint.load(from: checkpointURL)
        for name in ["G/enc1.weight", "D/conv1.weight", "S/enc1.weight", "S/enc1_bn.running_mean", "opt/S/m/enc1.weight", "opt/G/v/out.weight"] {
            #expect(checkpoint.tensors.contains { $0.name == name }, "missing \(name)")
        }

        // carve ckpt eval on the held-out split.
        let evalOut = run.appendingPathComponent("ckpt-eval")
        let metrics = try Evaluator.evaluate(checkpoint: checkpointURL, dataPath: Self.data.path, out: evalOut)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: metrics)) as! [String: Any]
        #expect(report["mean_iou"] as? Double == final["mean_iou"] as? Double)
        // GrabCut from the crop's frame is scored beside the box and the ellipse (the same in both).
        let grabcut = try #require(report["grabcut_iou"] as? Double)
        #expect(grabcut == final["grabcut_iou"] as? Double && grabcut > 0 && grabcut <= 1)
        #expect(report["grabcut_images"] as? Int == report["images"] as? Int)
        #expect(fm.fileExists(atPath: evalOut.appendingPathComponent("per-image.csv").path))
        #expect(fm.fileExists(atPath: evalOut.appendingPathComponent("panel.png").path))
        #expect(throws: FgToolError.self) { _ = try Evaluator.evaluate(checkpoint: checkpointURL, dataPath: nil, out: evalOut) }
        // --refine colour: the refined masks are scored, the networks' own masks beside them
        // (the same as unrefined), and the refined masks are 0/1 (IoU flat over thresholds).
        let refinedOut = run.appendingPathComponent("ckpt-eval-refined")
        let refined = try JSONSerialization.jsonObject(with: Data(contentsOf: try Evaluator.evaluate(
            checkpoint: checkpointURL, dataPath: Self.data.path, out: refinedOut, refine: "colour"))) as! [String: Any]
        #expect(refined["refine"] as? String == "colour")
        #expect(refined["raw_mean_iou"] as? Double == report["mean_iou"] as? Double)
        let curve = refined["iou_by_threshold"] as! [String: Double]
        #expect(curve["0.1"] == curve["0.9"])
        // --refine grabcut likewise (0/1 masks, the networks' own beside them).
        let seeded = try JSONSerialization.jsonObject(with: Data(contentsOf: try Evaluator.evaluate(
            checkpoint: checkpointURL, dataPath: Self.data.path, out: run.appendingPathComponent("ckpt-eval-grabcut"),
            refine: "grabcut"))) as! [String: Any]
        #expect(seeded["refine"] as? String == "grabcut")
        #expect(seeded["raw_mean_iou"] as? Double == report["mean_iou"] as? Double)
        let seededCurve = seeded["iou_by_threshold"] as! [String: Double]
        #expect(seededCurve["0.1"] == seededCurve["0.9"])
        #expect(throws: ConfigurationError.self) {
            _ = try Evaluator.evaluate(checkpoint: checkpointURL, dataPath: Self.data.path, out: refinedOut, refine: "crf")
        }

        // carve segment: images of any size, masks back at each image's size.
        let images = run.appendingPathComponent("images"), masks = run.appendingPathComponent("masks")
        try fm.createDirectory(at: images, withIntermediateDirectories: true)
        let sizes = [(40, 70), (64, 64), (130, 90)]
        for (k, (h, w)) in sizes.enumerated() {
            try SynthFg.proceduralBackground(seed: 1, index: k, size: max(h, w)).resized(height: h, width: w)
                .write(path: images.appendingPathComponent("img\(k).png").path)
        }
        #expect(try Evaluator.segment(checkpoint: checkpointURL, images: images.path, out: masks) == 3)
        for (k, (h, w)) in sizes.enumerated() {
            let mask = try Image.read(path: masks.appendingPathComponent("img\(k).png").path)
            #expect(mask.channels == 1 && mask.height == h && mask.width == w)
        }
        // --threshold writes 0/1 masks that agree with the soft ones; --overlay adds NAME-overlay.png.
        let hard = run.appendingPathComponent("hard")
        #expect(try Evaluator.segment(checkpoint: checkpointURL, images: images.path, out: hard, threshold: 0.5, overlay: true) == 3)
        for (k, (h, w)) in sizes.enumerated() {
            let soft = try Image.read(path: masks.appendingPathComponent("img\(k).png").path)
            let mask = try Image.read(path: hard.appendingPathComponent("img\(k).png").path)
            #expect(mask.pixels.allSatisfy { $0 == 0 || $0 == 1 })
            // PNG stores 16 bits: a soft value within one level of 0.5 may fall either way.
            #expect(zip(soft.pixels, mask.pixels).allSatisfy { abs($0 - 0.5) < 1e-4 || ($0 >= 0.5) == ($1 == 1) })
            let overlay = try Image.read(path: hard.appendingPathComponent("img\(k)-overlay.png").path)
            #expect(overlay.channels == 3 && overlay.height == h && overlay.width == w)
        }
        // --refine colour: at the model's input size (img1, 64 × 64) the written mask is the
        // soft one thresholded and refined, 0/1 where the soft mask has grey levels.
        let refinedMasks = run.appendingPathComponent("refined-masks")
        #expect(try Evaluator.segment(checkpoint: checkpointURL, images: images.path, out: refinedMasks, refine: "colour") == 3)
        let soft1 = try Image.read(path: masks.appendingPathComponent("img1.png").path)
        #expect(soft1.pixels.contains { $0 > 0.05 && $0 < 0.95 }, "the tiny model's soft mask should have grey levels")
        #expect(try Image.read(path: refinedMasks.appendingPathComponent("img1.png").path).pixels.allSatisfy { $0 == 0 || $0 == 1 })
        let empty = run.appendingPathComponent("empty")
        try fm.createDirectory(at: empty, withIntermediateDirectories: true)
        #expect(throws: FgToolError.noImages(flag: "--images", path: empty.path)) {
            _ = try Evaluator.segment(checkpoint: checkpointURL, images: empty.path, out: masks)
        }
    }

    @Test func aResumedFgRunContinuesBitwiseAcrossThePhaseBoundary() throws {
        let straight = Self.temporaryFolder("straight"), split = Self.temporaryFolder("split")
        defer {
            try? FileManager.default.removeItem(at: straight)
            try? FileManager.default.removeItem(at: split)
        }
        func train(_ run: URL, steps: Int, distill: Int, resume: Bool) throws {
            let config = try Presets.named("tiny-fg").applying(
                ["steps=\(steps)", "distill_steps=\(distill)", "checkpoint_every=4", "eval_every=0"])
            let options = TrainOptions(runDirectory: run, dataPath: Self.data.path, resume: resume, quiet: true)
            _ = try Trainer(config: config, options: options, communicator: LocalCommunicator()).train()
        }
        try train(straight, steps: 6, distill: 3, resume: false)
        try train(split, steps: 4, distill: 0, resume: false)  // stops at 4, like an interrupted run
        try train(split, steps: 6, distill: 3, resume: true)
        let a = try Checkpoint.load(from: straight.appendingPathComponent("checkpoints/step-00000009.safetensors"))
        let b = try Checkpoint.load(from: split.appendingPathComponent("checkpoints/step-00000009.safetensors"))
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) { #expect(x.values == y.values, "tensor \(x.name) differs after resume") }
    }

    @Test func missingBackgroundsNameTheFlag() throws {
        let bare = Self.temporaryFolder("bare")
        defer { try? FileManager.default.removeItem(at: bare) }
        try SynthFg.write(to: bare.path, count: 6, seed: 1, sceneSize: 64)
        try FileManager.default.removeItem(at: bare.appendingPathComponent("backgrounds"))
        let config = try Presets.named("tiny-fg").applying(["steps=1", "distill_steps=0"])
        let options = TrainOptions(runDirectory: bare.appendingPathComponent("run"), dataPath: bare.path, quiet: true)
        #expect(throws: FgToolError.noBackgrounds(data: bare.path)) {
            _ = try Trainer(config: config, options: options, communicator: LocalCommunicator()).train()
        }
    }
}
