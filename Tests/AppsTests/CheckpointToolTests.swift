// The checkpoint merge-and-evaluate tool (issue 7) as a user runs it: `carve ckpt inspect`,
// `ckpt merge`, `ckpt eval`, `carve sample` and `carve segment` on checkpoints that
// `carve train` writes, and on damaged or wrong files (one stderr line, non-zero exit).
//
// The runs and data sets are made once per test process (`Workspace.shared`, about 3 s) in a
// temporary folder removed at exit. Tensors are read back with `SafeTensors` below, a reader
// written from the safetensors specification alone, so the tests also prove the format.

import Foundation
import Testing
import TestSupport

@Suite struct CheckpointToolTests {
    let carve: URL
    let work: Workspace

    init() throws {
        carve = try builtExecutable(named: "carve", environmentVariable: "CARVE_BIN")
        work = try Workspace.shared.get()
    }

    /// Runs carve and requires exit 0 with an empty stderr.
    @discardableResult
    func succeed(_ arguments: [String]) throws -> ExecutableResult {
        let result = try runExecutable(carve, arguments: arguments, timeout: 120)
        try #require(result.exitCode == 0, "carve \(arguments.joined(separator: " ")): \(result.standardError)")
        #expect(result.standardError.isEmpty, "carve \(arguments.joined(separator: " ")): \(result.standardError)")
        return result
    }

    /// Runs carve and requires a non-zero exit with exactly one "carve: …" line on stderr; returns it.
    func fail(_ arguments: [String], comment: String = "") throws -> String {
        let result = try runExecutable(carve, arguments: arguments, timeout: 120)
        let command = "carve \(arguments.joined(separator: " ")) \(comment)"
        #expect(result.exitCode != 0, "\(command) succeeded: \(result.standardOutput)")
        #expect(result.exitCode < 128, "\(command) crashed (\(result.exitCode)): \(result.standardError)")
        #expect(result.standardErrorLines.count == 1, "\(command): stderr \(result.standardError)")
        let line = result.standardErrorLines.first ?? ""
        #expect(line.hasPrefix("carve: "), "\(command): \(line)")
        return line
    }

    // MARK: - inspect

    @Test func inspectPrintsMetadataTensorsAndTheChecksumVerdict() throws {
        let file = work.hoc[1]
        let stored = try SafeTensors(file)
        let text = try succeed(["ckpt", "inspect", file.path]).standardOutput
        for needle in ["preset tiny", "step 4", "world size 1", "seed 3", "checksum ok",
                       "\(stored.parameterCount) parameters"] {
            #expect(text.contains(needle), "missing \"\(needle)\" in:\n\(text)")
        }
        for (name, tensor) in stored.tensors {
            let shape = "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]"
            #expect(text.split(separator: "\n").contains { $0.contains(name + " ") && $0.contains(shape) && $0.contains("F32") },
                    "no line for \(name) \(shape) F32")
        }

