import Foundation

/// Makes OpenBLAS use its AVX-512 (SkylakeX) kernels on CPUs that have AVX-512.
///
/// Debian 12's OpenBLAS 0.3.21 does not know AMD Zen 5 (and picks Zen/Haswell AVX2 kernels on
/// Zen 4), about half the sgemm speed. OpenBLAS reads `OPENBLAS_CORETYPE` once, when the library
/// loads — before `main` — so the process re-executes itself once with the variable set, before
/// MPI starts (the PID stays the same, so mpirun keeps tracking it). A user's own choice of
/// `OPENBLAS_CORETYPE` is kept; `CARVE_NO_REEXEC=1` turns this off.
enum OpenBLASCoreType {
    static func selectAVX512KernelsIfAvailable() {
        let env = ProcessInfo.processInfo.environment
        guard env["OPENBLAS_CORETYPE"] == nil, env["CARVE_NO_REEXEC"] == nil, cpuHasAVX512() else { return }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        setenv("CARVE_NO_REEXEC", "1", 1)  // never loop, whatever happens below
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // execv returned: it failed. Carry on with the kernels OpenBLAS picked by itself.
    }

    /// True when /proc/cpuinfo lists avx512f, avx512bw, avx512dq and avx512vl (SkylakeX's set).
    static func cpuHasAVX512() -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
    }
}
