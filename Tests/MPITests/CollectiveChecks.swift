import DDP
import Foundation

// Every rank runs every collective below in the same order with the same counts, whatever the
// outcome of earlier checks, so that a failed check never leaves another rank waiting.
// Rank r contributes r + 1 (llm.c's nccl_all_reduce.cu): the sum over W ranks is W(W+1)/2.

/// Runs every named collective check on `comm`.
func runCollectiveChecks(_ comm: any Communicator, _ checks: Checks) throws {
    for count in [0, 1, 1_000, 10_000_000] { try checkFloatSum(comm, checks, count: count) }
    for count in [1, 1_000] { try checkFloatMean(comm, checks, count: count) }
    try checkDouble(comm, checks)
    try checkInt64(comm, checks)
    for root in Set([0, comm.worldSize - 1]).sorted() {
        try checkBroadcast(comm, checks, root: root)
        try checkVariableLengthBroadcast(comm, checks, root: root)
    }
    try checkAllGather(comm, checks)
    try checkBarrier(comm, checks)
}

// MARK: - All-reduce

/// Rank r's element i: (r + 1)·(1 + i mod 65521). Integers below 2^24 in every partial sum
/// (for W ≤ 22), so the float sum is exact in any summation order; the period catches offsets.
private func contribution(rank: Int, index: Int) -> Float { Float((rank + 1) * (1 + index % 65_521)) }

/// W(W+1)/2, the sum of r + 1 over all ranks.
private func rankSum(_ worldSize: Int) -> Int { worldSize * (worldSize + 1) / 2 }

private func checkFloatSum(_ comm: any Communicator, _ checks: Checks, count: Int) throws {
    var values = (0..<count).map { contribution(rank: comm.rank, index: $0) }
    try comm.allReduce(&values, op: .sum)
    let total = rankSum(comm.worldSize)
    checks.record("float sum of \(count) floats",
                  failure: firstMismatch(values) { Float(total * (1 + $0 % 65_521)) })
}

private func checkFloatMean(_ comm: any Communicator, _ checks: Checks, count: Int) throws {
    var values = (0..<count).map { contribution(rank: comm.rank, index: $0) }
    try comm.allReduce(&values, op: .mean)
    let mean = Double(rankSum(comm.worldSize)) / Double(comm.worldSize)
    // Exact for W a power of two; otherwise within the rounding of one multiply by 1/W.
    checks.record("float mean of \(count) floats",
                  failure: firstMismatch(values, tolerance: 2.5e-7) { mean * Double(1 + $0 % 65_521) })
}

private func checkDouble(_ comm: any Communicator, _ checks: Checks) throws {
    let r = Double(comm.rank), w = Double(comm.worldSize), total = Double(rankSum(comm.worldSize))
    // Powers of two times integers: exact sums, and means exact for W a power of two.
    let mine = [r + 1, (r + 1) * 0x1p40, -(r + 1) * 0.25]
    var sum = mine
    try comm.allReduce(&sum, op: .sum)
    checks.expect("double sum", sum == [total, total * 0x1p40, -total * 0.25],
                  "got \(sum), expected \([total, total * 0x1p40, -total * 0.25])")
    var mean = mine
    try comm.allReduce(&mean, op: .mean)
    let expectedMean = [total / w, total * 0x1p40 / w, -total * 0.25 / w]
    checks.expect("double mean", zip(mean, expectedMean).allSatisfy { abs($0 - $1) <= 1e-15 * abs($1) },
                  "got \(mean), expected \(expectedMean)")
}

private func checkInt64(_ comm: any Communicator, _ checks: Checks) throws {
    let r = Int64(comm.rank), w = Int64(comm.worldSize), total = Int64(rankSum(comm.worldSize))
    // Values above 2^53 check that integers are not reduced through Double.
    var sum: [Int64] = [r + 1, (r + 1) << 54 + 1, -(r + 1)]
    try comm.allReduce(&sum, op: .sum)
    let expectedSum = [total, total << 54 + w, -total]
    checks.expect("int64 sum", sum == expectedSum, "got \(sum), expected \(expectedSum)")
    var maximum: [Int64] = [r, -r, r << 50 + 3, r == 0 ? 7 : 0]
    try comm.allReduce(&maximum, op: .max)
    let expectedMax = [w - 1, 0, (w - 1) << 50 + 3, 7]
    checks.expect("int64 max", maximum == expectedMax, "got \(maximum), expected \(expectedMax)")
}

