import DDP
import Foundation
import Imaging
import Tensor

/// The fg application (paper, "Foreground Segmentation on Category-specific Images", and the
/// Appendix "Data Distillation"): a UNet foreground provider, a background pool provider,
/// Δr = 0, the two-layer composition, an SN-GAN discriminator, then a distilled student UNet.
///
/// One adversarial `trainStep` is the per-rank data flow of docs/ARCHITECTURE.md: this rank's slice of the
/// global batch of box-cropped images → teacher masks m = UNet(x) → composite
/// x_g = x·m + bg·(1 − m) over background-pool patches → D update on the crops (real) and x_g
/// (fake), eq. (6) → G update with the non-saturating loss + λ·L_area, eq. (7). Gradients of
/// each network are averaged over ranks through its fused bucket before Adam.
///
/// One `distillStep` trains the student with the smooth L1 of eq. (8) against the frozen
/// teacher's masks on recomposited, randomly flipped inputs (see Note [Distillation inputs]).
///
/// ```swift
/// let gan = FgGAN(config: try Presets.named("tiny-fg"), communicator: LocalCommunicator())
/// let m = try gan.trainStep(batch, step: 0)       // adversarial step
/// let s = try gan.trainStep(batch, step: 20)      // distillation, after config.steps adversarial steps
/// ```
public final class FgGAN: GANModel {
    public let config: Configuration
    /// The teacher: the segmentation network of the foreground provider (checkpoint `G/`).
    public let teacher: UNet
    /// The SN-GAN discriminator (checkpoint `D/`).
    public let discriminator: Discriminator
    /// The distilled student, the same architecture as the teacher (checkpoint `S/`).
    public let student: UNet
    public let provider: SegmentationInstanceProvider
    public let layout = IdentityLayout()
    /// Differentiable augmentation of D's inputs when `augment` or `augment_target` is set
    /// (checkpoint `A/p`; Note [Differentiable augmentation]), else nil.
    public let augmentation: DiffAugment?
    let optimizerG: Adam
    let optimizerD: Adam
    let optimizerS: Adam
    let parallelG: DistributedDataParallel
    let parallelD: DistributedDataParallel
    let parallelS: DistributedDataParallel

    public init(config: Configuration, communicator: any Communicator) {
        self.config = config
        let upsample = UpsamplingKind(rawValue: config.upsample) ?? .deconv
        teacher = UNet(widths: config.unetChannels, upsample: upsample)
        discriminator = Discriminator(widths: config.dChannels)
        student = UNet(widths: config.unetChannels, upsample: upsample)
        augmentation = config.augment > 0 || config.augmentTarget > 0
            ? DiffAugment(seed: config.seed, probability: config.augment, target: config.augmentTarget,
                          policy: (try? DiffAugment.Transform.policy(config.augmentPolicy).get()) ?? Set(DiffAugment.Transform.allCases))
            : nil
        teacher.initialize(seed: config.seed, path: "G/")
        discriminator.initialize(seed: config.seed, path: "D/")
        student.initialize(seed: config.seed, path: "S/")
        if config.boxMargin > 0 {
            let window = Self.boxWindow(size: config.imageSize, margin: config.boxMargin)
            teacher.window = window
            student.window = window
        }
        provider = SegmentationInstanceProvider(network: teacher)
        parallelG = DistributedDataParallel(module: teacher, communicator: communicator)
        parallelD = DistributedDataParallel(module: discriminator, communicator: communicator)
        parallelS = DistributedDataParallel(module: student, communicator: communicator)
        let b1 = config.adamBeta1, b2 = config.adamBeta2
        optimizerG = Adam(parameters: teacher.namedParameters(), learningRate: Float(config.lrG), beta1: b1, beta2: b2)
        optimizerD = Adam(parameters: discriminator.namedParameters(), learningRate: Float(config.lrD), beta1: b1, beta2: b2)
        // The student is a supervised regression: the generator's rate with Adam's usual β1.
        optimizerS = Adam(parameters: student.namedParameters(), learningRate: Float(config.lrG), beta1: 0.9, beta2: b2)
    }

