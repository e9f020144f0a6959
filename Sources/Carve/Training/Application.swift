// Note [Application seam]
// The paper has two applications, hoc (instances from one image of a dense cluster) and fg
// (foreground segmentation of box crops). Everything that differs between them sits behind two
// protocols, one folder each (Sources/Carve/Hoc, Sources/Carve/Fg):
//   GANModel    the networks and optimizers built from a configuration, start-up under DDP, and
//               the step of every phase (hoc: adversarial; fg: adversarial, then distillation);
//   Application the data of a run (loading, this rank's batch of a step) and evaluation, during
//               training (rank 0, into the run folder) and of a checkpoint (`carve ckpt eval`).
// Everything else exists once: the loop, resume, checkpoints, metrics, progress, the stop
// agreement, fault checks and evaluation scheduling (Trainer, TrainingRun, StepSchedule), the
// adversarial step skeleton (AdversarialStep), loading a model from a checkpoint
// (CheckpointTools.model), and the choice of application by `config.application`
// (`Applications.all`, the one place that names them). A third application is one folder and one
// entry in that list.
import DDP
import Imaging
import Foundation
import Tensor

/// A batch of this rank for one step: images [b, 3, S, S] (hoc: real patches; fg: box crops),
/// background patches [b, 3, S, S], and the global sample numbers that key their randomness.
public struct TrainingBatch {
    public var images: Tensor
    public var background: Tensor
    public var samples: [Int]
    /// hoc distillation steps: the object-free plate under each sample (Note [hoc distillation]);
    /// empty otherwise.
    public var plates: [HocDataset.Plate]

    public init(images: Tensor, background: Tensor, samples: [Int], plates: [HocDataset.Plate] = []) {
        self.images = images
        self.background = background
        self.samples = samples
        self.plates = plates
    }
}

/// The networks and optimizers of one application and its training step (Note [Application seam]).
///
/// ```swift
/// let gan = HocGAN(config: try Presets.named("tiny"), communicator: LocalCommunicator())
/// try gan.synchronizeReplicas()
/// let metrics = try gan.trainStep(batch, step: 0)   // metrics["loss_d"], metrics["mask_area"], …
/// ```
public protocol GANModel: AnyObject {
    /// Builds the networks (initialised from `config.seed`) and their optimizers.
    init(config: Configuration, communicator: any Communicator)
    var config: Configuration { get }
    /// The networks by checkpoint prefix (`G`, `D`, …), parameters and buffers in declaration order.
    var networks: [(prefix: String, module: any Module)] { get }
    /// The optimizers by checkpoint prefix (`opt/G/…`).
    var optimizers: [(prefix: String, adam: Adam)] { get }
    /// The steps of every phase together (the run's last step).
    var totalSteps: Int { get }
    /// Whether `step` ends a phase before the last (an evaluation is due there).
    func endsPhase(after step: Int) -> Bool
    /// The data-parallel wrapper of each network, by name (for start-up checks and broadcasts).
    var replicas: [(name: String, parallel: DistributedDataParallel)] { get }
    /// The training step at global step `step`, in whichever phase it falls; metrics averaged
    /// over ranks.
    /// - Throws: `TrainingError.nonFinite` on a NaN or infinite metric (every rank alike).
    func trainStep(_ batch: TrainingBatch, step: Int) throws -> StepMetrics
}

extension GANModel {
    /// Start-up under DDP: checks that every rank built the same configuration and networks, then
    /// broadcasts rank 0's parameters and buffers of each.
    public func synchronizeReplicas() throws {
        guard let communicator = replicas.first?.parallel.communicator else { return }
        try communicator.verifyAgreement([("configuration", config.hash)]
            + replicas.map { ("\($0.name) parameters", $0.parallel.parameterFingerprint) })
        for replica in replicas {
            replica.parallel.name = replica.name  // "gradients of discriminator" in a watchdog message
            try replica.parallel.broadcastParameters()
        }
    }
}

/// What an evaluation left: metrics.json (or RUN/eval/step-N.json) and a one-line summary.
public struct EvaluationOutcome {
    public var url: URL
    /// E.g. "teacher mean IoU 0.812" or "single-component rate 0.95, mask area 0.21".
    public var summary: String
}

/// The data and evaluation of one application (Note [Application seam]).
public protocol Application {
    associatedtype Model: GANModel
    /// The `application` value of a configuration that selects it ("hoc", "fg").
    static var name: String { get }
    /// Checks only this application makes of a configuration (e.g. the image sizes its networks take).
    static func validate(_ config: Configuration) throws
    /// A new run's configuration with what it leaves to the data filled in from `dataPath`
    /// (hoc's `auto_scale`: the window and area target measured on the image); called once,
    /// before the run folder records the configuration, never on resume.
    static func prepare(_ config: Configuration, dataPath: String?) throws -> Configuration
    /// What a batch's images are called in a bad-data error ("real patches", "images").
    static var imagesDescription: String { get }
    /// Loads the run's data, the same on every rank (rank 0 also what it evaluates on); writes nothing.
    init(config: Configuration, options: TrainOptions, isLeader: Bool) throws
    /// The number of training samples (the sharding's dataset size).
    var datasetSize: Int { get }
    /// This rank's batch of global step `step`: dataset rows `indices`, global samples `samples`.
    func batch(step: Int, indices: [Int], samples: [Int]) -> TrainingBatch
    /// Rank 0's evaluation of `model` after `step`: RUN/eval/step-N.json (and what else the
    /// application writes there) and the panel RUN/samples/step-N.png.
    func evaluate(_ model: Model, step: Int, run: RunFolder) throws -> EvaluationOutcome
    /// `carve ckpt eval`: evaluates `model` (loaded from `file`, at `step`) on `dataPath` into
    /// `out` (metrics.json, panel.png, …), creating `out` only once the data has loaded.
    static func evaluate(_ model: Model, step: Int, file: String, dataPath: String?, out: URL) throws -> URL
}

extension Application {
    /// By default a configuration needs nothing from the data.
    public static func prepare(_ config: Configuration, dataPath: String?) throws -> Configuration { config }
}

/// The applications Carve knows, chosen by `config.application`.
public enum Applications {
    /// Every application; a new one is a folder of its own and one entry here.
    public static let all: [any Application.Type] = [HocApplication.self, FgApplication.self]

    /// The application named `name`.
    /// - Throws: `ConfigurationError` listing the known names.
    public static func named(_ name: String) throws -> any Application.Type {
        guard let type = all.first(where: { $0.name == name }) else {
            throw ConfigurationError("application must be one of \(all.map { $0.name }.joined(separator: ", ")), not \(name)")
        }
        return type
    }
}
