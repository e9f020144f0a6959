// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF.
// The checksum of a checkpoint's data region (`data_crc32c`, docs/ARCHITECTURE.md "Checkpoint format").
// Check value: CRC-32C("123456789") = 0xE3069283 (RFC 3720, appendix B.4).
//
// Table-driven "slicing-by-8" (Intel, Kounavis & Berry 2005): eight 256-entry tables let one
// 64-bit load advance the CRC by eight bytes with eight independent lookups.

import Foundation

#if !_endian(little)
#error("CRC32C's slicing-by-8 loop and the safetensors layer assume a little-endian host")
#endif

/// A running CRC-32C (Castagnoli) checksum.
///
/// Feed bytes with `update(_:)` in any number of pieces; `value` is the checksum of everything
/// fed so far. The same bytes in one piece or many give the same value.
///
/// ```swift
/// var crc = CRC32C()
/// header.withUnsafeBytes { crc.update($0) }
/// print(CRC32C.hex(crc.value))            // "e3069283" for "123456789"
/// ```
public struct CRC32C: Sendable, Equatable {
    /// The internal register: the complement of the checksum so far.
    private var register: UInt32 = 0xFFFF_FFFF

    /// Starts an empty checksum (the CRC-32C of no bytes is 0).
    public init() {}

    /// The CRC-32C of all bytes fed so far.
    public var value: UInt32 { ~register }

    /// Feeds `bytes` into the checksum.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        register = Self.tables.withUnsafeBufferPointer { t in
            Self.advance(register, base, bytes.count, t)
        }
    }

    /// Feeds the bytes of any contiguous byte storage (`[UInt8]`, `Data`, `[Float]`'s bytes …).
    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The CRC-32C of a contiguous byte storage.
    public static func checksum(_ bytes: some ContiguousBytes) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// `value` as the 8 lower-case hex digits stored in `data_crc32c` ("e3069283").
    public static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    // MARK: - Kernel

    // t = the 8 tables back to back: t[k·256 + b] is the CRC register change caused by byte b
    // followed by k zero bytes. t[0..<256] is the classic byte-at-a-time table.
    private static func advance(
        _ start: UInt32, _ base: UnsafeRawPointer, _ count: Int, _ t: UnsafeBufferPointer<UInt32>
    ) -> UInt32 {
        var crc = start
        var p = base
        var n = count
        while n >= 8 {
            // The register is xored into the first 4 bytes, then each byte looks up the table
            // for the number of bytes that still follow it in this word.
            let w = p.loadUnaligned(as: UInt64.self).littleEndian ^ UInt64(crc)
            crc = t[7 &* 256 &+ Int(w & 0xFF)]
                ^ t[6 &* 256 &+ Int((w &>> 8) & 0xFF)]
                ^ t[5 &* 256 &+ Int((w &>> 16) & 0xFF)]
                ^ t[4 &* 256 &+ Int((w &>> 24) & 0xFF)]
                ^ t[3 &* 256 &+ Int((w &>> 32) & 0xFF)]
                ^ t[2 &* 256 &+ Int((w &>> 40) & 0xFF)]
                ^ t[1 &* 256 &+ Int((w &>> 48) & 0xFF)]
                ^ t[Int(w &>> 56)]
            p += 8
            n -= 8
        }
        while n > 0 {
            let b = p.load(as: UInt8.self)
            crc = t[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc &>> 8)
            p += 1
            n -= 1
        }
        return crc
    }

    /// The 8 slicing tables, 2048 entries (8 KB), built once.
    private static let tables: [UInt32] = {
        let polynomial: UInt32 = 0x82F6_3B78
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for b in 0..<256 {
            var crc = UInt32(b)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1 }
            t[b] = crc
        }
        for k in 1..<8 {
            for b in 0..<256 {
                let previous = t[(k - 1) * 256 + b]
                t[k * 256 + b] = (previous >> 8) ^ t[Int(previous & 0xFF)]
            }
        }
        return t
    }()
}
