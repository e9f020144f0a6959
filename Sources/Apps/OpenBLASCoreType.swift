import Foundation

/// Chooses OpenBLAS's kernel set on AVX-512 CPUs that Debian's OpenBLAS misjudges.
///
/// Debian 12's OpenBLAS 0.3.21 does not know AMD Zen 5 (it falls back to slow generic kernels,
/// about half the sgemm speed) and picks its "Zen" kernels on Zen 4. Measured with `carve bench
/// step` on Zen 4 (AMD family 25): the Haswell (AVX2) kernels are 5–7% faster on a demo-hoc step
/// and 2–4% on paper-hoc-fruit than SkylakeX (AVX-512, executed as two 256-bit halves there) and
/// than Zen. So on AMD family 25 with AVX-512 (Zen 4) Carve asks for Haswell, and on other
/// AVX-512 CPUs (Zen 5, Intel) for SkylakeX.
///
/// OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library loads — before `main` — so the
/// process re-executes itself once with the variable set, before MPI starts (the PID stays the
/// same, so mpirun keeps tracking it). A user's own `OPENBLAS_CORETYPE` is kept;
/// `CARVE_NO_REEXEC=1` turns this off.
enum OpenBLASCoreType {
    static func selectAVX512KernelsIfAvailable() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["CARVE_NO_REEXEC"] == nil,
              let cpu = CPUInfo.current(), let core = preferredCore(cpu) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("CARVE_NO_REEXEC", "1", 1)  // never loop, whatever happens below
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // execv returned: it failed. Carry on with the kernels OpenBLAS picked by itself.
    }

    /// The kernel set for `cpu`, or nil to leave OpenBLAS's own choice.
    static func preferredCore(_ cpu: CPUInfo) -> String? {
        guard cpu.hasAVX512 else { return nil }
        return cpu.vendor == "AuthenticAMD" && cpu.family == 25 ? "Haswell" : "SkylakeX"
    }

    /// The first processor's vendor, family and flags in /proc/cpuinfo.
    struct CPUInfo {
        var vendor: String
        var family: Int
        var flags: Set<String>

        /// avx512f, avx512bw, avx512dq and avx512vl (SkylakeX's set).
        var hasAVX512: Bool { ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) }

        static func current() -> CPUInfo? {
            guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
            return parse(text)
        }

        static func parse(_ text: String) -> CPUInfo? {
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                if line.trimmingCharacters(in: .whitespaces).isEmpty { break }  // the first processor only
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                fields[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
            }
            guard let flags = fields["flags"] else { return nil }
            return CPUInfo(vendor: fields["vendor_id"] ?? "", family: Int(fields["cpu family"] ?? "") ?? 0,
                           flags: Set(flags.split(separator: " ").map(String.init)))
        }
    }
}
