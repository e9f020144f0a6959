// `carve bench allreduce`: latency and bandwidth of the fused float allreduce that
// DistributedDataParallel runs on its gradient bucket, for sizes from 4 B to the paper model's
// gradient, over the communicator the job was started with (mpirun/srun; local = no-op).
import DDP
import Foundation
import Tensor

/// Times `allReduce(_:op: .mean)` of Float buffers of many sizes (DDP's gradient bucket call).
///
/// Each repetition starts after a barrier; its time is the slowest rank's (allreduce-max of the
/// per-rank times at the end), and the median over repetitions is reported with NCCL-tests'
/// bandwidths: algorithm bandwidth = bytes / time, bus bandwidth = algorithm · 2(W−1)/W (what
/// each link carries in a ring allreduce, comparable across world sizes).
///
/// ```swift
/// let report = try AllreduceBenchmark.run(communicator: comm, sizes: AllreduceBenchmark.defaultSizes())
/// if comm.rank == 0 { print(report.text) }
/// ```
public enum AllreduceBenchmark {
    /// One buffer size to time; `label` names a model's gradient bucket.
    public struct Size: Sendable {
        public let bytes: Int
        public let label: String?
        public init(bytes: Int, label: String? = nil) {
            self.bytes = bytes
            self.label = label
        }
    }

    /// One size's measurement.
    public struct Row: Sendable {
        public let size: Size
        public let repetitions: Int
        /// Median and fastest time of one allreduce (slowest rank), seconds.
        public let medianSeconds: Double, minSeconds: Double
        public let worldSize: Int
        /// Bytes / median time, GB/s (10⁹ bytes).
        public var algorithmGBs: Double { Double(size.bytes) / medianSeconds / 1e9 }
        /// Algorithm bandwidth · 2(W−1)/W, GB/s.
        public var busGBs: Double { algorithmGBs * 2 * Double(worldSize - 1) / Double(max(worldSize, 1)) }
    }

    /// The whole run.
    public struct Report: Sendable {
        public let worldSize: Int
        public let hosts: Int
        public let rows: [Row]

        /// A human-readable table.
        public var text: String {
            var s = "carve bench allreduce: \(worldSize) rank(s) on \(hosts) host(s), Float32 allreduce-mean (DDP's gradient bucket), slowest rank, median\n"
            if worldSize == 1 { s += "note: one rank (no mpirun): the allreduce is a no-op; run e.g. `launch/mpirun.sh -n 2 carve bench allreduce`\n" }
            s += "     size   reps    median µs       min µs   algbw GB/s   busbw GB/s\n"
            for r in rows {
                let size = AllreduceBenchmark.format(bytes: r.size.bytes)
                s += String(repeating: " ", count: max(0, 9 - size.count)) + size
                s += String(format: " %6d %12.1f %12.1f %12.3f %12.3f", r.repetitions, r.medianSeconds * 1e6,
                            r.minSeconds * 1e6, r.algorithmGBs, r.busGBs)
                if let label = r.size.label { s += "   " + label }
                s += "\n"
            }
            return s
        }

        /// One JSON object: world_size, hosts, rows [{bytes, label, median_us, min_us, algbw_gbs, busbw_gbs}].
        public var json: String {
            let object: [String: Any] = [
                "world_size": worldSize, "hosts": hosts,
                "rows": rows.map { r -> [String: Any] in
                    ["bytes": r.size.bytes, "label": r.size.label ?? "", "repetitions": r.repetitions,
                     "median_us": r.medianSeconds * 1e6, "min_us": r.minSeconds * 1e6,
                     "algbw_gbs": r.algorithmGBs, "busbw_gbs": r.busGBs]
                },
            ]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    // MARK: - Sizes

    /// Powers of 4 from 4 B up to `maxBytes`, plus the gradient buckets (G+Q and D) of `presets`.
    public static func defaultSizes(maxBytes: Int = 64 << 20, presets: [String] = ["demo-hoc", "paper-hoc-crowd"]) throws
        -> [Size]
    {
        var sizes: [Size] = []
        var bytes = 4
        while bytes <= maxBytes {
            sizes.append(Size(bytes: bytes))
            bytes *= 4
        }
        for name in presets {
            let (g, d) = try gradientFloats(preset: name)
            sizes.append(Size(bytes: 4 * g, label: "\(name) G+Q gradient bucket"))
            sizes.append(Size(bytes: 4 * d, label: "\(name) D gradient bucket"))
        }
        return sizes.sorted { $0.bytes < $1.bytes }
    }

    /// The number of trainable floats in the two DDP buckets of a hoc preset: (G and Q, D).
    public static func gradientFloats(preset: String) throws -> (generator: Int, discriminator: Int) {
        let c = try Presets.named(preset)
        func count(_ m: any Module) -> Int { m.namedParameters().map(\.tensor.count).reduce(0, +) }
        let g = count(NoiseGenerator(zDim: c.zDim, widths: c.gChannels))
            + (c.beta > 0 ? count(InformationHead(zDim: c.zDim, widths: c.qChannels)) : 0)
        return (g, count(Discriminator(widths: c.dChannels)))
    }

    // MARK: - Timing

    /// Times every size on `communicator` (every rank calls this with the same arguments).
    /// - Parameters:
    ///   - repetitions: timed repetitions for sizes above 1 MB; smaller ones get at least 100.
    public static func run(communicator: any Communicator, sizes: [Size], repetitions: Int = 20) throws -> Report {
        var rows: [Row] = []
        for size in sizes {
            let count = max(1, size.bytes / 4)
            let reps = size.bytes <= 1 << 20 ? max(repetitions, 100) : repetitions
            var buffer = [Float](repeating: 1, count: count)
            var nanoseconds = [Int64](repeating: 0, count: reps)
            try buffer.withUnsafeMutableBufferPointer { b in
                for _ in 0..<2 { try communicator.allReduce(b, op: .mean) }  // warm-up: connections, pages
                for i in 0..<reps {
                    try communicator.barrier()
                    let start = DispatchTime.now().uptimeNanoseconds
                    try communicator.allReduce(b, op: .mean)
                    nanoseconds[i] = Int64(DispatchTime.now().uptimeNanoseconds - start)
                }
            }
            try communicator.allReduce(&nanoseconds, op: .max)
            let seconds = nanoseconds.map { Double($0) / 1e9 }.sorted()
            rows.append(Row(size: size, repetitions: reps, medianSeconds: seconds[seconds.count / 2],
                            minSeconds: seconds[0], worldSize: communicator.worldSize))
        }
        return Report(worldSize: communicator.worldSize, hosts: try hostCount(communicator), rows: rows)
    }

    /// How many distinct host names the ranks run on.
    static func hostCount(_ communicator: any Communicator) throws -> Int {
        var name = [UInt8](ProcessInfo.processInfo.hostName.utf8.prefix(63))
        name += [UInt8](repeating: 0, count: 64 - name.count)
        let all = try name.withUnsafeBytes { try communicator.allGather($0) }
        return Set(stride(from: 0, to: all.count, by: 64).map { all[$0..<($0 + 64)] }).count
    }

    /// "4 B", "16 KB", "64 MB", "1.9 MB" (binary units).
    static func format(bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return value == value.rounded() ? String(format: "%.0f %@", value, units[unit]) : String(format: "%.1f %@", value, units[unit])
    }
}
