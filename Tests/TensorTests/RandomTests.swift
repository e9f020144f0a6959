import Tensor
import Testing

/// Philox-4x32-10 against Random123's published known-answer vectors, and CounterRNG's own
/// streams against values computed by an independent Python transcription of Philox (kept in
/// the comment below), so a change of counter layout or conversion shows up here.
@Suite struct RandomTests {
    struct KAT: Sendable, CustomStringConvertible {
        let name: String
        let counter: SIMD4<UInt32>
        let key: SIMD2<UInt32>
        let expected: SIMD4<UInt32>
        var description: String { name }
    }

    // Random123 tests/kat_vectors, "philox4x32 10" lines (also used by TensorFlow's
    // stateful_random_ops_test and Random123-Boost test_philox.cpp).
    static let kats: [KAT] = [
        KAT(name: "zeros", counter: SIMD4(0, 0, 0, 0), key: SIMD2(0, 0),
            expected: SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
        KAT(name: "all ones", counter: SIMD4(repeating: 0xffff_ffff), key: SIMD2(repeating: 0xffff_ffff),
            expected: SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
        KAT(name: "pi digits", counter: SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344),
            key: SIMD2(0xa409_3822, 0x299f_31d0),
            expected: SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
    ]

    @Test(arguments: kats)
    func philoxMatchesRandom123KnownAnswers(_ kat: KAT) {
        #expect(Philox.block(counter: kat.counter, key: kat.key) == kat.expected)
    }

    @Test func purposeHashIsFNV1a32() {
        #expect(fnv1a32("") == 0x811c_9dc5)
        #expect(fnv1a32("z") == 0xff0c_53ad)
    }

    // Expected values from this Python transcription (key = seed words, counter =
    // (block, index, step, fnv1a32(purpose))):
    //   def philox(c, k): for r in range(10): (bump k by W0, W1 if r > 0);
    //       p0 = M0*c0; p1 = M1*c2; c = [p1>>32 ^ c1 ^ k0, p1 & m32, p0>>32 ^ c3 ^ k1, p0 & m32]
    @Test func wordsFollowTheDocumentedCounterLayout() {
        var rng = CounterRNG(seed: 42, purpose: "z", step: 3, index: 7)
        let words = (0..<6).map { _ in rng.nextUInt32() }
        #expect(words == [0x402c_32c0, 0x6681_1b8e, 0xae95_20f1, 0xe3f0_c016, 0x14b6_1063, 0x4329_5e0c])
        // Block 0 is exactly Philox of (0, index, step, hash) under (seed lo, seed hi).
        let block0 = Philox.block(counter: SIMD4(0, 7, 3, fnv1a32("z")), key: SIMD2(42, 0))
        #expect(Array(words[0..<4]) == [block0.x, block0.y, block0.z, block0.w])
    }

    @Test func uniformStreamKnownAnswers() {
        var rng = CounterRNG(seed: 42, purpose: "uniform")
        let values = (0..<5).map { _ in rng.uniform() }
        let expected: [Float] = [0.005997180938720703, 0.4334947466850281, 0.5010415315628052,
                                 0.7527657747268677, 0.7245287299156189]
        #expect(values == expected)
    }

    @Test func normalStreamKnownAnswers() {
        var rng = CounterRNG(seed: 42, purpose: "normal")
        let values = (0..<4).map { _ in rng.normal() }
        let expected: [Float] = [0.9755985140800476, -0.09443892538547516, 0.12803372740745544,
                                 -0.8442782759666443]
        for (v, e) in zip(values, expected) { #expect(abs(v - e) <= 1e-6, "\(values) vs \(expected)") }
    }

    @Test func streamsArePureFunctionsOfTheirInputs() {
        func first(_ seed: UInt64, _ purpose: String, _ step: Int, _ index: Int) -> [UInt32] {
            var rng = CounterRNG(seed: seed, purpose: purpose, step: step, index: index)
            return (0..<8).map { _ in rng.nextUInt32() }
        }
        let base = first(1, "layout", 5, 9)
        #expect(first(1, "layout", 5, 9) == base)
        #expect(first(2, "layout", 5, 9) != base)
        #expect(first(1 << 40 | 1, "layout", 5, 9) != base)
        #expect(first(1, "z", 5, 9) != base)
        #expect(first(1, "layout", 6, 9) != base)
        #expect(first(1, "layout", 5, 10) != base)
    }

    @Test func normalsHaveUnitMomentsAndUniformsFillTheirRange() {
        var rng = CounterRNG(seed: 7, purpose: "stats")
        var values = [Float](repeating: 0, count: 100_000)
        values.withUnsafeMutableBufferPointer { rng.fillNormal($0, mean: 2, std: 3) }
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
        #expect(abs(mean - 2) < 0.03, "mean \(mean)")
        #expect(abs(variance.squareRoot() - 3) < 0.03, "std \(variance.squareRoot())")

        values.withUnsafeMutableBufferPointer { rng.fillUniform($0, -1, 1) }
        #expect(values.allSatisfy { $0 >= -1 && $0 < 1 })
        let umean = values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
        #expect(abs(umean) < 0.01, "uniform mean \(umean)")
    }

    @Test func intBelowIsInRangeAndUnbiased() {
        var rng = CounterRNG(seed: 3, purpose: "int")
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 { counts[rng.int(below: 6)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 400 }, "\(counts)")
        #expect(rng.int(below: 1) == 0)
        let big = Int(UInt32.max) * 4
        for _ in 0..<100 { let v = rng.int(below: big); #expect(v >= 0 && v < big) }
    }
}
