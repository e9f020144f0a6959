// Counter-based random numbers: Philox-4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011), the generator of Random123, cuRAND and JAX/TF.
//
// Note [Counter words]
// Every stream is a pure function of (seed, purpose, step, index) — never of the rank
// (docs/ARCHITECTURE.md, "Determinism contract"). CounterRNG maps them onto Philox as
//
//     key     = (seed & 0xffff_ffff, seed >> 32)
//     counter = (block, index, step, fnv1a32(purpose))
//
// where `block` = 0, 1, 2, ... numbers the 4-word blocks drawn from the stream, so one stream
// holds 2^32 blocks (2^34 words) before it would wrap (a precondition stops that). `index` is
// the global sample index (or parameter index, ...) and `step` the training step; both must lie
// in 0..<2^32. Two streams that differ in any of the four inputs use disjoint counters, so their
// outputs are independent by Philox's construction.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Philox-4x32-10, the counter-based block function of Random123.
///
/// One call maps a 128-bit counter and a 64-bit key to 128 random bits. Equal inputs give equal
/// outputs on every machine, so streams can be split by counter instead of by state.
///
/// ```swift
/// let bits = Philox.block(counter: .zero, key: .zero)
/// // bits == [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] (Random123 kat_vectors)
/// ```
public enum Philox {
    /// The round multipliers of Philox-4x32.
    @usableFromInline static let m0: UInt32 = 0xD251_1F53
    @usableFromInline static let m1: UInt32 = 0xCD9E_8D57
    /// The Weyl key increments (golden ratio and sqrt(3) - 1).
    @usableFromInline static let w0: UInt32 = 0x9E37_79B9
    @usableFromInline static let w1: UInt32 = 0xBB67_AE85

    /// Ten Philox rounds of `counter` under `key`.
    ///
    /// - Parameters:
    ///   - counter: the four counter words (x, y, z, w) in Random123's order.
    ///   - key: the two key words in Random123's order.
    /// - Returns: four uniformly distributed 32-bit words.
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 {
                k.x &+= w0
                k.y &+= w1
            }
            let p0 = UInt64(m0) &* UInt64(c.x)
            let p1 = UInt64(m1) &* UInt64(c.z)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = SIMD4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0)
        }
        return c
    }
}

/// FNV-1a (32-bit) of `text`'s UTF-8 bytes: the stable hash that turns a purpose name into a word.
@inlinable
public func fnv1a32(_ text: String) -> UInt32 {
    var hash: UInt32 = 2_166_136_261
    for byte in text.utf8 {
        hash ^= UInt32(byte)
        hash = hash &* 16_777_619
    }
    return hash
}

/// A deterministic random stream keyed by (seed, purpose, step, index) on top of Philox-4x32-10.
///
/// Use one stream per purpose and per global sample: the same four inputs give the same numbers
/// on any rank, world size or machine (see Note [Counter words] in `Random.swift`).
///
/// - Parameters (of `init`):
///   - seed: the run's seed; becomes the Philox key.
///   - purpose: a stable name such as `"z"`, `"layout"`, `"background"`; hashed with FNV-1a 32.
///   - step: the training step (or epoch), in 0..<2^32.
///   - index: the global sample index (or any other sub-stream number), in 0..<2^32.
///
/// ```swift
/// var rng = CounterRNG(seed: 42, purpose: "z", step: step, index: globalSample)
/// z.withUnsafeMutableBufferPointer { rng.fillNormal($0) }
/// let flip = rng.uniform() < 0.5
/// ```
@frozen
public struct CounterRNG: Sendable {
    @usableFromInline var key: SIMD2<UInt32>
    /// counter.x is the block number; y, z, w are index, step and purpose hash.
    @usableFromInline var counter: SIMD4<UInt32>
    /// The current block's four words and how many of them have been handed out.
    @usableFromInline var buffer: SIMD4<UInt32> = .zero
    @usableFromInline var used: Int = 4
    /// True when the first block has not been drawn yet (block 0 is drawn before the increment).
    @usableFromInline var started = false
    /// Box–Muller yields two normals per pair of uniforms; the second waits here.
    @usableFromInline var spareNormal: Float = 0
    @usableFromInline var hasSpareNormal = false

