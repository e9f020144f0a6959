// `carve bench step`: the real training step (the application's adversarial step) on synthetic
// in-memory batches, timed per step, with the step's GEMM FLOPs counted as they run (GEMMCounter:
// every conv, convT, resize-conv and linear, forward and backward) and the sgemm GFLOP/s of the
// same machine measured in the same run.
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

        let batch = TrainingBatch(images: real, background: background, samples: samples)
        let step = try trainStep(Applications.named(config.application), config: config, communicator: comm, batch: batch)

        // sgemm at the same time on every rank: the machine's limit for this many ranks × threads.
        try comm.barrier()
        var sgemm = [median(OpsBenchmark.measureSgemm(size: 1024, repetitions: 5))]
        try communicator.allReduce(&sgemm, op: .sum)

        for s in 0..<warmup { try step(s) }
        var nanoseconds: [Int64] = []  // per step; the communicator's max is for integers
        var commSeconds = 0.0
        let flopsBefore = GEMMCounter.flops
        for s in warmup..<(warmup + steps) {
            try comm.barrier()
            let commStart = comm.seconds.total
            let start = DispatchTime.now().uptimeNanoseconds
            try step(s)
            nanoseconds.append(Int64(DispatchTime.now().uptimeNanoseconds - start))
            commSeconds += comm.seconds.total - commStart
        }
        // Every rank's GEMMs on its shard, summed: the global batch's FLOPs per step.
        var flops = [Int64(GEMMCounter.flops - flopsBefore)]
        try communicator.allReduce(&flops, op: .sum)
        try communicator.allReduce(&nanoseconds, op: .max)
        let times = nanoseconds.map { Double($0) / 1e9 }
        var rss = [Int64(peakRSSBytes())]
        var rssMax = rss
        try communicator.allReduce(&rss, op: .sum)
        try communicator.allReduce(&rssMax, op: .max)
        return Report(
            preset: preset, application: config.application, worldSize: world, threads: Threads.count,
            blasThreads: BLASInfo.threads, batchSize: config.batchSize, steps: steps, warmup: warmup,
            stepSeconds: times, flopPerStep: Double(flops[0]) / Double(max(steps, 1)), sgemmGFLOPs: sgemm[0], peakRSSBytes: Int(rssMax[0]),
            peakRSSTotalBytes: Int(rss[0]), commSecondsPerStep: commSeconds / Double(max(steps, 1)),
            core: BLASInfo.coreName, cpu: OpsBenchmark.cpuModel())
    }

    /// This process's peak resident set size (getrusage ru_maxrss, KiB on Linux).
    /// The model of `application`, synchronised, and its adversarial step on `batch`. The
    /// configuration's step count is raised so that every benchmarked step is adversarial.
    private static func trainStep<A: Application>(_ application: A.Type, config: Configuration, communicator: any Communicator,
                                                  batch: TrainingBatch) throws -> (Int) throws -> Void {
        var config = config
        config.steps = 1 << 30
        let model = A.Model(config: config, communicator: communicator)
        try model.synchronizeReplicas()
        return { _ = try model.trainStep(batch, step: $0) }
    }

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