    /// The networks by checkpoint prefix: G (teacher), D, S (student), A (augmentation state, when on).
    public var networks: [(prefix: String, module: any Module)] {
        [("G", teacher), ("D", discriminator), ("S", student)] + (augmentation.map { [("A", $0)] } ?? [])
    }

    /// The optimizers by checkpoint prefix.
    public var optimizers: [(prefix: String, adam: Adam)] {
        [("G", optimizerG), ("D", optimizerD), ("S", optimizerS)]
    }

    /// Two phases: `config.steps` adversarial steps, then `config.distillSteps` distillation steps.
    public var totalSteps: Int { config.steps + config.distillSteps }
    /// The adversarial phase ends at `config.steps` when distillation follows.
    public func endsPhase(after step: Int) -> Bool { step == config.steps && config.distillSteps > 0 }

    /// The step of the phase global step `step` falls in: `adversarialStep` before `config.steps`,
    /// `distillStep` after.
    public func trainStep(_ batch: TrainingBatch, step: Int) throws -> StepMetrics {
        step < config.steps ? try adversarialStep(batch, step: step) : try distillStep(batch, step: step)
    }

    /// The data-parallel wrappers of the teacher, D and the student.
    public var replicas: [(name: String, parallel: DistributedDataParallel)] {
        [("teacher", parallelG), ("discriminator", parallelD), ("student", parallelS)]
    }

    // MARK: - Generator

    /// The generator's side of an adversarial step.
    public struct Generated {
        /// Foreground instances [b, 4, S, S]: the image RGB and the teacher's soft mask.
        public var instances: Tensor
        /// The teacher's masks [b, 1, S, S].
        public var masks: Tensor
        /// The composite x_g = x·m + bg·(1 − m) [b, 3, S, S].
        public var composite: Tensor
    }

    /// Foreground provider → identity layout → composition over `background` (eq. 5 with N = 1
    /// foreground layer over the background instance, whose mask is all ones).
    public func generate(images: Tensor, background: Tensor, samples: [Int], step: Int) -> Generated {
        let instances = layout(provider.instances(images: images), seed: config.seed, step: step, keys: samples)
        let rgb = instances.slice(axis: 1, 0..<3), masks = instances.slice(axis: 1, 3..<4)
        let composite = Composition.composite(background: background, layers: [(appearance: rgb, mask: masks)])
        return Generated(instances: instances, masks: masks, composite: composite)
    }

    // MARK: - Adversarial step

    /// One D update and one G (teacher) update on this rank's `batch` (global step `step`).
    /// Metrics (averaged over ranks): `loss_d`, `loss_g`, `area` (L_area), `d_real`, `d_fake`,
    /// `mask_area` (mean ‖m‖₁/A of the teacher's masks), `real_sign` (E[sign(D logit)] on the real
    /// crops as D saw them, ADA's overfitting signal) and, with augmentation, `augment_p` after it.
    ///
    /// - Throws: `TrainingError.nonFinite` when a metric is NaN or infinite (on every rank alike,
    ///   since the metrics are averaged over ranks first); communicator errors.
    public func adversarialStep(_ batch: TrainingBatch, step: Int) throws -> StepMetrics {
        teacher.train(true)
        discriminator.train(true)
        let gen = generate(images: batch.images, background: batch.background, samples: batch.samples, step: step)
        let adversarial = AdversarialStep(discriminator: discriminator, parallelD: parallelD, optimizerD: optimizerD,
                                          parallelG: parallelG, optimizersG: [optimizerG])
        // D sees real and fake through the same kind of augmentation, drawn independently
        // (Note [Differentiable augmentation]); without it, `seen` is the identity.
        var (m, realLogits) = try adversarial.run(
            real: batch.images, fake: gen.composite, shown: ["loss_d", "loss_g", "mask_area", "d_real", "d_fake"],
            seen: { x, stream in augmentation.map { $0(x, stream: stream, step: step, samples: batch.samples) } ?? x }
        ) {
            let (area, penalty) = GANLoss.maskPenalty(masks: gen.masks, images: batch.images, config: config)
            return [GeneratorTerm(name: "area", value: area, loss: penalty)]
        }
        m["mask_area"] = Double(gen.masks.mean().item)
        m["real_sign"] = Self.meanSign(realLogits)
        try m.averageOverRanks(parallelG.communicator, step: step)
        if let augmentation {
            augmentation.adapt(realSign: m["real_sign"]!, batch: config.batchSize)
            m["augment_p"] = Double(augmentation.p)
        }
        return m
    }

