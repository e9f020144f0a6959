import DDP
import Imaging
import Foundation
import Tensor

/// The hoc application (paper, "Learning Instance Appearances and Masks From One Image of HOC"):
/// N noise instance providers sharing one generator, the pad-and-crop layout, composition over a
/// real patch with a black disk, an SN-GAN discriminator, the area penalty and the information term.
///
/// One `trainStep` is the per-rank data flow of docs/ARCHITECTURE.md: this rank's slice of the global batch
/// → instances → layout → composite → D update (allreduce-mean of D gradients, Adam) → G update
/// (non-saturating loss + λ·L_area + β·information term, allreduce-mean of G and Q gradients, Adam).
public final class HocGAN: GANModel {
    public let config: Configuration
    public let generator: NoiseGenerator
    public let discriminator: Discriminator
    /// The information head; nil when β = 0.
    public let information: InformationHead?
    /// The instance segmenter distilled from the generator (checkpoint `S/`; Note [Centre maps]),
    /// when `distill_steps` > 0; nil otherwise, so hoc checkpoints without one keep their shape.
    public let segmenter: UNet?
    public let provider: NoiseInstanceProvider
    public let layout: TranslationLayout
    let optimizerG: Adam
    let optimizerD: Adam
    let optimizerQ: Adam?
    let optimizerS: Adam?
    let parallelG: DistributedDataParallel
    let parallelD: DistributedDataParallel
    let parallelS: DistributedDataParallel?

    public init(config: Configuration, communicator: any Communicator) {
        self.config = config
        generator = NoiseGenerator(zDim: config.zDim, widths: config.gChannels, maskEnvelope: config.maskEnvelope,
                                   maskStar: config.maskStar,
                                   upsample: UpsamplingKind(rawValue: config.upsample) ?? .deconv)
        discriminator = Discriminator(widths: config.dChannels)
        information = config.beta > 0 ? InformationHead(zDim: config.zDim, widths: config.qChannels) : nil
        segmenter = config.distillSteps > 0
            ? UNet(outputChannels: 2, widths: config.unetChannels, upsample: UpsamplingKind(rawValue: config.upsample) ?? .deconv)
            : nil
        generator.initialize(seed: config.seed, path: "G/")
        discriminator.initialize(seed: config.seed, path: "D/")
        information?.initialize(seed: config.seed, path: "Q/")
        segmenter?.initialize(seed: config.seed, path: "S/")
        provider = NoiseInstanceProvider(generator: generator)
        layout = TranslationLayout(padding: config.padding, transposedProviders: config.layoutTranspose ? config.layers : 0,
                                   rotates: config.layoutRotate)
        let gq = generator.namedParameters() + (information?.namedParameters(prefix: "Q/") ?? [])
        parallelG = DistributedDataParallel(
            parameters: gq, buffers: generator.namedBuffers() + (information?.namedBuffers() ?? []),
            communicator: communicator)
        parallelD = DistributedDataParallel(module: discriminator, communicator: communicator)
        let b1 = config.adamBeta1, b2 = config.adamBeta2
        optimizerG = Adam(parameters: generator.namedParameters(), learningRate: Float(config.lrG), beta1: b1, beta2: b2)
        optimizerD = Adam(parameters: discriminator.namedParameters(), learningRate: Float(config.lrD), beta1: b1, beta2: b2)
        optimizerQ = information.map {
            Adam(parameters: $0.namedParameters(), learningRate: Float(config.lrG), beta1: b1, beta2: b2)
        }
        parallelS = segmenter.map { DistributedDataParallel(module: $0, communicator: communicator) }
        // A supervised regression, as fg's student: the generator's rate with Adam's usual β1.
        optimizerS = segmenter.map { Adam(parameters: $0.namedParameters(), learningRate: Float(config.lrG), beta1: 0.9, beta2: b2) }
    }

