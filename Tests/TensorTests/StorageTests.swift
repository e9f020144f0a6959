@testable import Tensor
import Testing

/// The pool behind every tensor's memory (Storage.swift).
@Suite struct StorageTests {
    @Test func aReleasedBlockIsReusedAndPoisonedWhenAsked() {
        // A pool that poisons (as under `make test`): the block comes back to the next taker of
        // its size, all NaN, so a pointer kept past its tensor's life reads NaN, not old values.
        let pool = StoragePool(poisonsReleased: true)
        let p = pool.take(8)
        p.update(repeating: 1, count: 8)
        pool.give(p, 8)
        let q = pool.take(8)
        #expect(q == p)
        #expect((0..<8).allSatisfy { q[$0].isNaN })
        pool.give(q, 8)
        // Without poisoning the block is reused as it was left.
        let plain = StoragePool(poisonsReleased: false)
        let r = plain.take(8)
        r.update(repeating: 2, count: 8)
        plain.give(r, 8)
        let t = plain.take(8)
        #expect(t == r && (0..<8).allSatisfy { t[$0] == 2 })
        plain.give(t, 8)
        pool.drain()
        plain.drain()
    }
}
