import Foundation

/// Everything that defines a training run: the preset's values plus `--set key=value` overrides.
///
/// Stored resolved in `RUN/config.json` and in every checkpoint's metadata; its hash is compared
/// across ranks at start-up. Keys are the JSON names below (snake_case), e.g.
/// `--set layers=6 --set lambda_area=500 --set g_channels=128,64,64,32,16`.
public struct Configuration: Codable, Equatable, Sendable {
    /// The preset this configuration started from.
    public var preset: String
    /// The application (`Applications.all`): "hoc" (one image of a dense object cluster) or "fg"
    /// (foreground segmentation).
    public var application: String

    // MARK: Data
    /// Side of the square training patches / crops (64 for hoc, 128 for fg).
    public var imageSize: Int
    /// hoc: the patch window in pixels of the source image (≈ 1.5× the largest instance); 0 = automatic.
    public var window: Int
    /// hoc: stride between patch windows in pixels; 0 = window / 4.
    public var patchStride: Int
    /// hoc: horizontal and vertical flips of patches.
    public var flips: Bool

    // MARK: Model (paper Tables 1–4)
    /// N: composition layers (instances per composite).
    public var layers: Int
    /// dim(z) of the noise instance provider.
    public var zDim: Int
    /// Generator widths: [fc/8×8, conv, conv, deconv, deconv] (Table 2: 256, 256, 256, 128, 64).
    public var gChannels: [Int]
    /// Discriminator widths (Table 2: 64, 128, 256, 512, 1024; Table 1: 64, 128, 256, 256, 256).
    public var dChannels: [Int]
    /// Information head widths (three stride-2 convs), used when beta > 0.
    public var qChannels: [Int]
    /// UNet encoder widths (Table 1: 64, 128, 256, 512, 512, 512).
    public var unetChannels: [Int]
    /// hoc layout: pad by p and random-crop back.
    public var padding: Int
    /// How the decoders (fg's UNet, hoc's generator) upsample: "deconv" (Tables 1–2's stride-2
    /// transposed convolutions) or "resize" (nearest ×2 + 3×3 conv: no checkerboard in the masks).
    public var upsample: String = "deconv"