    /// The networks by checkpoint prefix: G, D, Q (when β > 0) and S (when distilling).
    public var networks: [(prefix: String, module: any Module)] {
        var out: [(String, any Module)] = [("G", generator), ("D", discriminator)]
        if let information { out.append(("Q", information)) }
        if let segmenter { out.append(("S", segmenter)) }
        return out
    }

    /// The optimizers by checkpoint prefix.
    public var optimizers: [(prefix: String, adam: Adam)] {
        var out = [("G", optimizerG), ("D", optimizerD)]
        if let optimizerQ { out.append(("Q", optimizerQ)) }
        if let optimizerS { out.append(("S", optimizerS)) }
        return out
    }

    /// `config.steps` adversarial steps, then `config.distillSteps` steps distilling the
    /// instance segmenter.
    public var totalSteps: Int { config.steps + config.distillSteps }
    /// The adversarial phase ends at `config.steps` when distillation follows.
    public func endsPhase(after step: Int) -> Bool { step == config.steps && config.distillSteps > 0 }

    /// True when the checkpointed step is past the adversarial phase, i.e. the segmenter was trained.
    public func isDistilled(step: Int) -> Bool { segmenter != nil && step > config.steps }

    /// The data-parallel wrappers of G (with Q), D and the segmenter.
    public var replicas: [(name: String, parallel: DistributedDataParallel)] {
        [("generator", parallelG), ("discriminator", parallelD)] + (parallelS.map { [("segmenter", $0)] } ?? [])
    }

    /// Instance keys for `samples`, layer-major: key of layer i, sample s is samples[s]·N + i.
    func keys(samples: [Int]) -> [Int] {
        let n = config.layers
        return (0..<n).flatMap { i in samples.map { $0 * n + i } }
    }

    /// The generator's side of a step: instances, warped layers and the composite.
    public struct Generated {
        /// z of every instance [N·b, dim(z)], layer-major.
        public var z: Tensor
        /// Provider outputs [N·b, 4, 64, 64] (before the layout).
        public var instances: Tensor
        /// The layers after the layout, N pairs of appearance [b, 3, 64, 64] and mask [b, 1, 64, 64].
        public var layers: [(appearance: Tensor, mask: Tensor)]
        /// The composite x_N [b, 3, 64, 64].
        public var composite: Tensor
    }

    /// Instances [K, 4, S, S] for noise z [K, zDim] in eval mode, sample i turned as the layout
    /// turns provider i mod N's instances (`layout_transpose`, `layout_rotate`) at `step`: the
    /// instance the composition shows, up to its place. With the layout's turns on, a provider's
    /// own orientation is never seen by the discriminator, so evaluation (the shape measure) and
    /// `carve sample` take the instances so.
    public func sampledInstances(z: Tensor, step: Int) -> Tensor {
        generator.train(false)
        defer { generator.train(true) }
        return Autodiff.withoutRecording {
            layout.turning(generator(z), seed: config.seed, step: step, keys: Array(0..<z.shape[0]))
        }
    }

    /// Runs providers, layout and composition for `samples` over `background` at `step`.
    public func generate(background: Tensor, samples: [Int], step: Int) -> Generated {
        let b = samples.count, n = config.layers
        let keys = keys(samples: samples)
        let z = provider.noise(seed: config.seed, step: step, keys: keys)
        let instances = generator(z)
        let warped = layout(instances, seed: config.seed, step: step, keys: keys)
        let rgb = warped.slice(axis: 1, 0..<3), mask = warped.slice(axis: 1, 3..<4)
        let layers = (0..<n).map { i in
            (appearance: rgb.slice(axis: 0, (i * b)..<((i + 1) * b)), mask: mask.slice(axis: 0, (i * b)..<((i + 1) * b)))
        }
        let composite = Composition.composite(background: background, layers: layers)
        return Generated(z: z, instances: instances, layers: layers, composite: composite)
    }