        let json = try succeed(["ckpt", "inspect", "--json", file.path]).standardOutput
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["preset"] as? String == "tiny")
        #expect(object["step"] as? Int == 4)
        #expect(object["world_size"] as? Int == 1)
        #expect(object["seed"] as? Int == 3)
        #expect(object["parameter_count"] as? Int == stored.parameterCount)
        #expect(object["checksum"] as? String == "ok")
        #expect(object["data_crc32c"] as? String == stored.metadata["data_crc32c"])
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.compactMap { $0["name"] as? String } == stored.order)
        for entry in tensors {
            let name = try #require(entry["name"] as? String)
            let values = try #require(stored.tensors[name]).values
            #expect(entry["shape"] as? [Int] == stored.tensors[name]?.shape, "\(name)")
            #expect(entry["dtype"] as? String == "F32", "\(name)")
            #expect(entry["count"] as? Int == values.count, "\(name)")
            let (low, high) = (values.min() ?? 0, values.max() ?? 0)
            let mean = values.reduce(0.0) { $0 + Double($1) } / Double(max(values.count, 1))
            #expect(isClose(entry["min"], Double(low)) && isClose(entry["max"], Double(high)) && isClose(entry["mean"], mean),
                    "\(name): \(entry)")
        }
    }

    // MARK: - merge

    @Test func mergeAveragesTheLastTwoCheckpointsAndEveryCommandLoadsTheResult() throws {
        let out = work.fresh("merged").appendingPathComponent("merged.safetensors")
        try FileManager.default.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
        try succeed(["ckpt", "merge", work.hoc[0].path, work.hoc[1].path, "--out", out.path])

        let a = try SafeTensors(work.hoc[0]), b = try SafeTensors(work.hoc[1]), m = try SafeTensors(out)
        #expect(a.order.contains { $0.hasPrefix("opt/") }, "the trainer's checkpoints hold optimizer state")
        #expect(m.order == a.order.filter { !$0.hasPrefix("opt/") }, "optimizer state dropped, order kept")
        #expect(m.order.contains { $0.contains("running_mean") }, "BN statistics are kept")
        for name in m.order {
            let x = a.tensors[name]!.values, y = b.tensors[name]!.values, z = m.tensors[name]!.values
            #expect(m.tensors[name]!.shape == a.tensors[name]!.shape)
            let c = weightedAverageCloseness(z, of: [x, y], weights: [0.5, 0.5])
            #expect(c.firstBad == nil, "\(name): merged differs from the average: \(c)")
        }
        #expect(m.order.contains { a.tensors[$0]!.values != b.tensors[$0]!.values }, "the two checkpoints differ")
        #expect(m.metadata["step"] == "4")
        #expect(m.metadata["preset"] == "tiny")
        #expect(m.metadata["format"] == "carve-1")

        // An ordinary checkpoint: inspect, eval and sample accept it.
        let text = try succeed(["ckpt", "inspect", out.path]).standardOutput
        #expect(text.contains("step 4") && text.contains("checksum ok"), "\(text)")
        let eval = work.fresh("merged-eval")
        try succeed(["ckpt", "eval", out.path, "--out", eval.path])
        #expect(FileManager.default.fileExists(atPath: eval.appendingPathComponent("metrics.json").path))
        let samples = work.fresh("merged-samples")
        try succeed(["sample", out.path, "--count", "2", "--out", samples.path])
        #expect(try names(samples).contains("mask-0001.png"))
        let diff = try succeed(["ckpt", "diff", out.path, out.path, "--tolerance", "0"]).standardOutput
        #expect(diff.contains("worst relative difference 0.000e+00"), "\(diff)")

        // Python reads the merged file and recomputes its checksum (skipped without python3).
        if let python = pythonWithStandardLibrary() {
            let script = repository.appendingPathComponent("scripts/read_checkpoint.py")
            let result = try runExecutable(python, arguments: [script.path, out.path, "--verify", "--json"])
            #expect(result.exitCode == 0, "\(result.standardError)")
            #expect(result.standardOutput.contains("\"ok (\(m.metadata["data_crc32c"] ?? "?"))\""), "\(result.standardOutput)")
        } else {
            print("skipped: scripts/read_checkpoint.py on the merged file (no python3 with its standard library on PATH)")
        }
    }

    @Test func mergeWeightsAreNormalised() throws {
        let out = work.fresh("weighted").appendingPathComponent("w.safetensors")
        try FileManager.default.createDirectory(at: out.deletingLastPathComponent(), withIntermediateDirectories: true)
        try succeed(["ckpt", "merge", work.hoc[0].path, work.hoc[1].path, "--out", out.path, "--weights", "3,1"])
        let a = try SafeTensors(work.hoc[0]), b = try SafeTensors(work.hoc[1]), m = try SafeTensors(out)
        for name in m.order {
            let x = a.tensors[name]!.values, y = b.tensors[name]!.values, z = m.tensors[name]!.values
            let c = weightedAverageCloseness(z, of: [x, y], weights: [0.75, 0.25])
            #expect(c.firstBad == nil, "\(name): off the 3:1 average: \(c)")
        }
        #expect(m.metadata["step"] == "4", "the largest step, whichever comes first")
    }

    /// A checkpoint that cannot be averaged with `work.hoc[1]`, and the tensor named in the refusal.
    struct Incompatible: CustomTestStringConvertible, Sendable {
        var name: String
        var file: @Sendable (Workspace) -> URL
        /// A word the one-line refusal must contain (the first differing tensor, or "preset").
        var names: String
        var testDescription: String { name }

        static let all: [Incompatible] = [
            Incompatible(name: "g_channels changed", file: { $0.wide }, names: "tensor G/"),
            Incompatible(name: "layers=3", file: { $0.deep }, names: "configuration layers is "),
            Incompatible(name: "fg preset", file: { $0.fg }, names: "preset"),
        ]
    }

    @Test(arguments: Incompatible.all)
    func mergeRefusesAnotherArchitectureAndLeavesNoFile(_ other: Incompatible) throws {
        let folder = work.fresh("refused")
        let out = folder.appendingPathComponent("m.safetensors")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for order in [[work.hoc[1], other.file(work)], [other.file(work), work.hoc[1]]] {
            let line = try fail(["ckpt", "merge"] + order.map(\.path) + ["--out", out.path])
            #expect(line.contains(other.names), "\(line)")
            let left = try names(folder)
            #expect(left.isEmpty, "merge left \(left) behind")
        }
        if other.name == "g_channels changed" {
            // The first differing tensor in declaration order: the generator's first weight with another shape.
            let line = try fail(["ckpt", "merge", work.hoc[1].path, other.file(work).path, "--out", out.path])
            let a = try SafeTensors(work.hoc[1]), b = try SafeTensors(other.file(work))
            let first = try #require(a.order.first { a.tensors[$0]?.shape != b.tensors[$0]?.shape })
            #expect(line.contains("tensor \(first) "), "expected \(first) in: \(line)")
        }
    }

    // MARK: - eval, sample, segment

    @Test func evalOfAHocCheckpointWritesMetricsAndAPanel() throws {
        let out = work.fresh("eval-hoc")
        try succeed(["ckpt", "eval", work.hoc[1].path, "--data", work.synthHoc.path, "--out", out.path])
        let metrics = try jsonObject(out.appendingPathComponent("metrics.json"))
        for key in ["single_object_rate", "single_component_rate", "mask_area_mean"] {
            let value = try #require(metrics[key] as? Double, "metrics.json lacks \(key): \(metrics)")
            #expect(value >= 0 && value <= 1, "\(key) = \(value)")
        }
        #expect(try pngSize(out.appendingPathComponent("panel.png")) != nil)

        // Without ground truth (the embedded photo) there is no single-object rate.
        let plain = work.fresh("eval-hoc-plain")
        try succeed(["ckpt", "eval", work.hoc[1].path, "--out", plain.path])
        let other = try jsonObject(plain.appendingPathComponent("metrics.json"))
        #expect(other["single_component_rate"] is Double && other["mask_area_mean"] is Double, "\(other)")
        #expect(other["single_object_rate"] == nil || other["single_object_rate"] is NSNull, "\(other)")
    }

    @Test func evalOfAnFgCheckpointWritesMetricsPerImageCSVAndAPanel() throws {
        let out = work.fresh("eval-fg")
        try succeed(["ckpt", "eval", work.fg.path, "--data", work.synthFg.path, "--out", out.path])
        let metrics = try jsonObject(out.appendingPathComponent("metrics.json"))
        for key in ["mean_iou", "precision", "recall"] {
            let value = try #require(metrics[key] as? Double, "metrics.json lacks \(key): \(metrics)")
            #expect(value >= 0 && value <= 1, "\(key) = \(value)")
        }
        #expect((metrics["iou_by_threshold"] as? [String: Double])?.count == 9, "\(metrics)")
        let csv = try String(contentsOf: out.appendingPathComponent("per-image.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n")
        let heldout = try names(work.synthFg.appendingPathComponent("heldout/images")).filter { $0.hasSuffix(".png") }
        #expect(rows.first?.hasPrefix("file,") == true, "\(csv)")
        #expect(rows.count == heldout.count + 1, "one row per held-out image: \(csv)")
        #expect(try pngSize(out.appendingPathComponent("panel.png")) != nil)
    }

    @Test func sampleWritesInstancesMasksAndComposites() throws {
        let out = work.fresh("sample")
        let result = try succeed(["sample", work.hoc[1].path, "--count", "3", "--out", out.path])
        let files = try names(out)
        for i in 0..<3 {
            for kind in ["instance", "mask", "carved", "composite"] {
                let name = String(format: "%@-%04d.png", kind, i)
                #expect(files.contains(name), "missing \(name) in \(files)")
            }
        }
        #expect(try pngSize(out.appendingPathComponent("mask-0000.png")).map { [$0.width, $0.height] } == [64, 64])
        #expect(result.standardOutput.contains("wrote \(files.count) files"), "\(result.standardOutput)")
    }

    @Test func segmentWritesOneMaskPerImageAtTheImageSize() throws {
        let images = work.fresh("segment-in"), out = work.fresh("segment-out")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        // Box crops of several sizes, plus a non-PNG file that must be ignored.
        let source = work.synthFg.appendingPathComponent("heldout/images")
        var sizes: [String: [Int]] = [:]
        for name in try names(source).filter({ $0.hasSuffix(".png") }).prefix(3) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: images.appendingPathComponent(name))
            let size = try #require(try pngSize(images.appendingPathComponent(name)))
            sizes[name] = [size.width, size.height]
        }
        try Data("not an image".utf8).write(to: images.appendingPathComponent("notes.txt"))
        try succeed(["segment", work.fg.path, "--images", images.path, "--out", out.path])
        #expect(try names(out) == sizes.keys.sorted())
        for (name, size) in sizes {
            let mask = try #require(try pngSize(out.appendingPathComponent(name)))
            #expect([mask.width, mask.height] == size, "\(name)")
        }
    }

    // MARK: - Bad input

    /// A bad input and a command run on it; each must give one stderr line and a non-zero exit.
    struct BadInput: CustomTestStringConvertible, Sendable {
        var name: String
        var arguments: @Sendable (Workspace) throws -> [String]
        /// Words the one line must contain.
        var says: [String]
        var testDescription: String { name }

        static let files: [(String, @Sendable (Workspace) throws -> URL, [String])] = [
            ("truncated", { try $0.damaged("truncated") { $0.prefix($0.count / 2) } }, ["truncated.safetensors"]),
            ("flipped byte", { try $0.damaged("flipped") { var d = $0; d[d.count - 3] ^= 0x10; return d } },
             ["flipped.safetensors", "checksum"]),
            ("a PNG", { $0.synthHoc.appendingPathComponent("image-000.png") }, ["image-000.png"]),
            ("a text file", { try $0.damaged("text") { _ in Data("hello, world\n".utf8) } }, ["text.safetensors"]),
            ("a missing file", { $0.root.appendingPathComponent("no-such.safetensors") }, ["no-such.safetensors"]),
        ]

        static let all: [BadInput] = files.flatMap { name, file, says in
            [
                BadInput(name: "inspect \(name)", arguments: { ["ckpt", "inspect", try file($0).path] }, says: says),
                BadInput(name: "inspect --json \(name)", arguments: { ["ckpt", "inspect", "--json", try file($0).path] }, says: says),
                BadInput(name: "eval \(name)", arguments: { ["ckpt", "eval", try file($0).path, "--out", $0.fresh("bad-eval").path] },
                         says: says),
                BadInput(name: "sample \(name)", arguments: { ["sample", try file($0).path, "--out", $0.fresh("bad-sample").path] },
                         says: says),
                BadInput(name: "segment \(name)", arguments: {
                    ["segment", try file($0).path, "--images", $0.synthFg.appendingPathComponent("heldout/images").path,
                     "--out", $0.fresh("bad-segment").path]
                }, says: says),
                BadInput(name: "merge \(name)", arguments: {
                    ["ckpt", "merge", $0.hoc[0].path, try file($0).path, "--out", $0.fresh("bad-merge").path + ".safetensors"]
                }, says: says),
            ]
        } + [
            BadInput(name: "sample of an fg checkpoint", arguments: { ["sample", $0.fg.path, "--out", $0.fresh("fg-sample").path] },
                     says: ["fg"]),
            BadInput(name: "segment of a hoc checkpoint", arguments: {
                ["segment", $0.hoc[1].path, "--images", $0.synthFg.appendingPathComponent("heldout/images").path,
                 "--out", $0.fresh("hoc-segment").path]
            }, says: ["hoc"]),
            BadInput(name: "segment of an empty folder", arguments: {
                let empty = $0.fresh("empty")
                try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
                return ["segment", $0.fg.path, "--images", empty.path, "--out", $0.fresh("empty-out").path]
            }, says: ["--images", "no PNG"]),
            BadInput(name: "segment of a folder with a corrupt image", arguments: {
                let folder = $0.fresh("corrupt-images")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]).write(to: folder.appendingPathComponent("broken.png"))
                return ["segment", $0.fg.path, "--images", folder.path, "--out", $0.fresh("corrupt-out").path]
            }, says: ["broken.png"]),
            BadInput(name: "segment of a missing folder", arguments: {
                ["segment", $0.fg.path, "--images", $0.root.appendingPathComponent("nowhere").path, "--out", $0.fresh("x").path]
            }, says: ["--images", "nowhere"]),
            BadInput(name: "eval of an fg checkpoint without --data", arguments: {
                ["ckpt", "eval", $0.fg.path, "--out", $0.fresh("fg-nodata").path]
            }, says: ["--data"]),
            BadInput(name: "eval of an fg checkpoint on hoc data", arguments: {
                ["ckpt", "eval", $0.fg.path, "--data", $0.synthHoc.path, "--out", $0.fresh("fg-hocdata").path]
            }, says: ["--data", "masks"]),
            BadInput(name: "eval of a hoc checkpoint on fg data", arguments: {
                ["ckpt", "eval", $0.hoc[1].path, "--data", $0.synthFg.path, "--out", $0.fresh("hoc-fgdata").path]
            }, says: ["synth-fg"]),
            BadInput(name: "merge with too few weights", arguments: {
                ["ckpt", "merge", $0.hoc[0].path, $0.hoc[1].path, "--weights", "1", "--out", $0.fresh("w1").path + ".safetensors"]
            }, says: ["--weights", "1 value", "2 checkpoints"]),
            BadInput(name: "merge with weights that are not numbers", arguments: {
                ["ckpt", "merge", $0.hoc[0].path, $0.hoc[1].path, "--weights", "1,x", "--out", $0.fresh("w2").path + ".safetensors"]
            }, says: ["--weights"]),
            BadInput(name: "merge with zero weights", arguments: {
                ["ckpt", "merge", $0.hoc[0].path, $0.hoc[1].path, "--weights", "0,0", "--out", $0.fresh("w3").path + ".safetensors"]
            }, says: ["--weights"]),
            BadInput(name: "merge into a missing folder", arguments: {
                ["ckpt", "merge", $0.hoc[0].path, $0.hoc[1].path, "--out", $0.root.appendingPathComponent("nowhere/m.safetensors").path]
            }, says: ["nowhere"]),
        ]
    }

    @Test(arguments: BadInput.all)
    func badInputGivesOneLineAndANonZeroExit(_ bad: BadInput) throws {
        let arguments = try bad.arguments(work)
        let line = try fail(arguments, comment: "(\(bad.name))")
        for word in bad.says {
            #expect(line.contains(word), "\(bad.name): expected \"\(word)\" in: \(line)")
        }
        // Nothing half-written where the command was to write.
        if let i = arguments.firstIndex(of: "--out") {
            #expect(!FileManager.default.fileExists(atPath: arguments[i + 1]), "\(bad.name) left \(arguments[i + 1])")
        }
        if let i = arguments.firstIndex(of: "--out"), arguments[0] == "ckpt", arguments[1] == "merge" {
            let out = URL(fileURLWithPath: arguments[i + 1])
            #expect(!FileManager.default.fileExists(atPath: out.path), "\(bad.name) left \(out.path)")
            let folder = out.deletingLastPathComponent()
            let leftovers = ((try? names(folder)) ?? []).filter { $0.hasPrefix("." + out.lastPathComponent) }
            #expect(leftovers.isEmpty, "\(bad.name) left \(leftovers)")
        }
    }
}

