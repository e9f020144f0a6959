// `carve bench ops`: forward and backward GFLOP/s of every conv layer of the Table 2 generator
// and discriminator, next to the sgemm GFLOP/s measured in the same run.
import Foundation
import Tensor

/// Times the conv/convT layers of the hoc networks (paper Table 2) against sgemm 1024³.
///
/// Each layer runs forward (recording) and backward (input, weight and bias gradients) on random
/// data; times are medians over `repetitions` after one warm-up. FLOPs count multiply–adds as 2:
/// forward 2·N·O·OH·OW·C·K·K, backward twice that (dx and dW), or once without dx (the z input).
///
/// ```swift
/// let report = OpsBenchmark.run(batch: 16, repetitions: 5)
/// print(report.text)
/// ```
public enum OpsBenchmark {
    /// One layer's shape and kind.
    public struct Layer: Sendable {
        public enum Kind: Sendable { case conv(stride: Int, padding: Padding), convTranspose(stride: Int, padding: Int), linear }
        public let name: String
        public let kind: Kind
        public let inputChannels: Int, outputChannels: Int, kernelSize: Int, inputSize: Int
        /// Whether the input gradient is computed (not for z).
        public let inputGradient: Bool
    }

    /// One layer's measurements.
    public struct LayerResult: Sendable {
        public let name: String
        public let forwardFLOPs: Double, backwardFLOPs: Double
        public let forwardSeconds: Double, backwardSeconds: Double
        public var forwardGFLOPs: Double { forwardFLOPs / forwardSeconds / 1e9 }
        public var backwardGFLOPs: Double { backwardFLOPs / backwardSeconds / 1e9 }
    }

    /// The whole run.
    public struct Report: Sendable {
        public let batch: Int, repetitions: Int
        public let clock: Clock
        public let threads: Int, blasThreads: Int
        public let core: String, cpu: String
        public let sgemmGFLOPs: Double
        public let layers: [LayerResult]

        func gflops(_ prefix: String) -> Double {
            let ls = layers.filter { $0.name.hasPrefix(prefix) }
            let flops = ls.reduce(0) { $0 + $1.forwardFLOPs + $1.backwardFLOPs }
            let seconds = ls.reduce(0) { $0 + $1.forwardSeconds + $1.backwardSeconds }
            return flops / seconds / 1e9
        }
        /// All layers' forward + backward FLOPs over their total time.
        public var overallGFLOPs: Double { gflops("") }
        public var discriminatorGFLOPs: Double { gflops("D ") }
        public var generatorGFLOPs: Double { gflops("G ") }

        /// A human-readable table.
        public var text: String {
            var s = "carve bench ops: batch \(batch), median of \(repetitions), \(clock.rawValue) clock, \(threads) thread(s), OpenBLAS \(blasThreads) thread(s), core \(core)\n"
            s += "CPU: \(cpu)\n"
            s += String(format: "sgemm 1024³: %.1f GFLOP/s (median before and after the layers)\n\n", sgemmGFLOPs)
            s += "layer".padding(toLength: 40, withPad: " ", startingAt: 0)
                + "   fwd ms  fwd GFLOP/s   bwd ms  bwd GFLOP/s\n"
            for l in layers {
                s += l.name.padding(toLength: 40, withPad: " ", startingAt: 0)
                s += String(format: " %8.2f %12.1f %8.2f %12.1f\n", l.forwardSeconds * 1e3, l.forwardGFLOPs,
                            l.backwardSeconds * 1e3, l.backwardGFLOPs)
            }
            s += "\n"
            for (label, g) in [("D forward+backward", discriminatorGFLOPs), ("G forward+backward", generatorGFLOPs),
                               ("overall", overallGFLOPs)] {
                s += String(format: "%@: %.1f GFLOP/s = %.0f%% of sgemm\n", label, g, 100 * g / sgemmGFLOPs)
            }
            return s
        }