    /// One D update and one G update on this rank's `batch` (global step `step`); `batch.images`
    /// are real patches. Metrics (averaged over ranks): `loss_d`, `loss_g`, `area` (L_area),
    /// `info` (the information term, 0 without one), `d_real`, `d_fake`, `mask_area` (mean ‖m‖₁/A).
    ///
    /// - Throws: `TrainingError.nonFinite` when a metric is NaN or infinite (on every rank alike,
    ///   since the metrics are averaged over ranks first); communicator errors.
    public func trainStep(_ batch: TrainingBatch, step: Int) throws -> StepMetrics {
        step < config.steps ? try adversarialStep(batch, step: step) : try distillStep(batch, step: step)
    }

    /// One D update and one G update (see `trainStep`).
    public func adversarialStep(_ batch: TrainingBatch, step: Int) throws -> StepMetrics {
        generator.train(true)
        discriminator.train(true)
        information?.train(true)
        let gen = generate(background: batch.background, samples: batch.samples, step: step)
        let adversarial = AdversarialStep(discriminator: discriminator, parallelD: parallelD, optimizerD: optimizerD,
                                          parallelG: parallelG, optimizersG: [optimizerG] + (optimizerQ.map { [$0] } ?? []))
        let masks = gen.instances.slice(axis: 1, 3..<4)
        var (m, _) = try adversarial.run(real: batch.images, fake: gen.composite,
                                         shown: ["loss_d", "loss_g", "mask_area", "d_real", "d_fake"], seen: { x, _ in x }) {
            let (area, penalty) = GANLoss.maskPenalty(masks: masks, config: config)
            var terms = [GeneratorTerm(name: "area", value: area, loss: penalty)]
            if let information {
                let info = GANLoss.information(predicted: information(gen.instances), z: gen.z)
                terms.append(GeneratorTerm(name: "info", value: info, loss: info * Float(config.beta)))
            }
            return terms
        }
        if information == nil { m["info"] = 0 }
        m["mask_area"] = Double(masks.mean().item)
        try m.averageOverRanks(parallelG.communicator, step: step)
        return m
    }
}

// MARK: - Distillation

extension HocGAN {
    // Note [hoc distillation]
    // The trained providers, layout and composition make unlimited patches whose instances are
    // known exactly. At a distillation step the generator (evaluation mode, nothing recorded)
    // composites N instances over `batch.background` (the application's object-free plate for
    // these steps) as in training; layer i is visible where its hardened mask m_i ≥ 0.5 and no
    // later layer's is (the stacking order is the occlusion). A layer whose mean colour over its
    // mask lies within twice the plate's noise of the plate's mean colour is not an object: on
    // sparse clusters (nuclei_scratch_assay) most providers learn to paint dark background, and
    // labelling those as instances made the segmenter find 12× too many objects (AP@0.5 0.06).
    // Nor is a layer nearer the plate's colour than the objects' (Otsu's two class means, the
    // objects' pooled over every source image, `HocDataset.plates`): on nuclei_cells3d providers
    // also paint the dim grey glow between nuclei, and as objects those taught the segmenter to
    // take the glow for nuclei (instances spilling over the background; AP@0.5 0.32 → 0.37,
    // 0.50 → 0.56, and with the decoding of Note [Centre maps] 0.39 → 0.54 on the three seeds'
    // generators). The objects' colour per source image instead (one dim, out-of-focus slice)
    // lost the dim nuclei of the others (0.32 → 0.23); a threshold at 0.3 or 0.7 of the way from
    // the plate to the objects instead of 0.5 lost AP both ways (0.53 → 0.38). Where Otsu's
    // threshold clipped a rare saturated tail (Note [Outlier tail]), the objects' colour is
    // measured clipped alike: on nuclei_fluor.png five saturated nuclei (0.7 % of the pixels)
    // raised the ~70 dim nuclei's colour from 0.09 to 0.10 over a plate of 0.013, which put
    // seed 2's dimmer generated nuclei on the plate's side: its segmenter found 21 ragged
    // pieces of nuclei, clipped 52 nuclei (seed 1: 53 → 57). The median of the objects' side
    // instead did as well there (55) but moved the cut towards the glow on nuclei_cells3d
    // (trained on slice 004 alone, seed 2: AP@0.5 0.65 → 0.22); the clip leaves every image
    // without such a tail (the labelled sets, the coins) exactly as before.
    // Such a layer is composited and occludes what is below it, but its pixels are background.
    // The generator's instances are in focus; a real stack has slices that are not (two of
    // nuclei_cells3d's nine, whose nuclei the segmenter missed): with `distill_blur` each input
    // is smoothed by the binomial kernel (σ = 1 px) 0…distill_blur times, by CounterRNG(seed,
    // "distill-blur", step, sample), so σ up to √distill_blur px at patch scale. real-hoc: 3
    // (nuclei_cells3d AP@0.5 0.53 → 0.63 on seed 3). That still misses the most out-of-focus
    // slice's nuclei; 32 finds about half of them but merges nuclei where every image is sharp, so the preset
    // keeps 3 and `auto_scale` raises it to 32 only where some images are out of focus against
    // the rest (Note [hoc scale], with what 8, 32 and half-sharp inputs measured).
    // The visible label image gives the
    // segmenter's targets (Note [Centre maps]): foreground and centreness. Each sample is
    // mirrored left ↔ right and/or top ↔ bottom (input and targets together) by
    // CounterRNG(seed, "distill-flip", step, sample), so ranks never matter. Loss: binary
    // cross-entropy of the foreground map + squared error of the centreness map, both means
    // over pixels.

