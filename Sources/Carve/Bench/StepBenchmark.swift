// `carve bench step`: the real training step (HocGAN.trainStep or FgGAN.trainStep) on synthetic
// in-memory batches, timed per step, with the step's conv/convT/linear FLOPs counted analytically
// and the sgemm GFLOP/s of the same machine measured in the same run.
import DDP
import Foundation
import Tensor

/// Times the training step of a preset on synthetic batches (no disk), on one or W ranks.
///
/// The step is the one `carve train` runs: `HocGAN.trainStep` (hoc presets) or `FgGAN.trainStep`
/// (fg presets), with DDP gradient allreduces and, when the preset says so, synchronized BatchNorm.
/// Every rank takes its contiguous slice of the global batch; a step's time is the slowest rank's,
/// and the report gives the median over `steps` timed steps after `warmup` untimed ones.
///
/// - Parameters:
///   - preset: a preset name (`Presets.names`).
///   - batchSize: the global batch (default: the preset's), divisible by the world size.
///   - steps: timed steps (the median is reported).
///   - warmup: untimed steps first (the storage pool and OpenBLAS buffers fill up).
///
/// ```swift
/// let report = try StepBenchmark.run(preset: "demo-hoc", batchSize: 16, steps: 10, warmup: 2,
///                                    communicator: LocalCommunicator())
/// print(report.json)
/// ```
public enum StepBenchmark {
    /// What one run measured (all ranks agree on these values; rank 0 prints them).
    public struct Report: Sendable {
        public var preset: String
        public var application: String
        public var worldSize: Int
        /// Carve's kernel threads per rank (`CARVE_THREADS`) and OpenBLAS threads per rank.
        public var threads: Int, blasThreads: Int
        /// The global batch.
        public var batchSize: Int
        public var steps: Int, warmup: Int
        /// Per timed step: the slowest rank's wall-clock seconds.
        public var stepSeconds: [Double]
        /// Conv/convT/linear FLOPs of one step (forward and backward, every network call, all ranks).
        public var flopPerStep: Double
        /// sgemm 1024³ GFLOP/s, measured on every rank at once and summed over ranks.
        public var sgemmGFLOPs: Double
        /// The largest peak resident set size of any rank, and their sum (bytes).
        public var peakRSSBytes: Int, peakRSSTotalBytes: Int
        /// Seconds per step in collectives (rank 0, mean over the timed steps; includes waiting).
        public var commSecondsPerStep: Double
        public var core: String, cpu: String

        public var secondsPerStepMedian: Double { StepBenchmark.median(stepSeconds) }
        public var imagesPerSecond: Double { Double(batchSize) / secondsPerStepMedian }
        public var gflops: Double { flopPerStep / secondsPerStepMedian / 1e9 }
        public var commShare: Double {
            let mean = stepSeconds.reduce(0, +) / Double(max(stepSeconds.count, 1))
            return commSecondsPerStep / mean
        }

        /// One JSON object with the keys `bench/run.sh` reads (the PyTorch reference prints the same).
        public var json: String {
            let object: [String: Any] = [
                "impl": "carve", "preset": preset, "application": application, "world_size": worldSize,
                "threads": threads, "blas_threads": blasThreads, "batch_size": batchSize, "steps": steps,
                "warmup": warmup, "seconds_per_step_median": secondsPerStepMedian,
                "seconds_per_step_min": stepSeconds.min() ?? 0, "seconds_per_step_max": stepSeconds.max() ?? 0,
                "images_per_second": imagesPerSecond, "gflop_per_step": flopPerStep / 1e9, "gflops": gflops,
                "sgemm_gflops": sgemmGFLOPs, "peak_rss_bytes": peakRSSBytes, "peak_rss_total_bytes": peakRSSTotalBytes,
                "comm_seconds": commSecondsPerStep, "comm_share": commShare, "core": core, "cpu": cpu,
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }

        /// A few readable lines.
        public var text: String {
            var s = "carve bench step: \(preset), global batch \(batchSize), \(worldSize) rank(s) × \(threads) thread(s) (OpenBLAS \(blasThreads)), core \(core)\n"
            s += "CPU: \(cpu)\n"
            s += String(format: "%.4f s/step (median of %d after %d warm-up; min %.4f, max %.4f)\n", secondsPerStepMedian,
                        stepSeconds.count, warmup, stepSeconds.min() ?? 0, stepSeconds.max() ?? 0)
            s += String(format: "%.1f images/s, %.2f GFLOP/step, %.1f GFLOP/s (sgemm %.1f GFLOP/s, %.0f%%)\n", imagesPerSecond,
                        flopPerStep / 1e9, gflops, sgemmGFLOPs, 100 * gflops / sgemmGFLOPs)
            s += String(format: "communication %.4f s/step (%.1f%%), peak RSS %.0f MB per rank\n", commSecondsPerStep,
                        100 * commShare, Double(peakRSSBytes) / 1e6)
            return s
        }
    }

