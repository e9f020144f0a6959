@testable import Carve
import Foundation
import TestSupport
import Testing

/// The pieces of the real-data fg recipe (issue 14): differentiable augmentation with ADA's
/// adaptive p, the one-sided area penalty, hardened distillation targets, the baselines of the
/// evaluation, and a `real-fg`-style run that resumes bitwise with its augmentation state.
@Suite(.serialized) struct RealFgTests {
    static func image(_ n: Int, seed: Int) -> Tensor {
        let t = Tensor.randomNormal([n, 3, 16, 16], seed: 11, purpose: "augment-input", index: seed)
        for i in 0..<t.count { t.data[i] = 0.5 + 0.2 * t.data[i] }
        return t
    }

    /// The box-tightness prior: lines of the central band that cross the mask cost almost nothing,
    /// a line that misses it costs −log(1e-6 + 1 − 0.999^0) ≈ 13.8 (averaged over the lines).
    @Test func boxTightnessCountsTheLinesThatMissTheObject() {
        func mask(_ on: (Int, Int) -> Bool) -> Tensor {
            Tensor(shape: [1, 1, 10, 10], values: (0..<100).map { on($0 / 10, $0 % 10) ? 1 : 0 })
        }
        // The band is rows/columns 2..<8, 6 of each. A line crossing one pixel of 1 has
        // p = 1 − (1 − 0.999) = 0.999; the full line through the centre p = 1 − 0.001^10; a line
        // that misses p = 0 (each loss is −log(p + 1e-6)).
        let one = -Foundation.log(0.999 + 1e-6), full = -Foundation.log(1 - Foundation.pow(0.001, 10) + 1e-6)
        let miss = -Foundation.log(1e-6)
        // A cross through (5, 5): every band row and column is crossed, row 5 and column 5 fully.
        let cross = GANLoss.boxTightness(masks: mask { y, x in y == 5 || x == 5 }).item
        let crossExpected = (5 * one + full) / 6
        #expect(abs(Double(cross) - crossExpected) < 1e-5, "cross \(cross) vs \(crossExpected)")
        // Only row 5: the other 5 band rows miss the mask, every band column crosses it once.
        let row = GANLoss.boxTightness(masks: mask { y, _ in y == 5 }).item
        let expected = 0.5 * ((full + 5 * miss) / 6 + one)
        #expect(abs(Double(row) - expected) < 1e-3, "row \(row) vs \(expected)")
        // Nothing at all: every line misses.
        #expect(abs(Double(GANLoss.boxTightness(masks: mask { _, _ in false }).item) - miss) < 1e-3)
        // A gradient pulls the missed lines up.
        let m = mask { y, _ in y == 5 }.requiringGrad()
        GANLoss.boxTightness(masks: m).backward()
        #expect(m.grad!.data[2 * 10 + 5] < 0, "a pixel on a missed row must be pushed towards 1")
    }

    /// The contrast-sensitive total variation: on an image without contrast it is the plain L1
    /// total variation; on an image with a vertical edge, a mask whose outline lies on that edge
    /// costs less than the same mask shifted two pixels into the flat part, while the plain TV
    /// charges both alike. Its weights follow GrabCut's formula by hand, and hoc refuses it.
    @Test func contrastTotalVariationSparesTheImagesEdges() throws {
        let n = 12
        func mask(edgeAt e: Int) -> Tensor { Tensor(shape: [1, 1, n, n], values: (0..<(n * n)).map { $0 % n < e ? 1 : 0 }) }
        let flat = Tensor(shape: [1, 3, n, n], values: [Float](repeating: 0.4, count: 3 * n * n))
        for e in [3, 6] {
            let plain = GANLoss.totalVariation(masks: mask(edgeAt: e)).item
            #expect(GANLoss.contrastTotalVariation(masks: mask(edgeAt: e), images: flat, gamma: 1).item == plain)
        }
        // Columns < 6 bright (0.9), the rest dark (0.1), every channel: one edge between columns 5 and 6.
        let image = Tensor(shape: [1, 3, n, n], values: (0..<(3 * n * n)).map { $0 % n < 6 ? 0.9 : 0.1 })
        let onEdge = GANLoss.contrastTotalVariation(masks: mask(edgeAt: 6), images: image, gamma: 1).item
        let offEdge = GANLoss.contrastTotalVariation(masks: mask(edgeAt: 8), images: image, gamma: 1).item
        #expect(GANLoss.totalVariation(masks: mask(edgeAt: 6)).item == GANLoss.totalVariation(masks: mask(edgeAt: 8)).item)
        // ‖ΔI‖² = 3·0.8² = 1.92 on the n edge pairs, 0 elsewhere; β = 1.92·n / (n(n−1) + (n−1)n)
        // = 1.92 / 22: the edge's weight is exp(−1.92 / (2β)) = exp(−11), every other weight 1.
        let (wx, wy) = GANLoss.contrastWeights(images: image, gamma: 1)
        #expect(abs(Double(wx.data[5]) - Foundation.exp(-11.0)) < 1e-7 && wx.data[4] == 1 && wy.array.allSatisfy { $0 == 1 })
        let pairs = Double(n * (n - 1))
        #expect(abs(Double(onEdge) - Double(n) * Foundation.exp(-11.0) / pairs) < 1e-7, "on the edge: \(onEdge)")
        #expect(abs(Double(offEdge) - Double(n) / pairs) < 1e-7, "off the edge: \(offEdge)")
        // Its gradient pulls an outline that sits in the flat part towards the edge.
        let m = mask(edgeAt: 8).requiringGrad()
        GANLoss.contrastTotalVariation(masks: m, images: image, gamma: 1).backward()
        #expect(m.grad!.data[7] > 0, "the mask's last column in the flat part must be pushed down")
        // hoc masks are drawn from noise: no image to weigh them by.
        var hoc = try Presets.named("real-hoc")
        hoc.maskTvContrast = 1
        #expect(throws: ConfigurationError.self) { try hoc.validate() }
    }