    /// E[sign(logit)] over a batch of D's logits.
    static func meanSign(_ logits: Tensor) -> Double {
        var s = 0.0
        for i in 0..<logits.count { s += logits.data[i] > 0 ? 1 : logits.data[i] < 0 ? -1 : 0 }
        return s / Double(max(logits.count, 1))
    }

    // MARK: - Data distillation

    // Note [Distillation inputs]
    // The Appendix feeds the student "augmented input images that are composited from carved
    // foregrounds (by raw results) and random backgrounds", labelled with the teacher's
    // prediction, plus horizontal flips. With t = teacher(x) (eval mode, not recorded):
    //     input  = x·t + bg·(1 − t)     (the same composition as the generator's)
    //     target = t
    // and each sample is mirrored (input and target together) with probability ½, drawn from
    // CounterRNG(seed, "distill-flip", step, global sample index), so ranks never matter.
    // With `distill_target` "hard" the target is t ≥ 0.5 as 0/1 (the composited input still
    // uses the soft t): a soft teacher (masks around 0.3–0.5 on real micrographs) would
    // otherwise teach the student to stay below every threshold.

    /// The student's training pairs for `batch` at `step`: recomposited, flipped inputs and the
    /// teacher's masks as targets (both [b, ·, S, S], no history).
    public func distillationPair(_ batch: TrainingBatch, step: Int) -> (input: Tensor, target: Tensor) {
        let t = Self.masks(of: teacher, images: batch.images)
        return Autodiff.withoutRecording {
            var input = Composition.composite(background: batch.background, layers: [(appearance: batch.images, mask: t)])
            if config.distillInputs == "mixed" {
                let raw = batch.samples.map { sample -> Bool in
                    var rng = CounterRNG(seed: config.seed, purpose: "distill-raw", step: step, index: sample)
                    return rng.uniform() < 0.5
                }
                input = Self.choosing(batch.images, over: input, where: raw)
            }
            let flips = batch.samples.map { sample -> Bool in
                var rng = CounterRNG(seed: config.seed, purpose: "distill-flip", step: step, index: sample)
                return rng.uniform() < 0.5
            }
            let target = config.distillTarget == "hard" ? Self.hardened(t) : t
            return (Self.flipping(input, where: flips), Self.flipping(target, where: flips))
        }
    }

    /// Sample n of `a` where `pick[n]`, else of `b` (both [N, …], no history).
    static func choosing(_ a: Tensor, over b: Tensor, where pick: [Bool]) -> Tensor {
        precondition(a.shape == b.shape && pick.count == a.shape[0], "choosing: \(a.shape), \(b.shape), \(pick.count) flags")
        let per = a.count / max(a.shape[0], 1)
        return Tensor(shape: a.shape) { out in
            for (n, p) in pick.enumerated() { (out.baseAddress! + n * per).update(from: (p ? a.data : b.data) + n * per, count: per) }
        }
    }

    /// 1 where `m` ≥ 0.5, else 0 (no history).
    static func hardened(_ m: Tensor) -> Tensor {
        Tensor(shape: m.shape) { out in
            for i in 0..<m.count { out[i] = m.data[i] >= 0.5 ? 1 : 0 }
        }
    }