    /// Runs the benchmark on `communicator`'s ranks (every rank calls this; all get the report).
    public static func run(preset: String, batchSize: Int?, steps: Int, warmup: Int,
                           communicator: any Communicator) throws -> Report {
        var config = try Presets.named(preset)
        if let batchSize { config.batchSize = batchSize }
        try config.validate()
        let world = communicator.worldSize, rank = communicator.rank
        guard config.batchSize % world == 0 else {
            throw ConfigurationError("--batch-size \(config.batchSize) is not divisible by the world size \(world)")
        }
        let b = config.batchSize / world
        let samples = Array((rank * b)..<((rank + 1) * b))
        let size = config.imageSize
        let comm = TimedCommunicator(communicator)
        if config.syncBN { SyncBatchNorm.install(comm) } else { SyncBatchNorm.uninstall() }
        defer { SyncBatchNorm.uninstall() }

        // Synthetic batches in [0, 1), keyed by global sample index like real data.
        func images(_ purpose: String) -> Tensor {
            Tensor(shape: [b, 3, size, size]) { out in
                let per = 3 * size * size
                for (k, sample) in samples.enumerated() {
                    var rng = CounterRNG(seed: config.seed, purpose: purpose, index: sample)
                    for i in 0..<per { out[k * per + i] = rng.uniform() }
                }
            }
        }
        let real = images("bench-real"), background = images("bench-background")

        let step: (Int) throws -> Void
        let flops: Double
        if config.application == "hoc" {
            let gan = HocGAN(config: config, communicator: comm)
            try gan.synchronizeReplicas()
            let batch = HocGAN.Batch(real: real, background: background, samples: samples)
            step = { _ = try gan.trainStep(batch, step: $0) }
            flops = FLOPCounter.hocStep(config, batch: config.batchSize)
        } else {
            let gan = FgGAN(config: config, communicator: comm)
            try gan.synchronizeReplicas()
            let batch = FgGAN.Batch(images: real, background: background, samples: samples)
            step = { _ = try gan.trainStep(batch, step: $0) }
            flops = FLOPCounter.fgStep(config, batch: config.batchSize)
        }

        // sgemm at the same time on every rank: the machine's limit for this many ranks × threads.
        try comm.barrier()
        var sgemm = [median(OpsBenchmark.measureSgemm(size: 1024, repetitions: 5))]
        try communicator.allReduce(&sgemm, op: .sum)

        for s in 0..<warmup { try step(s) }
        var nanoseconds: [Int64] = []  // per step; the communicator's max is for integers
        var commSeconds = 0.0
        for s in warmup..<(warmup + steps) {
            try comm.barrier()
            let commStart = comm.seconds.total
            let start = DispatchTime.now().uptimeNanoseconds
            try step(s)
            nanoseconds.append(Int64(DispatchTime.now().uptimeNanoseconds - start))
            commSeconds += comm.seconds.total - commStart
        }
        try communicator.allReduce(&nanoseconds, op: .max)
        let times = nanoseconds.map { Double($0) / 1e9 }
        var rss = [Int64(peakRSSBytes())]
        var rssMax = rss
        try communicator.allReduce(&rss, op: .sum)
        try communicator.allReduce(&rssMax, op: .max)
        return Report(
            preset: preset, application: config.application, worldSize: world, threads: Threads.count,
            blasThreads: BLASInfo.threads, batchSize: config.batchSize, steps: steps, warmup: warmup,
            stepSeconds: times, flopPerStep: flops, sgemmGFLOPs: sgemm[0], peakRSSBytes: Int(rssMax[0]),
            peakRSSTotalBytes: Int(rss[0]), commSecondsPerStep: commSeconds / Double(max(steps, 1)),
            core: BLASInfo.coreName, cpu: OpsBenchmark.cpuModel())
    }

    /// This process's peak resident set size (getrusage ru_maxrss, KiB on Linux).
    static func peakRSSBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024
    }

    static func median(_ xs: [Double]) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

// MARK: - FLOP counter

/// The conv/convT/linear FLOPs of the training steps, counted from the layer shapes.
///
/// A multiply–add is 2 FLOPs. A layer with M multiply–adds forward costs 2M forward, 2M for the
/// input gradient (when its input needs one) and 2M for the weight gradient (when its weights
/// are trained in that backward). Batch norm, activations, spectral-norm power iterations,
/// composition, losses and Adam are not counted (they are a few percent of the arithmetic but
/// not of the time: that is what the GFLOP/s column shows). `bench/pytorch/step.py` counts the
/// same way, and checks the count against `torch.utils.flop_counter.FlopCounterMode`.
public enum FLOPCounter {
    /// One layer's multiply–adds for one sample.
    struct Layer {
        var macs: Double
        /// The first layer of a network reads the network's input.
        var readsInput: Bool
    }

