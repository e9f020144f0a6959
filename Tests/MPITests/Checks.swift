import Foundation

/// Named checks on one rank: each failure is printed at once as one line naming the check and
/// the rank, and counted so that the process can exit non-zero.
///
/// ```swift
/// let checks = Checks(rank: comm.rank, worldSize: comm.worldSize)
/// checks.expect("float sum of 1 float", values == [3], "got \(values), expected [3]")
/// exit(checks.failures == 0 ? 0 : 1)
/// ```
final class Checks {
    let rank: Int
    let worldSize: Int
    private(set) var count = 0
    private(set) var failures = 0

    init(rank: Int, worldSize: Int) {
        self.rank = rank
        self.worldSize = worldSize
    }

    /// Records check `name`, which failed for `reason` when `reason` is non-nil.
    func record(_ name: String, failure reason: String?) {
        count += 1
        guard let reason else { return }
        failures += 1
        printError("mpi-tests: FAIL [rank \(rank) of \(worldSize)] \(name): \(reason)")
    }

    /// Records check `name`, which passes when `condition` holds.
    func expect(_ name: String, _ condition: Bool, _ detail: @autoclosure () -> String) {
        record(name, failure: condition ? nil : detail())
    }
}

/// Describes the first element of `values` that is not `expected(i)`, or nil when all are.
func firstMismatch<T: Equatable>(_ values: [T], expected: (Int) -> T) -> String? {
    for i in values.indices where values[i] != expected(i) {
        return "element \(i) of \(values.count) is \(values[i]), expected \(expected(i))"
    }
    return nil
}

/// Like `firstMismatch`, but allows a relative difference of `tolerance` (for means).
func firstMismatch(_ values: [Float], tolerance: Double, expected: (Int) -> Double) -> String? {
    for i in values.indices {
        let e = expected(i)
        if abs(Double(values[i]) - e) > tolerance * abs(e) {
            return "element \(i) of \(values.count) is \(values[i]), expected \(e)"
        }
    }
    return nil
}

/// Writes one line to stderr.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