        /// One JSON object (sgemm_gflops, overall_gflops, layers, core, cpu, ...).
        public var json: String {
            let object: [String: Any] = [
                "batch": batch, "repetitions": repetitions, "clock": clock.rawValue, "threads": threads, "blas_threads": blasThreads,
                "core": core, "cpu": cpu,
                "sgemm_gflops": sgemmGFLOPs, "overall_gflops": overallGFLOPs,
                "d_gflops": discriminatorGFLOPs, "g_gflops": generatorGFLOPs,
                "overall_fraction_of_sgemm": overallGFLOPs / sgemmGFLOPs,
                "layers": layers.map { l -> [String: Any] in
                    ["name": l.name, "forward_flops": l.forwardFLOPs, "backward_flops": l.backwardFLOPs,
                     "forward_ms": l.forwardSeconds * 1e3, "backward_ms": l.backwardSeconds * 1e3,
                     "forward_gflops": l.forwardGFLOPs, "backward_gflops": l.backwardGFLOPs]
                },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Table 2: D (64×64×3 → 3×3 s2 64, 128, 256, 512 → 3×3 s1 1024 → 1×1 1) and
    /// G (z → 1×1 conv 8·8·256 → 4×4 s1 same 256, 256 → 4×4 deconv s2 128, 64, 4).
    public static func table2Layers(zDim: Int = 6) -> [Layer] {
        func conv(_ name: String, _ c: Int, _ o: Int, _ k: Int, _ s: Int, _ p: Padding, _ size: Int) -> Layer {
            Layer(name: name, kind: .conv(stride: s, padding: p), inputChannels: c, outputChannels: o, kernelSize: k,
                  inputSize: size, inputGradient: true)
        }
        func deconv(_ name: String, _ c: Int, _ o: Int, _ size: Int) -> Layer {
            Layer(name: name, kind: .convTranspose(stride: 2, padding: 1), inputChannels: c, outputChannels: o,
                  kernelSize: 4, inputSize: size, inputGradient: true)
        }
        return [
            conv("D conv1 3×3 s2 3→64 @64", 3, 64, 3, 2, 1, 64),
            conv("D conv2 3×3 s2 64→128 @32", 64, 128, 3, 2, 1, 32),
            conv("D conv3 3×3 s2 128→256 @16", 128, 256, 3, 2, 1, 16),
            conv("D conv4 3×3 s2 256→512 @8", 256, 512, 3, 2, 1, 8),
            conv("D conv5 3×3 s1 512→1024 @4", 512, 1024, 3, 1, 1, 4),
            conv("D head 1×1 1024→1 @4", 1024, 1, 1, 1, 0, 4),
            Layer(name: "G fc 1×1 z\(zDim)→8·8·256 @1", kind: .linear, inputChannels: zDim, outputChannels: 8 * 8 * 256,
                  kernelSize: 1, inputSize: 1, inputGradient: false),
            conv("G conv1 4×4 s1 same 256→256 @8", 256, 256, 4, 1, .same, 8),
            conv("G conv2 4×4 s1 same 256→256 @8", 256, 256, 4, 1, .same, 8),
            deconv("G deconv1 4×4 s2 256→128 @8", 256, 128, 8),
            deconv("G deconv2 4×4 s2 128→64 @16", 128, 64, 16),
            deconv("G deconv3 4×4 s2 64→4 @32", 64, 4, 32),
        ]
    }

    /// Runs the benchmark.
    /// sgemm is measured before and after the layers (the median of both), so a change in
    /// machine load during the run shows less in the ratio.
    public static func run(batch: Int = 16, repetitions: Int = 5, clock: Clock = .wall) -> Report {
        Self.clock = clock
        let before = measureSgemm(size: 1024, repetitions: repetitions)
        let results = table2Layers().map { measure($0, batch: batch, repetitions: repetitions) }
        let after = measureSgemm(size: 1024, repetitions: repetitions)
        return Report(batch: batch, repetitions: repetitions, clock: clock, threads: Threads.count,
                      blasThreads: BLASInfo.threads, core: BLASInfo.coreName, cpu: cpuModel(),
                      sgemmGFLOPs: middle(before + after), layers: results)
    }

    /// sgemm n×n·n×n GFLOP/s (median).
    public static func measureSgemm(size n: Int, repetitions: Int) -> [Double] {
        let a = Tensor.randomNormal([n, n], seed: 1, purpose: "bench-a")
        let b = Tensor.randomNormal([n, n], seed: 1, purpose: "bench-b")
        let c = Tensor(shape: [n, n])
        let run = {
            sgemm(transposeA: false, transposeB: false, m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n,
                  c: c.data, ldc: n)
        }
        run()  // warm-up
        return (0..<max(1, repetitions)).map { _ in 2 * Double(n * n * n) / seconds(run) / 1e9 }
    }

    static func measure(_ layer: Layer, batch n: Int, repetitions: Int) -> LayerResult {
        let c = layer.inputChannels, o = layer.outputChannels, k = layer.kernelSize, size = layer.inputSize
        let xShape = layer.kind.isLinear ? [n, c] : [n, c, size, size]
        let x = Tensor.randomNormal(xShape, seed: 2, purpose: "bench-x")
        let xg = Tensor(shape: x.shape, storage: x.storage, requiresGrad: layer.inputGradient)
        let weightShape: [Int]
        switch layer.kind {
        case .conv: weightShape = [o, c, k, k]
        case .convTranspose: weightShape = [c, o, k, k]
        case .linear: weightShape = [o, c]
        }
        let weight = Tensor(shape: weightShape, storage: Tensor.randomNormal(weightShape, seed: 3, purpose: "bench-w").storage, requiresGrad: true)
        let bias = Tensor(shape: [o], storage: Tensor.randomNormal([o], seed: 4, purpose: "bench-b").storage, requiresGrad: true)
        func forward() -> Tensor {
            switch layer.kind {
            case .conv(let s, let p): return conv2d(xg, weight: weight, bias: bias, stride: s, padding: p)
            case .convTranspose(let s, let p): return convTranspose2d(xg, weight: weight, bias: bias, stride: s, padding: p)
            case .linear: return linear(xg, weight: weight, bias: bias)
            }
        }
        let probe = Autodiff.withoutRecording { forward() }
        let outPositions = probe.count / (n * o)
        let macs: Double
        switch layer.kind {
        case .convTranspose: macs = Double(n * c * size * size * o * k * k)
        default: macs = Double(n * o * outPositions * c * k * k)
        }
        let seed = Tensor.randomNormal(probe.shape, seed: 5, purpose: "bench-dy")
        var forwardTimes: [Double] = [], backwardTimes: [Double] = []
        for rep in 0...repetitions {
            var y: Tensor?
            let tf = seconds { y = forward() }
            let tb = seconds { y!.backward(seed: seed) }
            if rep > 0 { forwardTimes.append(tf); backwardTimes.append(tb) }
        }
        return LayerResult(name: layer.name, forwardFLOPs: 2 * macs, backwardFLOPs: 2 * macs * (layer.inputGradient ? 2 : 1),
                           forwardSeconds: middle(forwardTimes), backwardSeconds: middle(backwardTimes))
    }

    /// Which clock times the runs: wall-clock (default), or this process's CPU time, which on a
    /// machine shared with other jobs counts only the time this process ran (meaningful at 1 thread).
    public enum Clock: String, Sendable { case wall, cpu }

    nonisolated(unsafe) static var clock = Clock.wall

    static func now() -> Double {
        switch clock {
        case .wall: return Double(DispatchTime.now().uptimeNanoseconds) / 1e9
        case .cpu:
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
    }

    static func seconds(_ body: () -> Void) -> Double {
        let start = now()
        body()
        return now() - start
    }

    static func middle(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// "model name" from /proc/cpuinfo, with family and model numbers.
    public static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        func field(_ key: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix(key) && $0.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix(":") }
                .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
        }
        let name = field("model name") ?? "unknown"
        let family = field("cpu family").map { "family \($0)" }
        let model = field("model").map { "model \($0)" }
        let extra = [family, model].compactMap { $0 }.joined(separator: ", ")
        return extra.isEmpty ? name : "\(name) (\(extra))"
    }
}

extension OpsBenchmark.Layer.Kind {
    var isLinear: Bool { if case .linear = self { return true } else { return false } }
}