// MARK: - The shared runs and data

/// Checkpoints and data sets made once by running `carve train` and `carve data`.
final class Workspace: Sendable {
    /// The temporary folder holding everything (removed when the process exits).
    let root: URL
    /// `tiny`, seed 3, 4 steps, checkpoints at steps 2 and 4.
    let hoc: [URL]
    /// `tiny` with `g_channels=8,8,8,8,8` (other shapes).
    let wide: URL
    /// `tiny` with `layers=3`.
    let deep: URL
    /// `tiny-fg` trained 2 steps on `synthFg`.
    let fg: URL
    /// `carve data synth-hoc --count 1` (instance label maps, objects-*.json).
    let synthHoc: URL
    /// `carve data synth-fg --count 24` (train/, heldout/, backgrounds/).
    let synthFg: URL

    static let shared = Result { try Workspace() }
    nonisolated(unsafe) private static var removeAtExit: String?

    private init() throws {
        let carve = try builtExecutable(named: "carve", environmentVariable: "CARVE_BIN")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("carve-ckpt-tool-\(UUID().uuidString)")
        self.root = root
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        Self.removeAtExit = root.path
        atexit { if let path = Workspace.removeAtExit { try? FileManager.default.removeItem(atPath: path) } }

        func run(_ arguments: [String]) throws {
            let result = try runExecutable(carve, arguments: arguments, timeout: 300)
            guard result.exitCode == 0 else {
                throw Failure("carve \(arguments.joined(separator: " ")) exited \(result.exitCode): \(result.standardError)")
            }
        }
        func checkpoints(_ run: String) throws -> [URL] {
            let folder = root.appendingPathComponent(run).appendingPathComponent("checkpoints")
            return try names(folder).filter { $0.hasSuffix(".safetensors") }.map { folder.appendingPathComponent($0) }
        }
        let tiny = ["train", "--preset", "tiny", "--quiet", "--seed", "3"]
        let synthHoc = root.appendingPathComponent("synth-hoc"), synthFg = root.appendingPathComponent("synth-fg")
        self.synthHoc = synthHoc
        self.synthFg = synthFg
        try run(["data", "synth-hoc", "--out", synthHoc.path, "--count", "1"])
        try run(["data", "synth-fg", "--out", synthFg.path, "--count", "24"])
        try run(tiny + ["--steps", "4", "--checkpoint-every", "2", "--run-dir", root.appendingPathComponent("hoc").path])
        try run(tiny + ["--steps", "2", "--set", "g_channels=8,8,8,8,8", "--run-dir", root.appendingPathComponent("wide").path])
        try run(tiny + ["--steps", "2", "--set", "layers=3", "--run-dir", root.appendingPathComponent("deep").path])
        try run(["train", "--preset", "tiny-fg", "--quiet", "--steps", "2", "--data", synthFg.path,
                 "--run-dir", root.appendingPathComponent("fg").path])
        let hoc = try checkpoints("hoc")
        guard hoc.count == 2, let wide = try checkpoints("wide").last, let deep = try checkpoints("deep").last,
              let fg = try checkpoints("fg").last else {
            throw Failure("carve train did not write the expected checkpoints under \(root.path)")
        }
        self.hoc = hoc
        self.wide = wide
        self.deep = deep
        self.fg = fg
    }