    /// Creates the stream for (seed, purpose, step, index); see the type's documentation.
    public init(seed: UInt64, purpose: String, step: Int = 0, index: Int = 0) {
        precondition(step >= 0 && step <= Int(UInt32.max), "CounterRNG: step \(step) outside 0..<2^32")
        precondition(index >= 0 && index <= Int(UInt32.max), "CounterRNG: index \(index) outside 0..<2^32")
        key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        counter = SIMD4(0, UInt32(index), UInt32(step), fnv1a32(purpose))
    }

    /// The next 32 uniformly distributed bits of the stream.
    @inlinable
    public mutating func nextUInt32() -> UInt32 {
        if used == 4 {
            if started {
                precondition(counter.x != UInt32.max, "CounterRNG: stream exhausted after 2^32 blocks")
                counter.x &+= 1
            }
            started = true
            buffer = Philox.block(counter: counter, key: key)
            used = 0
        }
        let value = buffer[used]
        used += 1
        return value
    }

    /// A uniform Float in [0, 1) with 24 random bits: (bits >> 8) · 2^-24.
    @inlinable
    public mutating func uniform() -> Float {
        Float(nextUInt32() >> 8) * 0x1p-24
    }

    /// A uniform Float in [lo, hi).
    @inlinable
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * uniform()
    }

    /// A standard normal Float by Box–Muller; pairs are generated together, the second cached.
    ///
    /// u1 = ((bits >> 8) + 1) · 2^-24 ∈ (0, 1], u2 = (bits >> 8) · 2^-24 ∈ [0, 1);
    /// r = sqrt(-2 ln u1); returns r·cos(2π u2), then r·sin(2π u2). Computed in Double.
    @inlinable
    public mutating func normal() -> Float {
        if hasSpareNormal {
            hasSpareNormal = false
            return spareNormal
        }
        let u1 = Double((nextUInt32() >> 8) + 1) * 0x1p-24
        let u2 = Double(nextUInt32() >> 8) * 0x1p-24
        let r = (-2 * log(u1)).squareRoot()
        let theta = 2 * Double.pi * u2
        spareNormal = Float(r * sin(theta))
        hasSpareNormal = true
        return Float(r * cos(theta))
    }

    /// A uniform integer in 0..<n without modulo bias (Lemire's multiply-and-reject).
    @inlinable
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "CounterRNG.int(below:): n = \(n) must be positive")
        if n <= Int(UInt32.max) {
            let bound = UInt32(n)
            var product = UInt64(nextUInt32()) &* UInt64(bound)
            var low = UInt32(truncatingIfNeeded: product)
            if low < bound {
                let threshold = (0 &- bound) % bound
                while low < threshold {
                    product = UInt64(nextUInt32()) &* UInt64(bound)
                    low = UInt32(truncatingIfNeeded: product)
                }
            }
            return Int(product >> 32)
        }
        let bound = UInt64(n)
        while true {
            let bits = UInt64(nextUInt32()) << 32 | UInt64(nextUInt32())
            let (high, low) = bits.multipliedFullWidth(by: bound)
            if low >= (0 &- bound) % bound { return Int(high) }
        }
    }

    /// Fills `p` with independent normals of the given mean and standard deviation.
    @inlinable
    public mutating func fillNormal(_ p: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        for i in p.indices { p[i] = mean + std * normal() }
    }

    /// Fills `p` with independent uniforms in [lo, hi).
    @inlinable
    public mutating func fillUniform(_ p: UnsafeMutableBufferPointer<Float>, _ lo: Float, _ hi: Float) {
        for i in p.indices { p[i] = uniform(lo, hi) }
    }
}