    // MARK: Losses and optimisation
    /// λ: weight of the mask-area penalty (eq. 7).
    public var lambdaArea: Double
    /// a: target mask area fraction (eq. 7).
    public var areaTarget: Double
    /// β: weight of the information term (hoc).
    public var beta: Double
    /// Weight of a mask binarisation term, mean of min(m, 1 − m) over instance masks (not in the
    /// paper; 0 = off). It removes the degenerate "uniform soft mask at area a" solution early.
    public var binarize: Double = 0
    /// hoc: when > 0, instance masks are multiplied by a fixed radial envelope that is 1 inside
    /// (r − 0.25) and falls smoothly to 0 at r, with r this fraction of the half patch side (not
    /// in the paper; 0 = off). It keeps a provider's mask off its canvas border, so translated
    /// layers show no square edges and each mask stays one compact object.
    public var maskEnvelope: Double = 0
    /// hoc: when K > 0, each provider's mask is a star-convex outline of K harmonics about its
    /// canvas centre (`StarMask`; not in the paper; 0 = the decoder's free-form mask channel). The
    /// outline reaches at most `mask_envelope`'s outer radius.
    public var maskStar: Int = 0
    /// hoc: when true, the instances of every other provider are transposed (turned over the
    /// diagonal, x ↔ y) before the layout moves them (not in the paper), so a provider's shapes
    /// appear in both orientations. Measured with `mask_star=2` (README).
    public var layoutTranspose: Bool = false
    /// hoc: when true, every instance is turned about its canvas centre by its own random angle
    /// before the layout's translation (`TranslationLayout.rotates`; not in the paper), so the
    /// discriminator sees each provider's shapes at every angle and none settles on one orientation.
    /// Measured with `mask_star=2` on cells3d slice 004 (README): worse than `layout_transpose` in
    /// shape IoU, AP and count; no preset sets it.
    public var layoutRotate: Bool = false
    /// Weight of the masks' total variation, mean |∂m/∂x| + |∂m/∂y| (not in the paper; 0 = off).
    /// With the area fixed by L_area it prefers compact, single-blob masks over scattered dots.
    public var maskTV: Double = 0
    /// The norm of `mask_tv`: "l1", |∂m/∂x| + |∂m/∂y| (anisotropic: an axis-aligned square is
    /// its cheapest shape of a given area, so hoc masks drift to squares), or "l2",
    /// √((∂m/∂x)² + (∂m/∂y)²) (isotropic: the outline's length whatever its direction, so a disc is
    /// the cheapest shape).
    public var maskTvNorm: String = "l1"
    /// fg: how much `mask_tv` spares the image's own edges, γ (not in the paper; 0 = uniform).
    /// Each difference of the mask between neighbouring pixels is weighted by
    /// exp(−γ·‖ΔI‖² / (2·⟨‖ΔI‖²⟩)), ΔI the image's difference there and ⟨·⟩ its mean over the
    /// image (GrabCut's contrast-sensitive pairwise term, `GANLoss.contrastTotalVariation`): an
    /// outline along an edge of the image costs little, one across flat background its length.
    /// Meant to let the area penalty pull a mask in to the object's edge; measured on the
    /// scratch-assay nuclei it did not (teacher 0.828 against 0.812 at step 2000, student no
    /// better; README "fg on real box crops"), so no preset uses it.
    public var maskTvContrast: Double = 0
    /// fg: the last step of every mask the model gives (evaluation, `carve segment`): "none" (the
    /// network's soft mask), "colour" (thresholded at 0.5, then refined by two colour models of
    /// its own image, `ColourRefinement`, Note [Colour refinement]: the teacher's edge sits where
    /// the background pool's colour begins, outside the blur of a micrograph's nuclei) or
    /// "grabcut" (GrabCut from the box with the mask's confident core as certain object,
    /// `GrabCut.seeded`, Note [GrabCut baseline]: for photographs, where the colours of the box
    /// and its surroundings tell the object better than the learned mask's edge).
    public var refine: String = "none"
    /// hoc: weight of a centring prior on each provider's mask, the squared distance of its
    /// centroid from the canvas centre in half-sides (not in the paper; 0 = off). The layout moves
    /// instances anyway; without it a mask may sit against the envelope and take its curve as
    /// an outline (crescents).
    public var maskCentre: Double = 0
    /// hoc: when true, a new run whose `window` is 0 measures the objects of its image first
    /// (Otsu's connected components, `HocScale`) and sets `window` to 1.5× their 90th-percentile
    /// diameter, `area_target` to their median area at patch scale, and `mask_envelope` to 1.5× the
    /// radius of that area's disc, and `object_windows` when the objects cover less than 15 % of
    /// the image; config.json records the values used.
    public var autoScale: Bool = false
    /// hoc: when true, only windows whose centre lies on Otsu's foreground (the baseline's,
    /// `ClassicalSegmentation`) are cut, so every real patch, and every background under its black
    /// disk, has an object at its centre: a sparse image then gives the patches of a dense
    /// cluster (not in the paper; all windows when none qualifies).
    public var objectWindows: Bool = false
    /// fg: weight of the box-tightness prior (`GANLoss.boxTightness`, not in the paper; 0 = off):
    /// every row and column through the middle of a tight box crop crosses the object.
    public var boxPrior: Double = 0
    /// fg: the margin the crops were cut with (`carve data boxes --margin`), as a fraction of the
    /// box's side on every side; the masks are then zero outside the central box and D sees the
    /// box in its own surroundings (Note [Box in its surroundings]). 0: tight crops. A new run on
    /// a folder with crops.json takes its margin; on box lists (boxes.csv, CUB) the boxes are cut
    /// with this ring.
    public var boxMargin: Double = 0
    /// The form of L_area: "two-sided" (eq. 7, (area − a)², pins every mask at a) or
    /// "one-sided" (max(0, area − a)², only masks larger than a pay: objects that fill 20 % or
    /// 80 % of their crop need no per-dataset a).
    public var areaPenalty: String = "two-sided"
    /// fg: initial probability p of each differentiable augmentation of D's inputs (flip,
    /// translation, colour, cutout; Note [Differentiable augmentation]); 0 = off.
    public var augment: Double = 0
    /// fg: ADA's target for E[sign(D(real))]: p rises while D is more confident than this on
    /// real images and falls otherwise; 0 keeps p fixed. Augmentation is on when either this or
    /// `augment` is positive.
    public var augmentTarget: Double = 0
    /// fg: the augmentations in use, a comma-separated subset of flip, translation, colour, cutout.
    public var augmentPolicy: String = "flip,translation,colour,cutout"
    /// fg: the student's targets, "soft" (the teacher's masks, eq. 8) or "hard" (the teacher's
    /// masks thresholded at 0.5: the student learns calibrated masks, not the teacher's blur).
    public var distillTarget: String = "soft"
    /// fg: the student's inputs, "composite" (the Appendix: the teacher's carved foreground over a
    /// random background) or "mixed" (each sample, with probability ½, the crop itself instead, so
    /// the student also sees real surroundings as segmentation will).
    public var distillInputs: String = "composite"
    /// hoc: each segmenter input is smoothed by the binomial kernel (σ = 1 px) between 0 and this
    /// many times (0…64), chosen per sample, so the segmenter also knows objects out of focus
    /// (σ up to √distill_blur px; Note [hoc distillation]; 0 = never).
    public var distillBlur: Int = 0
    public var lrD: Double
    public var lrG: Double
    public var adamBeta1: Double
    public var adamBeta2: Double
    /// Global batch (split over ranks).
    public var batchSize: Int
    public var steps: Int
    /// fg: steps of data distillation (student training) after the adversarial steps.
    public var distillSteps: Int
    public var seed: UInt64
    /// BatchNorm statistics summed over ranks (SyncBatchNorm) when true.
    public var syncBN: Bool