    /// A new, not yet existing path under `root` whose name starts with `prefix`.
    func fresh(_ prefix: String) -> URL {
        root.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    }

    /// A copy of the last `hoc` checkpoint changed by `change`, as NAME.safetensors.
    func damaged(_ name: String, _ change: (Data) -> Data) throws -> URL {
        let url = fresh("damaged").appendingPathComponent("\(name).safetensors")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try change(try Data(contentsOf: hoc[1])).write(to: url)
        return url
    }
}

private struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Reading files without Carve

/// A safetensors file read from the specification: 8-byte little-endian header length, JSON
/// header (`data_offsets` relative to the data region), raw little-endian F32 data.
struct SafeTensors {
    var order: [String] = []
    var tensors: [String: (shape: [Int], values: [Float])] = [:]
    var metadata: [String: String] = [:]

    init(_ url: URL) throws {
        let bytes = [UInt8](try Data(contentsOf: url))
        guard bytes.count >= 8 else { throw Failure("\(url.path): too short") }
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
        guard 8 + n <= bytes.count,
              let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any] else {
            throw Failure("\(url.path): bad header")
        }
        metadata = header["__metadata__"] as? [String: String] ?? [:]
        var entries: [(begin: Int, name: String)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32",
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2,
                  offsets[1] - offsets[0] == 4 * shape.reduce(1, *), 8 + n + offsets[1] <= bytes.count else {
                throw Failure("\(url.path): bad entry \(name)")
            }
            let values = (0..<(shape.reduce(1, *))).map { i -> Float in
                let p = 8 + n + offsets[0] + 4 * i
                return Float(bitPattern: UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16
                    | UInt32(bytes[p + 3]) << 24)
            }
            tensors[name] = (shape, values)
            entries.append((offsets[0], name))
        }
        order = entries.sorted { $0.begin < $1.begin }.map(\.name)
    }

    /// Values outside the optimizer state (`opt/…`).
    var parameterCount: Int {
        tensors.filter { !$0.key.hasPrefix("opt/") }.map(\.value.values.count).reduce(0, +)
    }
}