    /// Sums layers × batch with the backward that the step does.
    static func flops(_ layers: [Layer], batch: Int, forward: Bool = true, inputGradient: Bool, weightGradient: Bool,
                      networkInputGradient: Bool) -> Double {
        var total = 0.0
        for l in layers {
            let m = 2 * l.macs * Double(batch)
            if forward { total += m }
            if weightGradient { total += m }
            if inputGradient && (!l.readsInput || networkInputGradient) { total += m }
        }
        return total
    }

    static func conv(_ c: Int, _ o: Int, k: Int, out: Int, first: Bool = false) -> Layer {
        Layer(macs: Double(o * out * out * c * k * k), readsInput: first)
    }
    static func deconv(_ c: Int, _ o: Int, k: Int, input: Int) -> Layer {
        Layer(macs: Double(c * input * input * o * k * k), readsInput: false)
    }

    /// Table 2 generator (NoiseGenerator) for one instance.
    static func generator(_ c: Configuration) -> [Layer] {
        let w = c.gChannels
        return [
            Layer(macs: Double(c.zDim * 64 * w[0]), readsInput: true),  // fc z → 8·8·w0 (z needs no gradient)
            conv(w[0], w[1], k: 4, out: 8), conv(w[1], w[2], k: 4, out: 8),
            deconv(w[2], w[3], k: 4, input: 8), deconv(w[3], w[4], k: 4, input: 16), deconv(w[4], 4, k: 4, input: 32),
        ]
    }

    /// Tables 1–2 discriminator for one image of `size`².
    static func discriminator(_ c: Configuration) -> [Layer] {
        var layers: [Layer] = []
        var ch = 3, s = c.imageSize
        for (i, width) in c.dChannels.enumerated() {
            if i < 4 { s /= 2 }
            layers.append(conv(ch, width, k: 3, out: s, first: i == 0))
            ch = width
        }
        layers.append(conv(ch, 1, k: 1, out: s))
        return layers
    }

    /// The information head Q for one instance.
    static func information(_ c: Configuration) -> [Layer] {
        let q = c.qChannels
        return [conv(4, q[0], k: 4, out: 32, first: true), conv(q[0], q[1], k: 4, out: 16), conv(q[1], q[2], k: 4, out: 8),
                Layer(macs: Double(q[2] * 64 * c.zDim), readsInput: false)]
    }

    /// Table 1 UNet for one image.
    static func unet(_ c: Configuration) -> [Layer] {
        let e = c.unetChannels, s = c.imageSize
        var layers: [Layer] = []
        var ch = 3
        for i in 0..<6 {
            layers.append(conv(ch, e[i], k: i < 5 ? 4 : 2, out: s >> (i + 1), first: i == 0))
            ch = e[i]
        }
        let d = [e[4], e[3], e[3], e[1], e[0]]
        var inC = e[5]
        for i in 0..<5 {
            layers.append(deconv(inC, d[i], k: i < 2 ? 2 : 4, input: s >> (6 - i)))
            inC = d[i] + e[4 - i]
        }
        layers.append(deconv(inC, 1, k: 4, input: s / 2))
        return layers
    }

    /// One `HocGAN.trainStep` on a global batch: G on N·B instances; D on real and (detached) fake
    /// with weight gradients; D on the composite with input gradients only (D frozen); Q on the
    /// N·B instances; G's backward.
    public static func hocStep(_ c: Configuration, batch: Int) -> Double {
        let instances = c.layers * batch
        let g = generator(c), d = discriminator(c)
        var total = flops(g, batch: instances, inputGradient: true, weightGradient: true, networkInputGradient: false)
        total += 2 * flops(d, batch: batch, inputGradient: true, weightGradient: true, networkInputGradient: false)
        total += flops(d, batch: batch, inputGradient: true, weightGradient: false, networkInputGradient: true)
        if c.beta > 0 {
            total += flops(information(c), batch: instances, inputGradient: true, weightGradient: true,
                           networkInputGradient: true)
        }
        return total
    }

    /// One `FgGAN.trainStep` on a global batch: the teacher UNet on B images, D on real and fake,
    /// D on the composite (input gradients only), the UNet's backward (not into the images).
    public static func fgStep(_ c: Configuration, batch: Int) -> Double {
        let u = unet(c), d = discriminator(c)
        var total = flops(u, batch: batch, inputGradient: true, weightGradient: true, networkInputGradient: false)
        total += 2 * flops(d, batch: batch, inputGradient: true, weightGradient: true, networkInputGradient: false)
        total += flops(d, batch: batch, inputGradient: true, weightGradient: false, networkInputGradient: true)
        return total
    }
}