    // MARK: Run
    public var checkpointEvery: Int
    public var evalEvery: Int
    public var logEvery: Int
    /// How many checkpoints to keep.
    public var keepCheckpoints: Int
    /// Samples drawn by evaluation.
    public var evalSamples: Int
    /// Seconds a rank may wait in one collective for the other ranks before it ends the job,
    /// naming the ranks that did not arrive (the first collective, after loading data, waits 10×);
    /// 0 = wait forever. Note [Collective watchdog] in DDP.
    public var collectiveTimeout: Double = 300

    enum CodingKeys: String, CodingKey {
        case preset, application
        case imageSize = "image_size", window, patchStride = "patch_stride", flips
        case layers, zDim = "z_dim", gChannels = "g_channels", dChannels = "d_channels", qChannels = "q_channels"
        case unetChannels = "unet_channels", padding, upsample
        case lambdaArea = "lambda_area", areaTarget = "area_target", beta, binarize
        case maskEnvelope = "mask_envelope", maskStar = "mask_star", layoutTranspose = "layout_transpose", layoutRotate = "layout_rotate", maskTV = "mask_tv", maskTvNorm = "mask_tv_norm", maskTvContrast = "mask_tv_contrast", refine, maskCentre = "mask_centre", autoScale = "auto_scale", objectWindows = "object_windows", boxPrior = "box_prior", boxMargin = "box_margin", areaPenalty = "area_penalty"
        case augment, augmentTarget = "augment_target", distillTarget = "distill_target", augmentPolicy = "augment_policy"
        case distillInputs = "distill_inputs", distillBlur = "distill_blur"
        case lrD = "lr_d", lrG = "lr_g", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2"
        case batchSize = "batch_size", steps, distillSteps = "distill_steps", seed, syncBN = "sync_bn"
        case checkpointEvery = "checkpoint_every", evalEvery = "eval_every", logEvery = "log_every"
        case keepCheckpoints = "keep_checkpoints", evalSamples = "eval_samples"
        case collectiveTimeout = "collective_timeout"
    }
}

/// A configuration problem a user can fix: unknown preset or key, a value of the wrong type.
public struct ConfigurationError: LocalizedError, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var errorDescription: String? { message }
}