/// Width and height from a PNG's IHDR chunk, or nil when the file is not a PNG.
private func pngSize(_ url: URL) throws -> (width: Int, height: Int)? {
    let bytes = [UInt8](try Data(contentsOf: url).prefix(24))
    guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
          String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else { return nil }
    func big(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (big(16), big(20))
}

private func names(_ folder: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
}

private func jsonObject(_ url: URL) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
        throw Failure("\(url.path) is not a JSON object")
    }
    return object
}

/// The largest |values[i] − expected[i]|.
/// How far merged float32 values are from the exact weighted average of `inputs`: `merge`
/// accumulates in Double and rounds once to float32, so each value is within γ₁·Σ wᵢ|xᵢ|
/// (Note [Rounding bounds]; the Double sums' own error, ~1e-16 relative, is far inside it).
private func weightedAverageCloseness(_ values: [Float], of inputs: [[Float]], weights: [Double]) -> Closeness {
    let exact = values.indices.map { i in zip(inputs, weights).reduce(0.0) { $0 + $1.1 * Double($1.0[i]) } }
    let magnitudes = values.indices.map { i in zip(inputs, weights).reduce(0.0) { $0 + $1.1 * abs(Double($1.0[i])) } }
    return RoundingBound.check(values, exact: exact, magnitudes: magnitudes, terms: 1)
}

/// Whether a JSON number is within a Float32 rounding of `expected`.
private func isClose(_ value: Any?, _ expected: Double) -> Bool {
    guard let value = value as? Double else { return false }
    return abs(value - expected) <= 1e-5 * max(1, abs(expected))
}

/// The repository this file belongs to.
private let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// python3, when installed (read_checkpoint.py needs only the standard library).
private func pythonWithStandardLibrary() -> URL? {
    for path in ["/usr/bin/python3", "/usr/local/bin/python3", "/opt/homebrew/bin/python3"]
    where FileManager.default.isExecutableFile(atPath: path) {
        return URL(fileURLWithPath: path)
    }
    return nil
}