    /// A copy of `x` [N, C, H, W] with sample n mirrored left ↔ right where `flips[n]` and, when
    /// `vertical` is given, top ↔ bottom where `vertical[n]` (no history; hoc's distillation
    /// mirrors both ways).
    static func flipping(_ x: Tensor, where flips: [Bool], vertical: [Bool]? = nil) -> Tensor {
        precondition(x.rank == 4 && flips.count == x.shape[0] && (vertical?.count ?? flips.count) == flips.count,
                     "flipping: \(x.shape) with \(flips.count) flags")
        let per = x.count / max(x.shape[0], 1), h = x.shape[2], w = x.shape[3]
        return Tensor(shape: x.shape) { out in
            let src = x.data, dst = out.baseAddress!
            for (n, flip) in flips.enumerated() {
                let a = src + n * per, b = dst + n * per
                let down = vertical?[n] ?? false
                if !flip && !down { b.update(from: a, count: per); continue }
                for row in 0..<(per / w) {
                    let from = down ? (row / h) * h + h - 1 - row % h : row
                    for j in 0..<w { b[row * w + j] = a[from * w + (flip ? w - 1 - j : j)] }
                }
            }
        }
    }

    /// One student update (Appendix, eq. 8) on this rank's `batch` at global step `step`; the
    /// teacher is frozen (evaluation mode, nothing recorded). Metrics (averaged over ranks):
    /// `loss_distill` (the smooth L1 of eq. 8), `teacher_area` and `student_area` (mean area
    /// fractions of the targets and of the student's masks).
    ///
    /// - Throws: `TrainingError.nonFinite` on a NaN or infinite metric; communicator errors.
    public func distillStep(_ batch: TrainingBatch, step: Int) throws -> StepMetrics {
        let (input, target) = distillationPair(batch, step: step)
        student.train(true)
        parallelS.zeroGradients()
        let predicted = student(input)
        let loss = predicted.smoothL1(target)
        loss.backward()
        try parallelS.allReduceGradients()
        optimizerS.step()
        var m = StepMetrics(phase: "distill", shown: ["loss_distill", "teacher_area", "student_area"])
        m["loss_distill"] = Double(loss.item)
        m["teacher_area"] = Double(target.mean().item)
        m["student_area"] = Double(predicted.mean().item)
        try m.averageOverRanks(parallelS.communicator, step: step)
        return m
    }

    // Note [Box in its surroundings]
    // In a tight box crop the whole crop is a perfect forgery: mask 1 makes the composite the real
    // crop, and only L_area stands between a discriminator that has memorised a few dozen crops and
    // that answer (real-fg with λ = 1 on the 24 cut-outs: mask area 0.61 → 0.97 over 2000 steps).
    // Cut-and-Paste (Remez et al., 2018) shows the pasted box with its new surroundings instead.
    // With `box_margin` m the crops are the boxes widened by m × their side (`carve data boxes
    // --margin m`), the masks are zero outside the central box, and D sees the box in the ring of
    // its real surroundings, or in the new background: mask 1 now pastes a visible rectangle.
    // Measured (λ = 1, m = 0.1, seed 1; README "fg on real box crops"): on the 24 cut-outs the
    // mask area stays at 0.33–0.43 of the crop (the objects: 0.30), no collapse, but the student is
    // no better (0.483; tight crops with λ = 3: 0.491); on the 324 photo composites the student
    // reaches 0.753 (tight, λ = 1: 0.736; λ = 3: 0.651). At real-fg's λ = 3 on every set (seed 1,
    // edge-repeated crops): composites 0.707, cut-outs 0.519 (tight 0.491), but scratch-assay
    // nuclei 0.895 (tight 0.907): packed nuclei put neighbours in a real crop's ring and none in a
    // composite's, a cue for D that is not the mask. So it is a choice made when cutting the data,
    // not a preset's default. The box is the crop's centre: where the
    // ring leaves the image `carve data boxes` repeats the image's edge, and it records m in the
    // crops' folder (crops.json), which a new run takes as its `box_margin`
    // (`FgApplication.prepare`).