extension Configuration {
    /// The configuration as sorted-key JSON (what `config.json` and checkpoints hold).
    public func json(pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Reads a configuration back from its JSON. A key the JSON lacks (a checkpoint or config.json
    /// written before the key existed) takes its declared default, which is what that older carve
    /// did; keys it does not know are ignored.
    ///
    /// Note [Negative zero]: -0 (`--set lambda_area=-0`, or -0.0 in a file) is read as 0. Kept,
    /// it was written as `-0`, which reads back as the integer 0: the configuration equalled its
    /// reread (-0 == 0) but its JSON and `hash` did not (found by fuzz/, the config target).
    public static func fromJSON(_ text: String) throws -> Configuration {
        do {
            guard var given = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw ConfigurationError("configuration JSON is not an object")
            }
            for (key, value) in given {
                // Note [Negative zero]; only -0 is replaced (false and 0 have a positive sign).
                if let number = value as? NSNumber, number.doubleValue == 0, number.doubleValue.sign == .minus { given[key] = 0 }
            }
            // The declared defaults: a configuration built with only the keys that have none.
            var merged = try JSONSerialization.jsonObject(
                with: Data(Presets.hoc(layers: 1, zDim: 1, area: 0, padding: 0).json().utf8)) as! [String: Any]
            merged.merge(given) { _, new in new }
            return try JSONDecoder().decode(Configuration.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch {
            throw ConfigurationError("configuration JSON does not match this version of carve: \(error)")
        }
    }

    /// A stable 64-bit hash of the configuration (FNV-1a over its sorted JSON).
    public var hash: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in json().utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Applies `key=value` overrides; the value is parsed as the type the key already has.
    public func applying(_ overrides: [String]) throws -> Configuration {
        guard !overrides.isEmpty else { return self }
        // The JSON key and current value of every field, from the struct itself.
        var current: [String: Any] = [:]
        for child in Mirror(reflecting: self).children {
            if let label = child.label { current[Self.jsonKey(label)] = child.value }
        }
        var dict = try JSONSerialization.jsonObject(with: Data(json().utf8)) as! [String: Any]
        for item in overrides {
            guard let eq = item.firstIndex(of: "=") else {
                throw ConfigurationError("--set \(item): expected key=value")
            }
            let key = String(item[..<eq]), value = String(item[item.index(after: eq)...])
            guard let old = current[key], dict[key] != nil, key != "preset" else {
                let known = dict.keys.filter { $0 != "preset" }.sorted().joined(separator: ", ")
                throw ConfigurationError("--set \(key): unknown key (known: \(known))")
            }
            dict[key] = try Self.parse(value, like: old, key: key)
        }
        let data = try JSONSerialization.data(withJSONObject: dict)
        let out = try JSONDecoder().decode(Configuration.self, from: data)
        try out.validate()
        return out
    }

    /// camelCase → snake_case, runs of capitals kept as one word (syncBN → sync_bn).
    static func jsonKey(_ label: String) -> String {
        var out = ""
        var previous: Character? = nil
        for ch in label {
            if ch.isUppercase, let p = previous, p.isLowercase || p.isNumber { out.append("_") }
            out.append(Character(ch.lowercased()))
            previous = ch
        }
        return out
    }

    private static func parse(_ value: String, like old: Any, key: String) throws -> Any {
        let v = value.trimmingCharacters(in: .whitespaces)
        switch old {
        case is Bool:
            switch v.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw ConfigurationError("--set \(key)=\(value): expected true or false")
            }
        case is Int:
            guard let i = Int(v) else { throw ConfigurationError("--set \(key)=\(value): expected an integer") }
            return i
        case is UInt64:
            guard let i = UInt64(v) else { throw ConfigurationError("--set \(key)=\(value): expected a non-negative integer") }
            return i
        case is Double:
            guard let d = Double(v), d.isFinite else { throw ConfigurationError("--set \(key)=\(value): expected a number") }
            return d == 0 ? 0.0 : d  // Note [Negative zero]
        case is [Int]:
            let parts = v.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! > 0 }) else {
                throw ConfigurationError("--set \(key)=\(value): expected comma-separated positive integers")
            }
            return parts.map { $0! }
        default:
            return v
        }
    }