    /// A configuration written before a key existed (e.g. a checkpoint of an older carve) loads,
    /// the key at its declared default.
    @Test func configurationsWithoutNewerKeysLoadWithDefaults() throws {
        var object = try JSONSerialization.jsonObject(with: Data(try Presets.named("real-fg").json().utf8)) as! [String: Any]
        object["box_prior"] = nil
        object["collective_timeout"] = nil
        let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let config = try Configuration.fromJSON(text)
        #expect(config.boxPrior == 0 && config.preset == "real-fg")
    }

    @Test func augmentationWithPZeroIsTheIdentity() {
        let augment = DiffAugment(seed: 1, probability: 0, target: 0)
        let x = Self.image(2, seed: 0)
        #expect(augment(x, stream: "s", step: 3, samples: [0, 1]) === x)
    }

    /// Draws are keyed by global sample index, not by position in the batch: two ranks holding
    /// halves of a batch augment exactly as one rank holding all of it.
    @Test func augmentationOfASampleDoesNotDependOnItsBatch() {
        let augment = DiffAugment(seed: 4, probability: 0.9, target: 0)
        let x = Self.image(4, seed: 1)
        let whole = Autodiff.withoutRecording { augment(x, stream: "real", step: 7, samples: [10, 11, 12, 13]) }
        let first = Autodiff.withoutRecording { augment(x.slice(axis: 0, 0..<2), stream: "real", step: 7, samples: [10, 11]) }
        let second = Autodiff.withoutRecording { augment(x.slice(axis: 0, 2..<4), stream: "real", step: 7, samples: [12, 13]) }
        #expect(whole.array == first.array + second.array)
        // And it does change the images, differently per stream and step.
        let other = Autodiff.withoutRecording { augment(x, stream: "fake", step: 7, samples: [10, 11, 12, 13]) }
        #expect(whole.array != x.array && whole.array != other.array)
    }

    @Test func gradientsFlowThroughTheAugmentation() {
        let augment = DiffAugment(seed: 2, probability: 0.8, target: 0)
        let x = Self.image(3, seed: 2).requiringGrad()
        let weights = Tensor.randomNormal([3, 3, 16, 16], seed: 2, purpose: "augment-w")
        let r = gradcheck([x], epsilon: 1e-2) { (augment(x, stream: "g", step: 1, samples: [5, 6, 7]) * weights).sum() }
        #expect(r.passes(atol: 1e-3, rtol: 2e-3), "\(r)")
    }

    @Test func adaptiveProbabilityFollowsTheOverfittingSignal() {
        let augment = DiffAugment(seed: 1, probability: 0.2, target: 0.6)
        augment.adapt(realSign: 0.9, batch: 2000)   // D too sure of reals: p + 2000/20000
        #expect(abs(augment.p - 0.3) < 1e-6)
        augment.adapt(realSign: 0.1, batch: 4000)   // not: p − 0.2
        #expect(abs(augment.p - 0.1) < 1e-6)
        for _ in 0..<20 { augment.adapt(realSign: 1, batch: 20000) }
        #expect(augment.p == DiffAugment.cap)
        let fixed = DiffAugment(seed: 1, probability: 0.2, target: 0)
        fixed.adapt(realSign: 1, batch: 20000)
        #expect(fixed.p == 0.2)
    }