    /// The box inside a crop of side `size` cut with `margin` × the box's side on every side:
    /// [1, 1, size, size], 1 where a pixel's centre lies in [m, 1 + m] / (1 + 2m) along both axes.
    static func boxWindow(size: Int, margin m: Double) -> Tensor {
        let lo = m / (1 + 2 * m), hi = (1 + m) / (1 + 2 * m)
        let inside = (0..<size).map { j -> Bool in
            let c = (Double(j) + 0.5) / Double(size)
            return c >= lo && c <= hi
        }
        return Tensor(shape: [1, 1, size, size], values: (0..<size * size).map { inside[$0 / size] && inside[$0 % size] ? 1 : 0 })
    }

    // MARK: - Inference

    /// The soft masks [B, 1, S, S] of `network` (evaluation mode, not recorded) for images [B, 3, S, S].
    public static func masks(of network: UNet, images: Tensor) -> Tensor {
        let was = network.isTraining
        network.train(false)
        defer { network.train(was) }
        return Autodiff.withoutRecording { network(images) }
    }

    /// The masks the model gives for images [B, 3, S, S] (evaluation, `carve segment`):
    /// `network`'s soft masks, or with `refine` "colour" each thresholded at 0.5 and refined by
    /// its own image's colours (0/1; Note [Colour refinement]), or with "grabcut" GrabCut from
    /// the box seeded by the mask's confident core (0/1; Note [GrabCut baseline]).
    public func outputMasks(of network: UNet, images: Tensor) -> Tensor {
        output(Self.masks(of: network, images: images), images: images)
    }

    /// `soft` masks [B, 1, S, S] of `images` as the model gives them: refined when `refine` asks.
    public func output(_ soft: Tensor, images: Tensor) -> Tensor {
        switch config.refine {
        case "colour":
            let refined = Self.refined(soft, images: images)
            return teacher.window.map { refined * $0 } ?? refined  // the refinement stays in the box too
        case "grabcut":
            let sureBackground = Self.sureBackground(size: config.imageSize, margin: config.boxMargin)
            return Self.refined(soft, images: images) { mask, image in
                GrabCut.seeded(image, soft: mask, sureBackground: sureBackground)
            }
        default:
            return soft
        }
    }

    /// GrabCut's certain background in an S × S crop (Note [GrabCut baseline]): the ring outside
    /// the box of a crop cut with `margin` (outside `boxWindow`), or a tight crop's one-pixel frame.
    static func sureBackground(size s: Int, margin: Double) -> [Bool] {
        margin > 0 ? boxWindow(size: s, margin: margin).array.map { $0 < 0.5 } : GrabCut.frame(height: s, width: s)
    }

    /// Each of `masks` [B, 1, S, S] refined by its image of `images` [B, C, S, S] (0/1): by
    /// `refinement` of the soft mask, by default `ColourRefinement` of the mask at 0.5.
    static func refined(_ masks: Tensor, images: Tensor,
                        by refinement: ([Float], Image) -> [Bool] = { mask, image in
                            ColourRefinement.refined(mask.map { $0 >= 0.5 }, image: image)
                        }) -> Tensor {
        let b = masks.shape[0], h = masks.shape[2], w = masks.shape[3], c = images.shape[1], hw = h * w
        return Tensor(shape: masks.shape) { out in
            for n in 0..<b {
                let image = Image(channels: c, height: h, width: w,
                                  pixels: Array(UnsafeBufferPointer(start: images.data + n * c * hw, count: c * hw)))
                let mask = Array(UnsafeBufferPointer(start: masks.data + n * hw, count: hw))
                for (i, on) in refinement(mask, image).enumerated() { out[n * hw + i] = on ? 1 : 0 }
            }
        }
    }

    /// True when the checkpointed step is past the adversarial phase, i.e. the student was trained.
    public func isDistilled(step: Int) -> Bool { config.distillSteps > 0 && step > config.steps }
}