    /// Checks ranges a run depends on; throws naming the key.
    public func validate() throws {
        func need(_ ok: Bool, _ message: String) throws { if !ok { throw ConfigurationError(message) } }
        try Applications.named(application).validate(self)
        try need(layers >= 1, "layers must be at least 1")
        try need(zDim >= 1, "z_dim must be at least 1")
        try need(batchSize >= 1, "batch_size must be at least 1")
        try need(steps >= 0, "steps must not be negative")
        try need(gChannels.count == 5, "g_channels needs 5 widths, got \(gChannels.count)")
        try need(dChannels.count == 5, "d_channels needs 5 widths, got \(dChannels.count)")
        try need(qChannels.count == 3, "q_channels needs 3 widths, got \(qChannels.count)")
        try need(unetChannels.count == 6, "unet_channels needs 6 widths, got \(unetChannels.count)")
        try need(padding >= 0 && padding < imageSize, "padding must be in 0..<image_size")
        try need(lrD > 0 && lrG > 0, "learning rates must be positive")
        try need(areaTarget >= 0 && areaTarget <= 1, "area_target must be in [0, 1]")
        try need(maskEnvelope == 0 || (maskEnvelope > 0.25 && maskEnvelope <= 1.5), "mask_envelope must be 0 (off) or in (0.25, 1.5]")
        try need((0...8).contains(maskStar), "mask_star must be in 0...8 (harmonics of the outline; 0 = off), not \(maskStar)")
        try need(binarize >= 0, "binarize must not be negative")
        try need(maskTV >= 0, "mask_tv must not be negative")
        try need(["l1", "l2"].contains(maskTvNorm), "mask_tv_norm must be l1 or l2, not \(maskTvNorm)")
        try need(maskTvContrast >= 0 && maskTvContrast.isFinite, "mask_tv_contrast must be a non-negative number")
        try need(maskTvContrast == 0 || maskTvNorm == "l1", "mask_tv_contrast weighs the L1 total variation: it needs mask_tv_norm l1")
        try need(["none", "colour", "grabcut"].contains(refine), "refine must be none, colour or grabcut, not \(refine)")
        try need(maskCentre >= 0, "mask_centre must not be negative")
        try need(boxPrior >= 0, "box_prior must not be negative")
        try need(boxMargin >= 0 && boxMargin <= 2, "box_margin must be in [0, 2]")
        try need(["deconv", "resize"].contains(upsample), "upsample must be deconv or resize, not \(upsample)")
        try need(["two-sided", "one-sided"].contains(areaPenalty), "area_penalty must be two-sided or one-sided, not \(areaPenalty)")
        try need(["soft", "hard"].contains(distillTarget), "distill_target must be soft or hard, not \(distillTarget)")
        try need(["composite", "mixed"].contains(distillInputs), "distill_inputs must be composite or mixed, not \(distillInputs)")
        try need((0...64).contains(distillBlur), "distill_blur must be in 0...64, not \(distillBlur)")
        try need(augment >= 0 && augment <= 1, "augment must be in [0, 1]")
        if case .failure(let error) = DiffAugment.Transform.policy(augmentPolicy) { throw error }
        try need(augmentTarget >= 0 && augmentTarget < 1, "augment_target must be in [0, 1) (0 = fixed augment)")
        try need(lambdaArea >= 0 && beta >= 0, "lambda_area and beta must not be negative")
        try need(distillSteps >= 0, "distill_steps must not be negative")
        try need(window >= 0 && patchStride >= 0, "window and patch_stride must not be negative (0 = automatic)")
        try need(adamBeta1 >= 0 && adamBeta1 < 1 && adamBeta2 >= 0 && adamBeta2 < 1, "adam_beta1 and adam_beta2 must be in [0, 1)")
        try need(evalSamples >= 1, "eval_samples must be at least 1")
        try need(imageSize >= 1 && batchSize <= 1 << 20, "image_size must be positive and batch_size at most 2^20")
        try need(checkpointEvery >= 0 && evalEvery >= 0 && logEvery >= 1, "checkpoint_every, eval_every ≥ 0 and log_every ≥ 1")
        try need(keepCheckpoints >= 1, "keep_checkpoints must be at least 1")
        try need(collectiveTimeout >= 0, "collective_timeout must not be negative (0 = no watchdog)")
    }
}