    @Test func theOneSidedAreaPenaltyChargesOnlyMasksAboveTheTarget() {
        // Two 2×2 masks with areas 0.25 and 0.75; target 0.5: only the second pays (0.25)² / 2.
        let masks = Tensor(shape: [2, 1, 2, 2], values: [1, 0, 0, 0, 1, 1, 1, 0])
        #expect(GANLoss.areaAbove(masks: masks, target: 0.5).item == 0.03125)
        #expect(GANLoss.area(masks: masks, target: 0.5).item == 0.0625)
    }

    @Test func hardDistillationTargetsAreZeroOrOne() throws {
        var config = try Presets.named("tiny-fg")
        config = try config.applying(["distill_target=hard", "upsample=resize"])
        let gan = FgGAN(config: config, communicator: LocalCommunicator())
        let batch = try FgTests.batch()
        let (_, target) = gan.distillationPair(batch, step: 0)
        #expect(target.array.allSatisfy { $0 == 0 || $0 == 1 })
        let soft = FgGAN(config: try Presets.named("tiny-fg"), communicator: LocalCommunicator())
        #expect(soft.distillationPair(batch, step: 0).target.array.contains { $0 != 0 && $0 != 1 })
    }

    /// "mixed" distillation inputs: each sample is either its crop (as `carve segment` will see
    /// it, maybe mirrored) or the composite of "composite", never anything else.
    @Test func mixedDistillationInputsAreCropsOrComposites() throws {
        let batch = try FgTests.batch()
        let plain = FgGAN(config: try Presets.named("tiny-fg"), communicator: LocalCommunicator())
        let mixed = FgGAN(config: try Presets.named("tiny-fg").applying(["distill_inputs=mixed"]), communicator: LocalCommunicator())
        var crops = 0, composites = 0
        for step in 0..<4 {
            let a = plain.distillationPair(batch, step: step).input, b = mixed.distillationPair(batch, step: step).input
            let images = FgGAN.flipping(batch.images, where: [true, true, true, true])
            let per = a.count / 4
            for n in 0..<4 {
                let got = Array(b.array[(n * per)..<((n + 1) * per)])
                if got == Array(a.array[(n * per)..<((n + 1) * per)]) { composites += 1; continue }
                let crop = Array(batch.images.array[(n * per)..<((n + 1) * per)]), mirrored = Array(images.array[(n * per)..<((n + 1) * per)])
                #expect(got == crop || got == mirrored, "step \(step) sample \(n) is neither its crop nor the composite")
                crops += 1
            }
        }
        #expect(crops > 0 && composites > 0, "crops \(crops), composites \(composites) of 16")
    }

    @Test func unknownRecipeValuesAreRefusedByName() throws {
        let config = try Presets.named("real-fg")
        for bad in ["distill_inputs=raw", "upsample=bilinear", "area_penalty=both", "distill_target=medium", "augment=1.5", "augment_target=-0.1", "augment_policy=flip,rotate"] {
            #expect(throws: ConfigurationError.self) { _ = try config.applying([bad]) }
        }
    }

    @Test func bothDecodersUpsampleWithResizeConvWhenAsked() throws {
        let g = NoiseGenerator(zDim: 3, widths: [8, 8, 8, 8, 4], upsample: .resize)
        g.initialize(seed: 1)
        let rgba = Autodiff.withoutRecording { g(Tensor.randomNormal([2, 3], seed: 1, purpose: "z")) }
        #expect(rgba.shape == [2, 4, 64, 64])
        #expect(g.namedParameters().contains { $0.name == "deconv3.weight" && $0.tensor.shape == [4, 4, 3, 3] })
        let gan = HocGAN(config: try Presets.named("tiny").applying(["upsample=resize"]), communicator: LocalCommunicator())
        #expect(gan.generator.namedParameters().contains { $0.name == "deconv1.weight" && $0.tensor.shape.suffix(2) == [3, 3] })
        let unet = UNet(widths: [4, 8, 8, 8, 8, 8], upsample: .resize)
        unet.initialize(seed: 1)
        #expect(Autodiff.withoutRecording { unet(Tensor.randomNormal([2, 3, 64, 64], seed: 1, purpose: "x")) }.shape == [2, 1, 64, 64])
    }