    /// The segmenter's training pairs for `batch` at `step`: composites [b, 3, S, S] and
    /// targets [b, 2, S, S] (foreground, centreness), no history.
    public func distillationPair(_ batch: TrainingBatch, step: Int) -> (input: Tensor, target: Tensor) {
        let was = generator.isTraining
        generator.train(false)
        defer { generator.train(was) }
        return Autodiff.withoutRecording {
            let gen = generate(background: batch.background, samples: batch.samples, step: step)
            let b = batch.samples.count, size = config.imageSize, hw = size * size
            let target = Tensor(shape: [b, 2, size, size]) { out in
                for n in 0..<b {
                    let plate = n < batch.plates.count ? batch.plates[n]
                        : HocDataset.Plate(measuring: batch.background.data + n * 3 * hw, planeSize: hw)
                    var labels = [Int32](repeating: 0, count: hw)
                    for (i, layer) in gen.layers.enumerated() {
                        let m = layer.mask.data + n * hw
                        let object = Self.standsOut(layer.appearance.data + n * 3 * hw, mask: m, count: hw, from: plate)
                        for j in 0..<hw where m[j] >= 0.5 { labels[j] = object ? Int32(i + 1) : 0 }
                    }
                    let (fg, centre) = CentreMaps.targets(visible: labels, height: size, width: size)
                    (out.baseAddress! + n * 2 * hw).update(from: fg, count: hw)
                    (out.baseAddress! + n * 2 * hw + hw).update(from: centre, count: hw)
                }
            }
            let flips = batch.samples.map { sample -> (Bool, Bool) in
                var rng = CounterRNG(seed: config.seed, purpose: "distill-flip", step: step, index: sample)
                return (rng.uniform() < 0.5, rng.uniform() < 0.5)
            }
            let across = flips.map(\.0), down = flips.map(\.1)
            var input = gen.composite
            if config.distillBlur > 0 {
                input = Tensor(shape: [b, 3, size, size]) { out in
                    for n in 0..<b {
                        var rng = CounterRNG(seed: config.seed, purpose: "distill-blur", step: step, index: batch.samples[n])
                        let times = rng.int(below: config.distillBlur + 1)
                        for c in 0..<3 {
                            let start = (n * 3 + c) * hw
                            var plane = Image(channels: 1, height: size, width: size,
                                              pixels: Array(UnsafeBufferPointer(start: gen.composite.data + start, count: hw)))
                            for _ in 0..<times { plane = ClassicalSegmentation.smoothed(plane) }
                            (out.baseAddress! + start).update(from: plane.pixels, count: hw)
                        }
                    }
                }
            }
            return (FgGAN.flipping(input, where: across, vertical: down), FgGAN.flipping(target, where: across, vertical: down))
        }
    }

