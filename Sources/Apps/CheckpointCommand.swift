import ArgumentParser
import Carve
import Foundation

/// `carve ckpt inspect|diff|merge|eval`: the checkpoint merge-and-evaluate tool.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Inspect, compare, merge and evaluate checkpoints.",
        subcommands: [Inspect.self, Diff.self, Merge.self, Evaluate.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a checkpoint's metadata, tensors and checksum verdict.")
        @Argument(help: "The checkpoint (.safetensors).") var checkpoint: String
        @Flag(help: "Print JSON.") var json = false
        func run() throws {
            try reportingErrors { print(try CheckpointTools.inspect(URL(fileURLWithPath: checkpoint), json: json)) }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two checkpoints of one architecture tensor by tensor.",
            discussion: "Prints each tensor's largest difference relative to its largest magnitude, worst first; exits 1 when the worst exceeds --tolerance or when a NaN or infinity in one checkpoint meets any other value in the other.")
        @Argument(help: "The first checkpoint.") var a: String
        @Argument(help: "The second checkpoint.") var b: String
        @Option(help: "The largest difference accepted (relative, or absolute with --absolute).") var tolerance: Double = .infinity
        @Flag(name: .customLong("optimizer"), help: "Compare the optimizer state too.") var includeOptimizer = false
        @Flag(help: "Compare absolute differences |a − b| instead of differences relative to each tensor's largest |a|.") var absolute = false
        func run() throws {
            try reportingErrors {
                let x = try Checkpoint.load(from: URL(fileURLWithPath: a))
                let y = try Checkpoint.load(from: URL(fileURLWithPath: b))
                let diffs = try CheckpointTools.differences(x, y, aName: a, bName: b, includeOptimizer: includeOptimizer, absolute: absolute)
                let kind = absolute ? "absolute" : "relative"
                for d in diffs.prefix(10) { print(String(format: "%.3e  %@", d.difference, d.name)) }
                let worst = diffs.first?.difference ?? 0
                print(String(format: "worst %@ difference %.3e over %d tensors", kind, worst, diffs.count))
                if worst == .infinity {
                    throw ConfigurationError("tensor \(diffs[0].name) holds a NaN or infinity where the other checkpoint does not")
                }
                if worst > tolerance {
                    throw ConfigurationError(String(format: "worst %@ difference %.3e exceeds --tolerance %.3e (tensor %@)", kind, worst, tolerance, diffs[0].name))
                }
            }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Average checkpoints of one architecture (weights optional) into a new checkpoint.",
            discussion: """
                Parameters and BatchNorm statistics are averaged (weights are normalised), the optimizer \
                state is dropped and the step is the largest. Checkpoints of another preset or \
                architecture are refused, naming the first tensor or configuration key that differs; \
                the output is written atomically, so a failed merge leaves no file.
                """)
        @Argument(help: "Checkpoints to average.") var checkpoints: [String]
        @Option(help: "The output checkpoint (written atomically).") var out: String
        @Option(help: "Comma-separated weights, one per checkpoint.") var weights: String?
        func validate() throws {
            guard !checkpoints.isEmpty else { throw ValidationError("give at least one checkpoint to merge") }
            if let weights {
                let values = weights.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
                guard values.allSatisfy({ $0 != nil }) else {
                    throw ValidationError("--weights \(weights): expected comma-separated numbers")
                }
                guard values.count == checkpoints.count else {
                    throw ValidationError("--weights \(weights): \(values.count) value\(values.count == 1 ? "" : "s") for \(checkpoints.count) checkpoint\(checkpoints.count == 1 ? "" : "s")")
                }
            }
        }
        func run() throws {
            try reportingErrors {
                let w = weights.map { $0.split(separator: ",").map { Double($0)! } }
                let merged = try CheckpointTools.merge(checkpoints.map { URL(fileURLWithPath: $0) }, weights: w)
                try merged.write(to: URL(fileURLWithPath: out))
                print("carve: merged \(checkpoints.count) checkpoints into \(out) (step \(merged.step))")
            }
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval", abstract: "Evaluate a checkpoint: metrics.json and panels in a folder.",
            discussion: """
                hoc: mask_area_mean, single_component_rate and (with --data a synth-hoc folder) \
                single_object_rate, plus panel.png. fg (--data a labelled folder such as a synth-fg \
                one): mean_iou, precision, recall, per-image.csv and panel.png.
                """)
        @Argument(help: "The checkpoint.") var checkpoint: String
        @Option(help: "Data with ground truth (hoc: a synth-hoc folder).") var data: String?
        @Option(help: "The output folder.") var out: String
        @Option(help: "fg: the masks' last step, none, colour or grabcut (default: the checkpoint's refine).") var refine: String?
        func run() throws {
            try reportingErrors {
                let url = URL(fileURLWithPath: checkpoint)
                let report = try Evaluator.evaluate(checkpoint: url, dataPath: data, out: URL(fileURLWithPath: out), refine: refine)
                print("carve: wrote \(report.path)")
            }
        }
    }
}

/// `carve sample`: instances, masks and composites from a hoc checkpoint.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Write instances, masks and composites sampled from a hoc checkpoint.")
    @Argument(help: "The checkpoint.") var checkpoint: String
    @Option(help: "How many instances.") var count: Int = 16
    @Option(help: "The output folder.") var out: String
    func validate() throws {
        guard count >= 1 && count <= 10_000 else { throw ValidationError("--count must be in 1...10000") }
    }
    func run() throws {
        try reportingErrors {
            let n = try Evaluator.sample(checkpoint: URL(fileURLWithPath: checkpoint), count: count,
                                         out: URL(fileURLWithPath: out))
            print("carve: wrote \(n) files to \(out)")
        }
    }
}

/// Runs `body`; any error becomes one line on stderr and exit code 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        FileHandle.standardError.write(Data("carve: \(error.localizedDescription)\n".utf8))
        throw ExitCode(1)
    }
}