    /// Out-of-range numbers are refused at the border with the key's name (issue 17, item 4).
    @Test func outOfRangeNumbersAreRefusedByKey() throws {
        let config = try Presets.named("tiny")
        for (bad, key) in [("eval_samples=-1", "eval_samples"), ("adam_beta1=1.5", "adam_beta1"), ("window=-3", "window"),
                           ("patch_stride=-1", "patch_stride"), ("lambda_area=-1", "lambda_area"), ("beta=-2", "beta"),
                           ("distill_steps=-5", "distill_steps")] {
            do {
                _ = try config.applying([bad])
                Issue.record("\(bad) was accepted")
            } catch let error as ConfigurationError {
                #expect(error.message.contains(key), "\(bad): \(error.message)")
            }
        }
    }

    /// 4 × 4 crop: the inscribed ellipse covers every pixel centre but the four corners.
    @Test func theEllipseBaselineIsTheInscribedEllipse() {
        #expect(FgEvaluation.inscribedEllipse(size: 4) == [0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0])
    }

    /// The GrabCut baseline scores every crop of a small set, and of a big one as many as 2²²
    /// pixels hold, evenly spaced from the first.
    @Test func theGrabCutBaselineScoresABoundedEvenSample() {
        #expect(FgEvaluation.grabcutSample(count: 24, size: 64) == Array(0..<24))
        #expect(FgEvaluation.grabcutSample(count: 1024, size: 64) == Array(0..<1024))
        let big = FgEvaluation.grabcutSample(count: 5794, size: 128)
        #expect(big.count == 256 && big.first == 0 && big.last! < 5794 && big.last! >= 5794 - 5794 / 256 - 1)
        #expect(zip(big, big.dropFirst()).allSatisfy { $1 - $0 == 22 || $1 - $0 == 23 })  // 5794 / 256 = 22.6
    }