// MARK: - Broadcast

/// Byte i of `root`'s broadcast buffer; every other rank starts from 0xEE.
private func pattern(root: Int, index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 31 &+ root &+ 1) }

private func checkBroadcast(_ comm: any Communicator, _ checks: Checks, root: Int) throws {
    let isRoot = comm.rank == root
    var bytes = (0..<1_000).map { isRoot ? pattern(root: root, index: $0) : 0xEE }
    try bytes.withUnsafeMutableBytes { try comm.broadcast($0, root: root) }
    checks.record("broadcast 1000 bytes from rank \(root)",
                  failure: firstMismatch(bytes) { pattern(root: root, index: $0) })

    var empty: [UInt8] = []
    try empty.withUnsafeMutableBytes { try comm.broadcast($0, root: root) }
    checks.expect("broadcast 0 bytes from rank \(root)", empty.isEmpty, "got \(empty.count) bytes")

    var floats = (0..<257).map { isRoot ? Float($0) * 0.5 - Float(root) : .nan }
    try comm.broadcast(&floats, root: root)
    checks.record("broadcast 257 floats from rank \(root)",
                  failure: firstMismatch(floats) { Float($0) * 0.5 - Float(root) })
}

/// `broadcast(bytes:root:)`: only the root knows the length; the others pass something else.
private func checkVariableLengthBroadcast(_ comm: any Communicator, _ checks: Checks, root: Int) throws {
    let isRoot = comm.rank == root
    for length in [0, 5 + 3 * root, 100_003] {
        let sent = isRoot ? (0..<length).map { pattern(root: root, index: $0) } : [UInt8](repeating: 1, count: 2)
        let received = try comm.broadcast(bytes: sent, root: root)
        checks.expect("broadcast(bytes:) of \(length) bytes from rank \(root)", received.count == length,
                      "got \(received.count) bytes, expected \(length)")
        if received.count == length {
            checks.record("broadcast(bytes:) contents of \(length) bytes from rank \(root)",
                          failure: firstMismatch(received) { pattern(root: root, index: $0) })
        }
    }
}

// MARK: - All-gather and barrier

private func checkAllGather(_ comm: any Communicator, _ checks: Checks) throws {
    let w = comm.worldSize
    let mine: [UInt8] = [UInt8(comm.rank), UInt8(comm.rank) &+ 100, 0xA5]
    let gathered = try mine.withUnsafeBytes { try comm.allGather($0) }
    let expected = (0..<w).flatMap { r -> [UInt8] in [UInt8(r), UInt8(r) &+ 100, 0xA5] }
    checks.expect("allgather 3 bytes per rank", gathered == expected, "got \(gathered), expected \(expected)")

    let nothing = try [UInt8]().withUnsafeBytes { try comm.allGather($0) }
    checks.expect("allgather 0 bytes per rank", nothing.isEmpty, "got \(nothing.count) bytes")

    let values = try comm.allGather(Int64(comm.rank) * 1_000_000_007 - 3)
    let expectedValues = (0..<w).map { Int64($0) * 1_000_000_007 - 3 }
    checks.expect("allgather Int64", values == expectedValues, "got \(values), expected \(expectedValues)")
}

/// No rank may leave the barrier before the last rank, which arrives 0.2 s late, has entered it.
/// Compares CLOCK_MONOTONIC readings, so the ranks must share one host (as launch/test-mpi.sh does).
private func checkBarrier(_ comm: any Communicator, _ checks: Checks) throws {
    let late = comm.worldSize - 1
    try comm.barrier()
    var entered: [Int64] = [0]
    if comm.rank == late {
        usleep(200_000)
        entered[0] = monotonicNanoseconds()
    }
    try comm.barrier()
    let left = monotonicNanoseconds()
    try entered.withUnsafeMutableBytes { try comm.broadcast($0, root: late) }
    checks.expect("barrier waits for the last rank", left >= entered[0],
                  "left the barrier \(Double(entered[0] - left) / 1e6) ms before rank \(late) entered it")
}

private func monotonicNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}
