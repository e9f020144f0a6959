import Foundation
import Testing
import TestSupport

/// Runs the built `carve` binary, as swift-argument-parser's `AssertExecuteCommand` tests do: what
/// a user sees for `--help`, `--version` and a bad flag (docs/ARCHITECTURE.md, "Command line").
@Suite struct CLITests {
    let carve: URL

    init() throws {
        carve = try builtExecutable(named: "carve", environmentVariable: "CARVE_BIN")
    }

    @Test func helpShowsTheOverviewAndExitsZero() throws {
        let result = try runExecutable(carve, arguments: ["--help"])
        #expect(result.exitCode == 0, "stderr: \(result.standardError)")
        #expect(result.standardOutput.contains("OVERVIEW:"), "stdout: \(result.standardOutput)")
        #expect(result.standardOutput.contains("USAGE: carve"), "stdout: \(result.standardOutput)")
        #expect(result.standardError.isEmpty, "stderr: \(result.standardError)")
    }

    @Test func versionPrintsTheVersionOfTheSources() throws {
        let result = try runExecutable(carve, arguments: ["--version"])
        #expect(result.exitCode == 0, "stderr: \(result.standardError)")
        #expect(result.standardOutputLines == [try sourceVersion()], "stdout: \(result.standardOutput)")
    }

    @Test(arguments: [["--no-such-flag"], ["--no-such-flag=3"], ["no-such-command"]])
    func aBadFlagGivesOneLineOnStandardErrorAndExitCode64(arguments: [String]) throws {
        let result = try runExecutable(carve, arguments: arguments)
        #expect(result.exitCode == 64, "stderr: \(result.standardError)")
        #expect(result.standardErrorLines.count == 1, "stderr: \(result.standardError)")
        let line = try #require(result.standardErrorLines.first)
        #expect(line.hasPrefix("carve: "), "stderr: \(line)")
        #expect(line.contains(arguments[0].split(separator: "=")[0]), "the line names the flag: \(line)")
        #expect(result.standardOutput.isEmpty, "stdout: \(result.standardOutput)")
    }

    /// A negative count is a bad value named as such, not "Missing value" for a flag "-1".
    @Test(arguments: [["--steps", "-1"], ["--batch-size", "-3"], ["--checkpoint-every", "-2"], ["--eval-every", "-5"]])
    func aNegativeCountIsNamed(_ flag: [String]) throws {
        let result = try runExecutable(carve, arguments: ["train", "--preset", "tiny"] + flag + ["--run-dir", "/nonexistent/never"])
        #expect(result.exitCode == 64, "stderr: \(result.standardError)")
        #expect(result.standardErrorLines.count == 1, "stderr: \(result.standardError)")
        let line = result.standardErrorLines.first ?? ""
        #expect(line.hasPrefix("carve: \(flag[0]) must") && !line.contains("Missing"), "\(line)")
    }
}

/// `carveVersion` as written in Sources/Carve/Version.swift (this target does not link Carve).
private func sourceVersion() throws -> String {
    let file = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/Carve/Version.swift")
    let text = try String(contentsOf: file, encoding: .utf8)
    let declaration = try #require(text.split(separator: "\n").first { $0.contains("let carveVersion") },
                                   "no carveVersion in \(file.path)")
    let quoted = declaration.split(separator: "\"", omittingEmptySubsequences: false)
    try #require(quoted.count >= 3, "carveVersion is not a string literal: \(declaration)")
    return String(quoted[1])
}

/// OpenBLAS's kernel set (OpenBLASCoreType): a user's OPENBLAS_CORETYPE is kept; otherwise Zen 4
/// (AMD family 25 with AVX-512) gets Haswell and other AVX-512 CPUs SkylakeX, as measured.
@Suite struct OpenBLASCoreTests {
    let carve: URL

    init() throws {
        carve = try builtExecutable(named: "carve", environmentVariable: "CARVE_BIN")
    }

    func core(_ environment: [String: String]) throws -> String {
        let base = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"]
        let result = try runExecutable(carve, arguments: ["bench", "step", "--preset", "tiny", "--steps", "1", "--warmup", "0", "--json"],
                                       environment: base.merging(environment) { _, new in new }, inheritEnvironment: false)
        #expect(result.exitCode == 0, "stderr: \(result.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        return object?["core"] as? String ?? "?"
    }

    /// The first processor's /proc/cpuinfo block.
    static let cpu: String = {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return cpuinfo.components(separatedBy: "\n\n").first ?? ""
    }()
    static let hasAVX512: Bool = {
        let flags = cpu.split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ")) } ?? []
        return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy { flags.contains(Substring($0)) }
    }()

    @Test func usersChoiceIsKept() throws {
        #expect(try core(["OPENBLAS_CORETYPE": "Zen"]) == "Zen")
        #expect(try core(["OPENBLAS_CORETYPE": "Haswell"]) == "Haswell")
    }

    @Test(.enabled(if: hasAVX512, "skipped: this CPU has no AVX-512, and carve chooses a kernel set only on AVX-512 CPUs"))
    func avx512CpusGetTheMeasuredKernels() throws {
        let zen4 = Self.cpu.contains("AuthenticAMD") && Self.cpu.range(of: #"cpu family\s*:\s*25\n"#, options: .regularExpression) != nil
        #expect(try core([:]) == (zen4 ? "Haswell" : "SkylakeX"))
    }
}

/// `carve bench memory`: samples the RSS at step 1 and every --every steps, as JSON; a bad count
/// is one line and a non-zero exit.
@Suite struct BenchMemoryTests {
    let carve: URL

    init() throws {
        carve = try builtExecutable(named: "carve", environmentVariable: "CARVE_BIN")
    }

    @Test func samplesTheResidentMemoryAtTheAskedSteps() throws {
        let result = try runExecutable(carve, arguments: ["bench", "memory", "--steps", "4", "--batch", "1", "--every", "2", "--json"])
        #expect(result.exitCode == 0, "stderr: \(result.standardError)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let samples = try #require(object["samples"] as? [[String: Any]])
        #expect(samples.map { $0["step"] as? Int } == [1, 2, 4])
        #expect(samples.allSatisfy { ($0["rss_bytes"] as? Int ?? 0) > 10_000_000 }, "\(samples)")
        #expect(object["steps"] as? Int == 4 && object["batch"] as? Int == 1)
    }

    @Test func zeroStepsIsOneLineAndANonZeroExit() throws {
        let result = try runExecutable(carve, arguments: ["bench", "memory", "--steps", "0"])
        #expect(result.exitCode != 0)
        #expect(result.standardErrorLines.count == 1 && result.standardError.contains("--steps"), "stderr: \(result.standardError)")
    }
}
