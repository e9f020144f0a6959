// `carve bench memory`: resident memory over many forward/backward steps of the Table 2
// discriminator, to show that the storage pool reuses buffers instead of growing.
import Foundation
import Tensor

/// Resident set size (RSS) sampled over `steps` forward/backward steps of the Table 2
/// discriminator (paper widths, 64×64 input) on a fixed random batch, with an Adam update per step.
///
/// The memory is flat when the RSS after the first steps (the pool and OpenBLAS buffers fill up)
/// stays where it is: `growthAfterWarmup` compares the last sample with the one at `warmup`.
///
/// ```swift
/// let report = MemoryBenchmark.run(steps: 500, batch: 16, every: 50)
/// print(report.text)
/// ```
public enum MemoryBenchmark {
    /// One sample: the step just finished and the RSS then.
    public struct Sample: Sendable {
        public var step: Int
        public var rssBytes: Int
    }

    public struct Report: Sendable {
        public var steps: Int, batch: Int, warmup: Int
        public var samples: [Sample]
        public var secondsPerStep: Double

        /// RSS at the last sample minus RSS at the first sample at or after `warmup` (bytes).
        public var growthAfterWarmup: Int {
            guard let last = samples.last, let base = samples.first(where: { $0.step >= warmup }) else { return 0 }
            return last.rssBytes - base.rssBytes
        }

        public var text: String {
            var s = "carve bench memory: Table 2 D forward+backward+Adam, batch \(batch), \(steps) steps "
            s += String(format: "(%.3f s/step)\n", secondsPerStep)
            s += "step    RSS MB\n"
            for sample in samples { s += String(format: "%5d  %8.1f\n", sample.step, Double(sample.rssBytes) / 1e6) }
            s += String(format: "growth from step %d to %d: %+.1f MB\n", samples.first(where: { $0.step >= warmup })?.step ?? 0,
                        samples.last?.step ?? 0, Double(growthAfterWarmup) / 1e6)
            return s
        }

        public var json: String {
            let object: [String: Any] = [
                "steps": steps, "batch": batch, "warmup": warmup, "seconds_per_step": secondsPerStep,
                "growth_after_warmup_bytes": growthAfterWarmup,
                "samples": samples.map { ["step": $0.step, "rss_bytes": $0.rssBytes] },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Runs `steps` steps and samples the RSS after step 1 and every `every` steps.
    public static func run(steps: Int, batch: Int, every: Int, warmup: Int = 100) -> Report {
        let d = Discriminator(widths: [64, 128, 256, 512, 1024])
        d.initialize(seed: 1, path: "D/")
        d.train(true)
        let adam = Adam(parameters: d.namedParameters(), learningRate: 1e-4, beta1: 0.5, beta2: 0.999)
        let x = Tensor.randomNormal([batch, 3, 64, 64], seed: 1, purpose: "bench-memory")
        var samples: [Sample] = []
        let start = DispatchTime.now().uptimeNanoseconds
        for step in 1...max(steps, 1) {
            d.zeroGrad()
            let logits = d(x)
            (logits * logits).mean().backward()
            adam.step()
            if step == 1 || step % every == 0 || step == steps {
                samples.append(Sample(step: step, rssBytes: residentBytes()))
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Report(steps: steps, batch: batch, warmup: min(warmup, steps), samples: samples,
                      secondsPerStep: seconds / Double(max(steps, 1)))
    }

    /// The current resident set size (/proc/self/statm, resident pages × page size).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