    /// Whether a layer's appearance (RGB planes of `count`) over its hardened mask differs from
    /// the plate by more than twice the plate's noise, ‖mean colour − plate mean‖ > 2·‖plate
    /// deviation‖, and, when the plate knows the objects' colour, lies nearer to it than to the
    /// plate's (Note [hoc distillation]); false for an empty mask.
    static func standsOut(_ appearance: UnsafePointer<Float>, mask: UnsafePointer<Float>, count: Int,
                          from plate: HocDataset.Plate) -> Bool {
        var sums = [Double](repeating: 0, count: 3), n = 0
        for j in 0..<count where mask[j] >= 0.5 {
            n += 1
            for c in 0..<3 { sums[c] += Double(appearance[c * count + j]) }
        }
        guard n > 0 else { return false }
        var distance = 0.0, noise = 0.0, along = 0.0, gap = 0.0
        for c in 0..<3 {
            let d = sums[c] / Double(n) - Double(plate.mean[c]), e = Double(plate.deviation[c])
            distance += d * d
            noise += e * e
            if let objects = plate.objectColour {
                let o = Double(objects[c]) - Double(plate.mean[c])
                along += d * o
                gap += o * o
            }
        }
        // Nearer the objects' colour than the plate's: (m − b)·(o − b) > ½‖o − b‖².
        let towardObjects = plate.objectColour == nil || along > 0.5 * gap
        return distance.squareRoot() > 2 * noise.squareRoot() && towardObjects
    }

    /// One segmenter update (Note [hoc distillation]) on this rank's `batch` at global step
    /// `step`. Metrics (averaged over ranks): `loss_distill` (the sum of both terms),
    /// `loss_foreground`, `loss_centre`, `target_area` and `segmenter_area` (foreground fractions).
    ///
    /// - Throws: `TrainingError.nonFinite` on a NaN or infinite metric; communicator errors.
    public func distillStep(_ batch: TrainingBatch, step: Int) throws -> StepMetrics {
        guard let segmenter, let parallelS, let optimizerS else {
            preconditionFailure("HocGAN.distillStep: distill_steps is 0")
        }
        let (input, target) = distillationPair(batch, step: step)
        segmenter.train(true)
        parallelS.zeroGradients()
        let predicted = segmenter(input)
        let p = predicted.slice(axis: 1, 0..<1), t = target.slice(axis: 1, 0..<1)
        let eps: Float = 1e-6
        let foreground = ((t * (p + eps).log()) + ((1 - t) * ((1 - p) + eps).log())).mean() * -1
        let centre = predicted.slice(axis: 1, 1..<2).mse(target.slice(axis: 1, 1..<2))
        let loss = foreground + centre
        loss.backward()
        try parallelS.allReduceGradients()
        optimizerS.step()
        var m = StepMetrics(phase: "distill", shown: ["loss_distill", "target_area", "segmenter_area"])
        m["loss_distill"] = Double(loss.item)
        m["loss_foreground"] = Double(foreground.item)
        m["loss_centre"] = Double(centre.item)
        m["target_area"] = Double(t.mean().item)
        m["segmenter_area"] = Double(p.mean().item)
        try m.averageOverRanks(parallelS.communicator, step: step)
        return m
    }
}

/// Failures of a training run a user should hear about in one line.
public enum TrainingError: LocalizedError, Equatable {
    case nonFinite(step: Int, what: String)
    case dataTooSmall(count: Int, batch: Int)
    case runDirectory(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .nonFinite(step, what): return "step \(step): non-finite loss (\(what)); the last checkpoint is intact"
        case let .dataTooSmall(count, batch): return "the dataset has \(count) samples, fewer than the global batch \(batch)"
        case let .runDirectory(path, reason): return "run folder \(path): \(reason)"
        }
    }
}
