import DDP
import Tensor

/// One term of the generator's loss beyond the adversarial one, e.g. λ·L_area or β·L_info.
public struct GeneratorTerm {
    /// Its metrics.jsonl name ("area", "info").
    public var name: String
    /// The value reported (the unweighted loss).
    public var value: Tensor
    /// What it adds to the generator's loss (the weighted loss).
    public var loss: Tensor

    public init(name: String, value: Tensor, loss: Tensor) {
        self.name = name
        self.value = value
        self.loss = loss
    }
}

/// The adversarial step both applications share (paper eq. 6 and 7): one D update on real images
/// and detached composites, then one G update through the frozen D, each network's gradients
/// averaged over ranks through its DDP bucket before Adam.
///
/// The application gives what differs: the composite (its providers, layout and composition),
/// what D sees of an image batch (`seen`: augmentation or the identity) and the generator's
/// extra terms (area penalty, information term).
///
/// ```swift
/// let step = AdversarialStep(discriminator: d, parallelD: pd, optimizerD: od, parallelG: pg, optimizersG: [og])
/// var (metrics, realLogits) = try step.run(real: batch.images, fake: composite, seen: { x, _ in x }) {
///     [GeneratorTerm(name: "area", value: area, loss: penalty)]
/// }
/// ```
struct AdversarialStep {
    let discriminator: Discriminator
    let parallelD: DistributedDataParallel
    let optimizerD: Adam
    let parallelG: DistributedDataParallel
    /// Every optimizer of the generator side (hoc: G and Q).
    let optimizersG: [Adam]

    /// Runs the D update then the G update. Returns the metrics `loss_d`, `loss_g` (the adversarial
    /// part), each term's value, `d_real` and `d_fake` (mean sigmoid of D on real images and on
    /// composites), not yet averaged over ranks, and D's logits on the real images as it saw them.
    /// - Parameters:
    ///   - real: this rank's real images [b, 3, S, S].
    ///   - fake: the composites [b, 3, S, S], with the generator's history.
    ///   - seen: what D sees of a batch, per stream ("augment-real", "augment-fake").
    ///   - terms: the generator's extra loss terms, built after its adversarial loss.
    func run(real: Tensor, fake: Tensor, phase: String = "adversarial", shown: [String],
             seen: (Tensor, String) -> Tensor, terms: () -> [GeneratorTerm]) throws -> (StepMetrics, realLogits: Tensor) {
        // D update: L_D of eq. (6) on the real images and the (detached) composites.
        parallelD.zeroGradients()
        let realLogits = discriminator(seen(real, "augment-real"))
        let fakeLogitsD = discriminator(seen(fake.detached(), "augment-fake"))
        let lossD = GANLoss.discriminator(realLogits: realLogits, fakeLogits: fakeLogitsD)
        lossD.backward()
        try parallelD.allReduceGradients()
        optimizerD.step()

        // G update: gradients flow through D into the composite, but D's own weights are frozen.
        parallelG.zeroGradients()
        let dParams = discriminator.parameters
        for p in dParams { p.requiresGrad = false }
        defer { for p in dParams { p.requiresGrad = true } }
        let lossAdv = GANLoss.generator(fakeLogits: discriminator(seen(fake, "augment-fake")))
        let extra = terms()
        var total = lossAdv
        for term in extra { total = total + term.loss }
        total.backward()
        try parallelG.allReduceGradients()
        for optimizer in optimizersG { optimizer.step() }

        var m = StepMetrics(phase: phase, shown: shown)
        m["loss_d"] = Double(lossD.item)
        m["loss_g"] = Double(lossAdv.item)
        for term in extra { m[term.name] = Double(term.value.item) }
        m["d_real"] = Double(realLogits.sigmoid().mean().item)
        m["d_fake"] = Double(fakeLogitsD.sigmoid().mean().item)
        return (m, realLogits)
    }
}
