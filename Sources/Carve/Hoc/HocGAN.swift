import DDP
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
    public let provider: NoiseInstanceProvider
    public let layout: TranslationLayout
    let optimizerG: Adam
    let optimizerD: Adam
    let optimizerQ: Adam?
    let parallelG: DistributedDataParallel
    let parallelD: DistributedDataParallel

    public init(config: Configuration, communicator: any Communicator) {
        self.config = config
        generator = NoiseGenerator(zDim: config.zDim, widths: config.gChannels, maskEnvelope: config.maskEnvelope,
                                   upsample: UpsamplingKind(rawValue: config.upsample) ?? .deconv)
        discriminator = Discriminator(widths: config.dChannels)
        information = config.beta > 0 ? InformationHead(zDim: config.zDim, widths: config.qChannels) : nil
        generator.initialize(seed: config.seed, path: "G/")
        discriminator.initialize(seed: config.seed, path: "D/")
        information?.initialize(seed: config.seed, path: "Q/")
        provider = NoiseInstanceProvider(generator: generator)
        layout = TranslationLayout(padding: config.padding)
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
    }

    /// The networks by checkpoint prefix: G, D and (when β > 0) Q.
    public var networks: [(prefix: String, module: any Module)] {
        var out: [(String, any Module)] = [("G", generator), ("D", discriminator)]
        if let information { out.append(("Q", information)) }
        return out
    }

    /// The optimizers by checkpoint prefix.
    public var optimizers: [(prefix: String, adam: Adam)] {
        var out = [("G", optimizerG), ("D", optimizerD)]
        if let optimizerQ { out.append(("Q", optimizerQ)) }
        return out
    }

    /// One phase: `config.steps` adversarial steps.
    public var totalSteps: Int { config.steps }
    public func endsPhase(after step: Int) -> Bool { false }

    /// The data-parallel wrappers of G (with Q) and D.
    public var replicas: [(name: String, parallel: DistributedDataParallel)] {
        [("generator", parallelG), ("discriminator", parallelD)]
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