    /// `box_margin`: the box is the crop's centre, (1 + 2m)⁻¹ of its side; the teacher's and the
    /// student's masks are zero outside it and the UNet's own maps inside; the baselines fill it.
    @Test func withABoxMarginTheMasksStayInTheCentralBox() throws {
        // 12 px, m = 0.25: pixel centres (j + 0.5)/12 in [1/6, 5/6] are j = 2 … 9.
        let w = FgGAN.boxWindow(size: 12, margin: 0.25).array
        for i in 0..<12 {
            for j in 0..<12 { #expect(w[i * 12 + j] == ((2...9).contains(i) && (2...9).contains(j) ? 1 : 0)) }
        }
        var config = try Presets.named("tiny-fg").applying(["box_margin=0.25"])
        let gan = FgGAN(config: config, communicator: LocalCommunicator())
        let s = config.imageSize, images = Tensor.randomNormal([2, 3, s, s], seed: 3, purpose: "x")
        let window = FgGAN.boxWindow(size: s, margin: 0.25).array
        #expect(window.filter { $0 == 1 }.count == 42 * 42)  // centres j + 0.5 in [64/6, 64·5/6]: j = 11 … 52
        for network in [gan.teacher, gan.student] {
            let masks = FgGAN.masks(of: network, images: images).array
            network.window = nil
            let unwindowed = FgGAN.masks(of: network, images: images).array
            network.window = FgGAN.boxWindow(size: s, margin: 0.25)
            for (k, m) in masks.enumerated() { #expect(m == (window[k % (s * s)] == 1 ? unwindowed[k] : 0)) }
            #expect(unwindowed.allSatisfy { $0 > 0 })  // the window did the zeroing, not the network
        }
        // The ellipse baseline is inscribed in the box, inside the window.
        let ellipse = FgEvaluation.inscribedEllipse(size: s, margin: 0.25)
        #expect(zip(ellipse, window).allSatisfy { $0 <= $1 })
        #expect(abs(Double(ellipse.filter { $0 == 1 }.count) / (Double.pi * (32 / 1.5) * (32 / 1.5)) - 1) < 0.05)
        config.boxMargin = 0
        #expect(FgGAN(config: config, communicator: LocalCommunicator()).teacher.window == nil)
        #expect(throws: ConfigurationError.self) { _ = try Presets.named("tiny-fg").applying(["box_margin=-0.1"]) }
        // refine=grabcut: 0/1 masks, zero on the ring (its certain background).
        var grabcutConfig = try Presets.named("tiny-fg").applying(["box_margin=0.25", "refine=grabcut"])
        let refinedGAN = FgGAN(config: grabcutConfig, communicator: LocalCommunicator())
        let refined = refinedGAN.outputMasks(of: refinedGAN.teacher, images: images.sigmoid()).array
        #expect(refined.allSatisfy { $0 == 0 || $0 == 1 })
        for (k, m) in refined.enumerated() where window[k % (s * s)] == 0 { #expect(m == 0) }
        grabcutConfig.refine = "crf"
        #expect(throws: ConfigurationError.self) { try grabcutConfig.validate() }
    }

    /// The colour refinement follows the object's colour into the ring; the model's output is
    /// held in the box all the same (the window applied after `refine`).
    @Test func theRefinedMaskStaysInTheBoxToo() throws {
        let config = try Presets.named("tiny-fg").applying(["box_margin=0.1", "refine=colour"])
        let gan = FgGAN(config: config, communicator: LocalCommunicator())
        let s = config.imageSize  // 64: the window is rows and columns 5 … 58
        // White object on black: the square 8 … 55 and a strip in columns 0 … 7, rows 20 … 40,
        // touching it; the mask given is the square 10 … 53.
        var image = [Float](repeating: 0, count: 3 * s * s), soft = [Float](repeating: 0, count: s * s)
        for y in 0..<s {
            for x in 0..<s {
                let white = ((8...55).contains(y) && (8...55).contains(x)) || ((20...40).contains(y) && x <= 7)
                for c in 0..<3 where white { image[c * s * s + y * s + x] = 1 }
                if (10...53).contains(y) && (10...53).contains(x) { soft[y * s + x] = 1 }
            }
        }
        let images = Tensor(shape: [1, 3, s, s], values: image), masks = Tensor(shape: [1, 1, s, s], values: soft)
        let refined = FgGAN.refined(masks, images: images).array
        #expect(refined[30 * s + 1] == 1 && refined[30 * s + 6] == 1)  // the refinement took the strip
        let out = gan.output(masks, images: images).array
        let window = FgGAN.boxWindow(size: s, margin: 0.1).array
        for k in 0..<(s * s) { #expect(out[k] == refined[k] * window[k]) }
        #expect(out[30 * s + 1] == 0 && out[30 * s + 6] == 1)
    }

    /// Crops cut with a ring (`carve data boxes --margin`) give a new run their margin; another
    /// margin is refused, crops without a record keep the configuration's.
    @Test func aRunTakesItsBoxMarginFromTheCropsRecord() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("carve-margin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = try Presets.named("tiny-fg")
        #expect(try FgApplication.prepare(config, dataPath: folder.path).boxMargin == 0)
        try Data("{\"box_margin\": 0.1}".utf8).write(to: folder.appendingPathComponent(BoxCrops.recordName))
        #expect(try FgApplication.prepare(config, dataPath: folder.path).boxMargin == 0.1)
        #expect(try FgApplication.prepare(config.applying(["box_margin=0.1"]), dataPath: folder.path).boxMargin == 0.1)
        #expect(throws: ConfigurationError.self) {
            _ = try FgApplication.prepare(config.applying(["box_margin=0.25"]), dataPath: folder.path)
        }
        // `carve ckpt eval` of a checkpoint trained with another margin is refused.
        try FgApplication.checkMargin(0.1, file: "a.safetensors", dataPath: folder.path)
        #expect(throws: ConfigurationError.self) { try FgApplication.checkMargin(0, file: "a.safetensors", dataPath: folder.path) }
    }

    static func train(_ run: URL, steps: Int, resume: Bool = false) throws -> RunSummary {
        var config = try Presets.named("tiny-fg")
        config = try config.applying(["upsample=resize", "augment=0.3", "augment_target=0.6", "area_penalty=one-sided",
                                      "binarize=1", "mask_tv=1", "distill_target=hard", "checkpoint_every=6",
                                      "steps=\(steps)", "distill_steps=0"])
        let options = TrainOptions(runDirectory: run, dataPath: FgTests.data.path, resume: resume, quiet: true)
        return try Trainer(config: config, options: options, communicator: LocalCommunicator()).train()
    }

    /// The augmentation probability is checkpointed (`A/p`) and moves; a resumed run with every
    /// real-fg option continues bitwise.
    @Test func aRealFgRunResumesBitwiseWithItsAugmentationState() throws {
        let straight = FgTests.temporaryFolder("real-straight"), split = FgTests.temporaryFolder("real-split")
        defer {
            try? FileManager.default.removeItem(at: straight)
            try? FileManager.default.removeItem(at: split)
        }
        _ = try Self.train(straight, steps: 12)
        _ = try Self.train(split, steps: 6)
        _ = try Self.train(split, steps: 12, resume: true)
        let a = try Checkpoint.load(from: straight.appendingPathComponent("checkpoints/step-00000012.safetensors"))
        let b = try Checkpoint.load(from: split.appendingPathComponent("checkpoints/step-00000012.safetensors"))
        let p = try #require(a.tensors.first { $0.name == "A/p" })
        #expect(p.values != [0.3], "the augmentation probability never moved")
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) { #expect(x.values == y.values, "tensor \(x.name) differs after resume") }
    }
}
