// Checkpoint format layer: CRC-32C, safetensors read/write and validation, atomic writes,
// the carve-1 checkpoint, RUN/checkpoints, and reading our files from Python.

import Carve
import Foundation
import Testing

// MARK: - Helpers

/// A fresh folder under the system's temporary directory, removed by `remove()`.
private struct TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory
            .appending(path: "carve-ckpt-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func remove() { try? FileManager.default.removeItem(at: url) }
    func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }
}

/// SplitMix64: a tiny deterministic generator for test data and fuzzing.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// `count` deterministic values, including awkward ones when `special` is set.
private func values(_ count: Int, seed: Int, special: Bool = false) -> [Float] {
    var v = (0..<count).map { Float(sin(Double($0 * 7 + seed))) * Float(seed + 1) }
    if special && count >= 5 {
        v[0] = -0.0
        v[1] = .infinity
        v[2] = -.greatestFiniteMagnitude
        v[3] = .leastNonzeroMagnitude
        v[4] = .nan
    }
    return v
}

private func bits(_ v: [Float]) -> [UInt32] { v.map(\.bitPattern) }

/// A small checkpoint shaped like a real one (G, D, Q, BN statistics, Adam moments).
private func sampleCheckpoint(step: Int = 1200, special: Bool = false) -> Checkpoint {
    let shapes: [(String, [Int])] = [
        ("G/fc.weight", [16, 8]), ("G/conv1.weight", [4, 3, 3, 3]), ("G/conv1.bias", [4]),
        ("G/bn1.running_mean", [4]), ("G/bn1.running_var", [4]),
        ("D/conv1.weight", [8, 4, 4, 4]), ("D/fc.weight", [1, 32]),
        ("Q/fc.weight", [2, 32]),
        ("opt/G/m/fc.weight", [16, 8]), ("opt/G/v/fc.weight", [16, 8]),
        ("opt/D/m/fc.weight", [1, 32]), ("opt/D/v/fc.weight", [1, 32]),
    ]
    let tensors = shapes.enumerated().map { i, entry in
        TensorFile.Entry(name: entry.0, shape: entry.1,
                         values: values(entry.1.reduce(1, *), seed: i, special: special && i == 1))
    }
    return Checkpoint(step: step, epoch: 3, worldSize: 4, seed: 0xDEAD_BEEF_0000_0042, preset: "tiny",
                      configJSON: #"{"preset":"tiny","lr_d":0.0002,"layers":[1,2]}"#,
                      rng: "philox:7:1200", tensors: tensors, extraMetadata: ["version": "0.1.0"])
}

/// A safetensors file from raw parts: 8-byte length, `header` verbatim, `data`.
private func rawFile(_ header: String, _ data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
}

/// A safetensors file whose header is written by JSONSerialization (an independent writer).
private func foreignFile(_ header: [String: Any], _ data: [UInt8]) throws -> [UInt8] {
    let json = try JSONSerialization.data(withJSONObject: header)
    return rawFile(String(decoding: json, as: UTF8.self), data)
}

private func floatBytes(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }

/// The metadata of a valid checkpoint, for hand-made files.
private func checkpointMetadata(data: [UInt8]) -> [String: String] {
    ["format": "carve-1", "preset": "tiny", "config": "{}", "step": "5", "epoch": "0",
     "world_size": "1", "seed": "1", "rng": "", "data_crc32c": CRC32C.hex(CRC32C.checksum(data))]
}

/// The error `body` throws, or nil.
private func thrown(_ body: () throws -> Void) -> (any Error)? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

// MARK: - CRC-32C

@Suite struct CheckpointTests {
    @Test func crc32cKnownAnswers() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C().value == 0)
        // RFC 3720 appendix B.4 (iSCSI).
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map(UInt8.init)) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        #expect(CRC32C.hex(0xE306_9283) == "e3069283")
        #expect(CRC32C.hex(0x0000_00AB) == "000000ab")
    }

    /// Any split into pieces, at any alignment, gives the one-shot value (the 8-byte loop, the
    /// byte tail and the carried register agree).
    @Test func crc32cIsIndependentOfPieces() {
        var rng = SplitMix64(state: 3)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let whole = CRC32C.checksum(bytes)
        bytes.withUnsafeBytes { all in
            for _ in 0..<200 {
                var a = rng.below(all.count + 1), b = rng.below(all.count + 1)
                if a > b { swap(&a, &b) }
                var crc = CRC32C()
                crc.update(UnsafeRawBufferPointer(rebasing: all[0..<a]))
                crc.update(UnsafeRawBufferPointer(rebasing: all[a..<b]))
                crc.update(UnsafeRawBufferPointer(rebasing: all[b...]))
                #expect(crc.value == whole, "split at \(a), \(b)")
            }
        }
        // A byte-at-a-time reference over every prefix length 0..<40 (tail lengths 0…7).
        for n in 0..<40 {
            var reference: UInt32 = 0xFFFF_FFFF
            for byte in bytes[0..<n] {
                reference ^= UInt32(byte)
                for _ in 0..<8 { reference = reference & 1 != 0 ? (reference >> 1) ^ 0x82F6_3B78 : reference >> 1 }
            }
            #expect(CRC32C.checksum(Array(bytes[0..<n])) == ~reference, "prefix \(n)")
        }
    }

    // MARK: - Safetensors round trip

    @Test func safetensorsRoundTripKeepsOrderValuesAndMetadata() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "t.safetensors")
        let original = TensorFile(
            tensors: [
                .init(name: "z/last-in-alphabet", shape: [2, 3], values: values(6, seed: 1, special: true)),
                .init(name: "empty", shape: [0, 5], values: []),
                .init(name: "scalar", shape: [], values: [42.5]),
                .init(name: #"odd "name" \ with/slash é 猫"#, shape: [1, 1, 3], values: [1, 2, 3]),
                .init(name: "a", shape: [7], values: values(7, seed: 2)),
            ],
            metadata: ["note": "line\nbreak \"quoted\" \u{1} tab\t", "ünïcode": "✓"])
        try original.write(to: url)
        let back = try TensorFile.read(from: url)

        #expect(back.tensors.map(\.name) == original.tensors.map(\.name))
        #expect(back.tensors.map(\.shape) == original.tensors.map(\.shape))
        for (b, o) in zip(back.tensors, original.tensors) {
            #expect(bits(b.values) == bits(o.values), "\(o.name)")
            #expect(b.dtype == .f32)
        }
        #expect(back.metadata["note"] == original.metadata["note"])
        #expect(back.metadata["ünïcode"] == "✓")
        #expect(back.metadata[TensorFile.checksumKey] != nil)
        #expect(back.metadata.count == 3)
        #expect(back["scalar"]?.values == [42.5])

        // Layout: header padded with spaces to a multiple of 8, data in the given order.
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(headerLength % 8 == 0)
        let header = String(decoding: bytes[8..<(8 + Int(headerLength))], as: UTF8.self)
        #expect(header.hasPrefix(#"{"z/last-in-alphabet":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"#))
        #expect(header.contains(#""empty":{"dtype":"F32","shape":[0,5],"data_offsets":[24,24]}"#))
        #expect(header.contains(#""scalar":{"dtype":"F32","shape":[],"data_offsets":[24,28]}"#))
        #expect(try JSONSerialization.jsonObject(with: Data(header.utf8)) is [String: Any])
        #expect(bytes.count == 8 + Int(headerLength) + 4 * (6 + 0 + 1 + 3 + 7))
        #expect(try original.encoded() == Array(bytes))
    }

    @Test func readsForeignFilesInOffsetOrderAndConvertsF64AndI64() throws {
        let data = floatBytes([1, 2]) + withUnsafeBytes(of: (0.25 as Double).bitPattern.littleEndian) { Array($0) }
            + withUnsafeBytes(of: Int64(-3).littleEndian) { Array($0) }
        let bytes = try foreignFile([
            "i": ["dtype": "I64", "shape": [1], "data_offsets": [16, 24]],
            "f": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]],
            "d": ["dtype": "F64", "shape": [1, 1], "data_offsets": [8, 16]],
        ], data)
        let file = try TensorFile.decode(bytes, file: "foreign.safetensors")
        #expect(file.tensors.map(\.name) == ["f", "d", "i"])
        #expect(file.tensors.map(\.values) == [[1, 2], [0.25], [-3]])
        #expect(file.tensors.map(\.dtype) == [.f32, .f64, .i64])
        #expect(file.metadata.isEmpty)  // no checksum: nothing to verify
    }

    @Test func writingRefusesDuplicateNamesAndWrongValueCounts() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "bad.safetensors")
        let duplicate = TensorFile(tensors: [.init(name: "a", shape: [1], values: [1]),
                                             .init(name: "a", shape: [1], values: [2])])
        let e1 = thrown { try duplicate.write(to: url) } as? SafeTensorsError
        #expect(e1?.problem == .duplicateName("a"))
        #expect(e1?.file == url.path)
        let reserved = TensorFile(tensors: [.init(name: "__metadata__", shape: [1], values: [1])])
        #expect((thrown { try reserved.write(to: url) } as? SafeTensorsError)?.problem == .duplicateName("__metadata__"))
        let short = TensorFile(tensors: [.init(name: "w", shape: [2, 3], values: [1, 2, 3])])
        let e2 = thrown { try short.write(to: url) } as? SafeTensorsError
        #expect(e2?.problem == .valueCountMismatch(tensor: "w", shape: [2, 3], valueCount: 3))
        #expect(e2?.errorDescription == "\(url.path): tensor w: shape [2, 3] needs 6 values, got 3")
        let negative = TensorFile(tensors: [.init(name: "n", shape: [-1, -3], values: [1, 2, 3])])
        #expect((thrown { try negative.write(to: url) } as? SafeTensorsError) != nil)
        #expect(try folder.names().isEmpty)
    }

    // MARK: - Every corruption gives its named error

    struct Corruption: Sendable, CustomTestStringConvertible {
        let label: String
        let bytes: @Sendable () throws -> [UInt8]
        let expected: SafeTensorsError.Problem
        let message: String
        var testDescription: String { label }
    }

    static let corruptions: [Corruption] = {
        let eight = floatBytes([1, 2])
        @Sendable func entry(_ dtype: String = "F32", _ shape: String = "[2]", _ offsets: String = "[0,8]") -> String {
            #"{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}"#
        }
        return [
            Corruption(label: "too short", bytes: { [1, 2, 3, 4, 5] },
                       expected: .tooShort(byteCount: 5), message: "5 bytes, too short"),
            Corruption(label: "header length beyond file",
                       bytes: { withUnsafeBytes(of: UInt64(1000).littleEndian) { Array($0) } + Array("{}".utf8) },
                       expected: .headerBeyondFile(headerLength: 1000, fileSize: 10),
                       message: "header length 1000 runs past the end of the file (10 bytes)"),
            Corruption(label: "header length near 2^64", bytes: { [UInt8](repeating: 0xFF, count: 16) },
                       expected: .headerBeyondFile(headerLength: .max, fileSize: 16), message: "runs past the end"),
            Corruption(label: "header not JSON", bytes: { rawFile(#"{"a": {"dtype": "#, eight) },
                       expected: .headerNotJSON(""), message: "header is not JSON: Unexpected end of file"),
            Corruption(label: "header not UTF-8", bytes: { rawFile("{\"\u{FF}\":1}", []).map { $0 == 0xC3 ? 0xFF : $0 } },
                       expected: .headerNotJSON(""), message: "header is not JSON: Invalid UTF-8"),
            Corruption(label: "header is an array", bytes: { rawFile("[1, 2]  ", []) },
                       expected: .headerNotJSON(""), message: "header is not JSON: the top level is not a JSON object"),
            Corruption(label: "missing dtype",
                       bytes: { rawFile(#"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, eight) },
                       expected: .badEntry(tensor: "a", ""), message: "tensor a: missing field dtype"),
            Corruption(label: "shape not integers",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[2.5]") + "}", eight) },
                       expected: .badEntry(tensor: "a", ""), message: "tensor a: invalid value"),
            Corruption(label: "shape of strings",
                       bytes: { rawFile(#"{"a":"# + entry("F32", #"["2"]"#) + "}", eight) },
                       expected: .badEntry(tensor: "a", ""), message: "tensor a: field shape.Index 0: expected Int"),
            Corruption(label: "negative dimension",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[-2]") + "}", eight) },
                       expected: .badEntry(tensor: "a", ""), message: "negative dimension -2"),
            Corruption(label: "three offsets",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[2]", "[0,4,8]") + "}", eight) },
                       expected: .badEntry(tensor: "a", ""), message: "data_offsets has 3 numbers, not 2"),
            Corruption(label: "unknown dtype",
                       bytes: { rawFile(#"{"a":"# + entry("F17") + "}", eight) },
                       expected: .unsupportedDType(tensor: "a", dtype: "F17"),
                       message: "tensor a: dtype F17 is not supported (readable: F32, F64, I64)"),
            Corruption(label: "offsets beyond data",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[2]", "[0,800]") + "}", eight) },
                       expected: .offsetsOutOfRange(tensor: "a", begin: 0, end: 800, dataSize: 8),
                       message: "tensor a: data_offsets [0, 800] out of range for a data region of 8 bytes"),
            Corruption(label: "offsets reversed",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[2]", "[8,0]") + "}", eight) },
                       expected: .offsetsOutOfRange(tensor: "a", begin: 8, end: 0, dataSize: 8),
                       message: "data_offsets [8, 0] out of range"),
            Corruption(label: "overlapping",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[2]", "[0,8]") + #","b":"#
                                        + entry("F32", "[2]", "[4,12]") + "}", floatBytes([1, 2, 3])) },
                       expected: .overlapping(tensor: "b", other: "a"),
                       message: "tensor b: data_offsets overlap those of tensor a"),
            Corruption(label: "gap between tensors",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[1]", "[0,4]") + #","b":"#
                                        + entry("F32", "[1]", "[8,12]") + "}", floatBytes([1, 2, 3])) },
                       expected: .notCovering(from: 4, to: 8), message: "data region bytes [4, 8) belong to no tensor"),
            Corruption(label: "bytes after the last tensor",
                       bytes: { rawFile(#"{"a":"# + entry() + "}", floatBytes([1, 2, 3])) },
                       expected: .notCovering(from: 8, to: 12), message: "bytes [8, 12) belong to no tensor"),
            Corruption(label: "shape × 4 ≠ byte count",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[3]") + "}", eight) },
                       expected: .byteCountMismatch(tensor: "a", shape: [3], dtype: "F32", byteCount: 8),
                       message: "tensor a: shape [3] of F32 needs 12 bytes, data_offsets span 8"),
            Corruption(label: "shape product overflows",
                       bytes: { rawFile(#"{"a":"# + entry("F32", "[4611686018427387904,4]") + "}", eight) },
                       expected: .byteCountMismatch(tensor: "a", shape: [4_611_686_018_427_387_904, 4], dtype: "F32",
                                                    byteCount: 8),
                       message: "needs too many bytes"),
            Corruption(label: "metadata not strings",
                       bytes: { rawFile(#"{"a":"# + entry() + #","__metadata__":{"step":5}}"#, eight) },
                       expected: .badMetadata(""), message: "__metadata__: "),
            Corruption(label: "checksum mismatch", bytes: {
                           var bytes = try TensorFile(tensors: [.init(name: "a", shape: [2], values: [1, 2])]).encoded()
                           bytes[bytes.count - 4] ^= 0x01  // 2.0 becomes 2.0000002
                           return bytes
                       },
                       expected: .checksumMismatch(stored: CRC32C.hex(CRC32C.checksum(floatBytes([1, 2]))),
                                                   computed: CRC32C.hex(CRC32C.checksum(floatBytes([1, 2.0000002])))),
                       message: "checksum mismatch: stored \(CRC32C.hex(CRC32C.checksum(floatBytes([1, 2])))), "
                           + "computed \(CRC32C.hex(CRC32C.checksum(floatBytes([1, 2.0000002]))))"),
        ]
    }()

    @Test(arguments: corruptions)
    func corruptionGivesItsNamedError(_ corruption: Corruption) throws {
        let bytes = try corruption.bytes()
        let error = thrown { _ = try TensorFile.decode(bytes, file: "/run/broken.safetensors") }
        let typed = try #require(error as? SafeTensorsError, "\(String(describing: error))")
        #expect(typed.file == "/run/broken.safetensors")
        // Problems carrying a parser's free text are compared by case; the rest exactly.
        switch (typed.problem, corruption.expected) {
        case (.headerNotJSON, .headerNotJSON), (.badEntry, .badEntry), (.badMetadata, .badMetadata): break
        default: #expect(typed.problem == corruption.expected)
        }
        if case .badEntry(let name, _) = typed.problem, case .badEntry(let expected, _) = corruption.expected {
            #expect(name == expected)
        }
        let description = try #require(typed.errorDescription)
        #expect(description.hasPrefix("/run/broken.safetensors: "))
        #expect(description.contains(corruption.message), "\(description)")
    }

    /// The same checks through the file path: the message names the file on disk.
    @Test func checksumMismatchOnDiskNamesTheFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "step-00000001.safetensors")
        try sampleCheckpoint().write(to: url)
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: url)
        let error = try #require(thrown { _ = try Checkpoint.load(from: url) } as? SafeTensorsError)
        guard case .checksumMismatch = error.problem else {
            Issue.record("expected a checksum mismatch, got \(error)")
            return
        }
        #expect(error.localizedDescription.hasPrefix("\(url.path): checksum mismatch: stored "))

        let missing = folder.url.appending(path: "nope.safetensors")
        let fileError = try #require(thrown { _ = try Checkpoint.load(from: missing) } as? FileError)
        #expect(fileError.localizedDescription == "\(missing.path): open failed: No such file or directory")
    }

    // MARK: - Fuzz: malformed bytes never trap

    @Test func truncationAtEvery97thByteThrowsTypedErrors() throws {
        let bytes = try sampleCheckpoint().tensorFile.encoded()
        var cut = 0
        var count = 0
        while cut < bytes.count {
            let error = thrown { _ = try TensorFile.decode(Array(bytes[0..<cut]), file: "cut") }
            #expect(error is SafeTensorsError, "truncated at \(cut) of \(bytes.count): \(String(describing: error))")
            cut += 97
            count += 1
        }
        #expect(count > 20)
        _ = try TensorFile.decode(bytes, file: "whole")
    }

    @Test func randomByteFlipsThrowTypedErrorsOrDecode() throws {
        let bytes = try sampleCheckpoint().tensorFile.encoded()
        let headerEnd = 8 + Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var rng = SplitMix64(state: 2024)
        var outcomes: [String: Int] = [:]
        for trial in 0..<3000 {
            var corrupt = bytes
            // Mostly header bytes (where the parser is), sometimes anywhere.
            let flips = 1 + rng.below(3)
            var touchedData = false
            for _ in 0..<flips {
                let i = trial % 4 == 0 ? rng.below(bytes.count) : rng.below(headerEnd)
                let mask = UInt8(truncatingIfNeeded: 1 + rng.below(255))
                corrupt[i] ^= mask
                touchedData = touchedData || i >= headerEnd
            }
            do {
                let file = try TensorFile.decode(corrupt, file: "fuzz")
                outcomes["decoded", default: 0] += 1
                // A changed data region decodes only when a flip also renamed data_crc32c
                // (the safetensors layer checks it when present); a checkpoint requires it.
                if corrupt[headerEnd...] != bytes[headerEnd...] {
                    #expect(file.metadata[TensorFile.checksumKey] == nil, "trial \(trial)")
                    #expect(thrown { _ = try Checkpoint(file, file: "fuzz") } as? CheckpointError
                        == CheckpointError(file: "fuzz", problem: .missingMetadata(TensorFile.checksumKey)),
                        "trial \(trial): a changed data region loaded as a checkpoint")
                } else {
                    _ = try? Checkpoint(file, file: "fuzz")
                }
            } catch let error as SafeTensorsError {
                outcomes[String("\(error.problem)".prefix(while: { $0 != "(" })), default: 0] += 1
                if touchedData, corrupt[0..<headerEnd] == bytes[0..<headerEnd] {
                    guard case .checksumMismatch = error.problem else {
                        Issue.record("trial \(trial): data flip gave \(error)")
                        continue
                    }
                }
            } catch {
                Issue.record("trial \(trial): untyped error \(error)")
            }
        }
        print("byte-flip fuzz outcomes:", outcomes.sorted { $0.key < $1.key })
        #expect(outcomes["checksumMismatch", default: 0] > 100)
        #expect(outcomes["headerNotJSON", default: 0] > 100)
    }

    @Test func randomGarbageThrowsTypedErrors() {
        var rng = SplitMix64(state: 99)
        for trial in 0..<500 {
            let length = rng.below(300)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if length >= 8 && trial % 2 == 0 {  // a plausible header length, so the JSON parser runs
                let h = UInt64(rng.below(length - 7))
                withUnsafeBytes(of: h.littleEndian) { for i in 0..<8 { bytes[i] = $0[i] } }
                if length > 8 { bytes[8] = UInt8(ascii: "{") }
            }
            let error = thrown { _ = try TensorFile.decode(bytes, file: "garbage") }
            #expect(error is SafeTensorsError, "trial \(trial): \(String(describing: error))")
        }
    }

    // MARK: - Atomic writes

    @Test func atomicWriteLeavesOnlyTheTarget() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "latest")
        try AtomicFile.write(Array("one\n".utf8), to: url)
        try AtomicFile.write(Array("two\n".utf8), to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "two\n")
        #expect(try folder.names() == ["latest"])
    }

    struct Interrupted: Error {}

    @Test func failedAtomicWriteKeepsTheOldTargetAndRemovesTheTemporaryFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "ckpt.safetensors")

        // No target before: none after.
        #expect(thrown {
            try AtomicFile.write(to: url) { out in
                try out.write([UInt8](repeating: 7, count: 100_000))
                throw Interrupted()
            }
        } is Interrupted)
        #expect(try folder.names().isEmpty)

        // An old target survives a failed replacement untouched.
        try AtomicFile.write(Array("old".utf8), to: url)
        #expect(thrown {
            try AtomicFile.write(to: url) { out in
                try out.write(Array("new, but only half".utf8))
                throw Interrupted()
            }
        } is Interrupted)
        #expect(try String(contentsOf: url, encoding: .utf8) == "old")
        #expect(try folder.names() == ["ckpt.safetensors"])

        // A checkpoint that cannot be encoded writes nothing.
        var bad = sampleCheckpoint()
        bad.tensors[0].values.removeLast()
        #expect(thrown { try bad.write(to: url) } is SafeTensorsError)
        #expect(try String(contentsOf: url, encoding: .utf8) == "old")
        #expect(try folder.names() == ["ckpt.safetensors"])

        // A missing folder: a FileError naming the target.
        let nowhere = folder.url.appending(path: "missing/ckpt.safetensors")
        let error = try #require(thrown { try AtomicFile.write([1, 2, 3], to: nowhere) } as? FileError)
        #expect(error.path == nowhere.path)
        #expect(error.message == "No such file or directory")
    }

    // MARK: - Checkpoint

    @Test func checkpointRoundTrip() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "c.safetensors")
        let original = sampleCheckpoint(special: true)
        try original.write(to: url)
        let back = try Checkpoint.load(from: url)
        #expect(back.step == 1200)
        #expect(back.epoch == 3)
        #expect(back.worldSize == 4)
        #expect(back.seed == 0xDEAD_BEEF_0000_0042)
        #expect(back.preset == "tiny")
        #expect(back.configJSON == original.configJSON)
        #expect(back.rng == "philox:7:1200")
        #expect(back.extraMetadata == ["version": "0.1.0"])
        #expect(back.tensors.map(\.name) == original.tensors.map(\.name))
        #expect(back.tensors.map(\.shape) == original.tensors.map(\.shape))
        for (b, o) in zip(back.tensors, original.tensors) {
            #expect(bits(b.values) == bits(o.values), "\(o.name)")
        }
        #expect(back.parameterCount == 16 * 8 + 108 + 4 * 3 + 512 + 32 + 64)
        #expect(back.droppingOptimizerState().tensors.map(\.name).allSatisfy { !$0.hasPrefix("opt/") })
        #expect(back.droppingOptimizerState().tensors.count == 8)

        let metadata = try TensorFile.read(from: url).metadata
        #expect(metadata["format"] == "carve-1")
        #expect(metadata["seed"] == "16045690981097406530")
        #expect(metadata["world_size"] == "4")
        #expect(metadata["data_crc32c"]?.count == 8)

        // The same content gives the same bytes (deterministic header).
        let again = folder.url.appending(path: "d.safetensors")
        try original.write(to: again)
        #expect(try Data(contentsOf: url) == Data(contentsOf: again))
        #expect(CheckpointName.firstMoment("G", "fc.weight") == "opt/G/m/fc.weight")
        #expect(CheckpointName.secondMoment("D", "fc.weight") == "opt/D/v/fc.weight")
        #expect(CheckpointName.parameter("Q", "fc.weight") == "Q/fc.weight")
    }

    struct MetadataCase: Sendable, CustomTestStringConvertible {
        let label: String
        let change: @Sendable (inout [String: String]) -> Void
        let expected: CheckpointError.Problem
        let message: String
        var testDescription: String { label }
    }

    static let metadataCases: [MetadataCase] = [
        MetadataCase(label: "no format", change: { $0["format"] = nil },
                     expected: .notACheckpoint(format: nil), message: "not a Carve checkpoint: the safetensors metadata has no format key"),
        MetadataCase(label: "other format", change: { $0["format"] = "carve-0" },
                     expected: .notACheckpoint(format: "carve-0"), message: #"metadata format is "carve-0", expected "carve-1""#),
        MetadataCase(label: "no step", change: { $0["step"] = nil },
                     expected: .missingMetadata("step"), message: "metadata key step is missing"),
        MetadataCase(label: "step not a number", change: { $0["step"] = "12x" },
                     expected: .badMetadata(key: "step", value: "12x", expected: "an integer ≥ 0"),
                     message: #"metadata step is "12x", expected an integer ≥ 0"#),
        MetadataCase(label: "world size 0", change: { $0["world_size"] = "0" },
                     expected: .badMetadata(key: "world_size", value: "0", expected: "an integer ≥ 1"), message: "world_size"),
        MetadataCase(label: "negative seed", change: { $0["seed"] = "-1" },
                     expected: .badMetadata(key: "seed", value: "-1", expected: "an unsigned 64-bit integer"), message: "seed"),
        MetadataCase(label: "config not JSON", change: { $0["config"] = "preset=tiny" },
                     expected: .badMetadata(key: "config", value: "preset=tiny", expected: "a JSON object"),
                     message: #"metadata config is "preset=tiny", expected a JSON object"#),
        MetadataCase(label: "no rng", change: { $0["rng"] = nil }, expected: .missingMetadata("rng"), message: "rng"),
        MetadataCase(label: "no checksum", change: { $0["data_crc32c"] = nil },
                     expected: .missingMetadata("data_crc32c"), message: "metadata key data_crc32c is missing"),
    ]

    @Test(arguments: metadataCases)
    func badCheckpointMetadataGivesItsNamedError(_ c: MetadataCase) throws {
        let data = floatBytes([1, 2])
        var metadata = checkpointMetadata(data: data)
        c.change(&metadata)
        let bytes = try foreignFile(["G/w": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]],
                                     "__metadata__": metadata], data)
        let error = thrown { _ = try Checkpoint(TensorFile.decode(bytes, file: "x.safetensors"), file: "x.safetensors") }
        let typed = try #require(error as? CheckpointError, "\(String(describing: error))")
        #expect(typed.problem == c.expected)
        #expect(typed.localizedDescription.hasPrefix("x.safetensors: "))
        #expect(typed.localizedDescription.contains(c.message), "\(typed.localizedDescription)")
    }

    @Test func handMadeCheckpointLoadsAndNonF32IsRefused() throws {
        let data = floatBytes([1, 2])
        let good = try foreignFile(["G/w": ["dtype": "F32", "shape": [2], "data_offsets": [0, 8]],
                                    "__metadata__": checkpointMetadata(data: data)], data)
        let checkpoint = try Checkpoint(TensorFile.decode(good, file: "good"), file: "good")
        #expect(checkpoint.step == 5 && checkpoint["G/w"]?.values == [1, 2])

        let wide = withUnsafeBytes(of: (1.5 as Double).bitPattern.littleEndian) { Array($0) }
        let f64 = try foreignFile(["G/w": ["dtype": "F64", "shape": [1], "data_offsets": [0, 8]],
                                   "__metadata__": checkpointMetadata(data: wide)], wide)
        let error = thrown { _ = try Checkpoint(TensorFile.decode(f64, file: "f64"), file: "f64") } as? CheckpointError
        #expect(error?.problem == .notF32(tensor: "G/w", dtype: "F64"))
    }

    @Test func checkpointWriteRefusesFieldsThatWouldNotLoad() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "c.safetensors")
        var negative = sampleCheckpoint()
        negative.step = -1
        #expect((thrown { try negative.write(to: url) } as? CheckpointError)?.problem
            == .badMetadata(key: "step", value: "-1", expected: "an integer ≥ 0"))
        var config = sampleCheckpoint()
        config.configJSON = "[1, 2]"
        #expect((thrown { try config.write(to: url) } as? CheckpointError)?.problem
            == .badMetadata(key: "config", value: "[1, 2]", expected: "a JSON object"))
        #expect(try folder.names().isEmpty)
    }

    @Test func compareNamesTheFirstDifference() throws {
        let checkpoint = sampleCheckpoint()
        let model = checkpoint.tensors.map { (name: $0.name, shape: $0.shape) }
        try checkpoint.compare(against: model)

        var narrower = model
        narrower[1].shape = [32, 3, 3, 3]
        var wider = checkpoint
        wider.tensors[1].shape = [64, 3, 3, 3]
        let mismatch = thrown { try wider.compare(against: narrower, file: "run/step.safetensors") } as? CheckpointError
        #expect(mismatch?.errorDescription
            == "run/step.safetensors: tensor G/conv1.weight: checkpoint has [64, 3, 3, 3], model expects [32, 3, 3, 3]")

        let missing = thrown { try checkpoint.compare(against: model + [(name: "G/extra.bias", shape: [4])]) }
        #expect((missing as? CheckpointError)?.problem == .missingTensor("G/extra.bias", expectedShape: [4]))
        #expect((missing as? CheckpointError)?.errorDescription
            == "checkpoint: tensor G/extra.bias: missing from the checkpoint, model expects [4]")

        let extra = thrown { try checkpoint.compare(against: Array(model.dropLast())) } as? CheckpointError
        #expect(extra?.problem == .extraTensor("opt/D/v/fc.weight", shape: [1, 32]))
        #expect(extra?.errorDescription == "checkpoint: tensor opt/D/v/fc.weight: checkpoint has [1, 32], model has no such tensor")
    }

    // MARK: - RUN/checkpoints

    /// `ckpt diff`'s comparison: same bits differ by 0 (a NaN included), a NaN or infinity against
    /// any other value is an infinite difference, finite ones are relative to the largest |a|.
    @Test func differencesSeeNaNAndInfinity() throws {
        let a = sampleCheckpoint()
        #expect(try CheckpointTools.differences(a, a, aName: "a", bName: "a").allSatisfy { $0.difference == 0 })
        func with(_ value: Float, at index: Int, in name: String) -> Checkpoint {
            var c = a
            let t = c.tensors.firstIndex { $0.name == name }!
            c.tensors[t].values[index] = value
            return c
        }
        for bad in [Float.nan, .infinity, -.infinity] {
            let b = with(bad, at: 3, in: "G/conv1.weight")
            let d = try CheckpointTools.differences(a, b, aName: "a", bName: "b")
            #expect(d[0].name == "G/conv1.weight" && d[0].difference == .infinity, "\(bad): \(d.prefix(2))")
            let back = try CheckpointTools.differences(b, a, aName: "b", bName: "a")
            #expect(back[0].difference == .infinity, "\(bad) on the left: \(back.prefix(2))")
            // The same non-finite value on both sides is the same bits.
            #expect(try CheckpointTools.differences(b, b, aName: "b", bName: "b").allSatisfy { $0.difference == 0 })
        }
        // A finite change: |Δ| / max |a| of that tensor.
        let name = "D/fc.weight"
        let values = a.tensors.first { $0.name == name }!.values
        let scale = values.map { Double(abs($0)) }.max()!
        let b = with(values[5] + 0.25, at: 5, in: name)
        let d = try CheckpointTools.differences(a, b, aName: "a", bName: "b")
        let expected = abs(Double(values[5] + 0.25) - Double(values[5])) / scale
        #expect(d[0].name == name && d[0].difference == expected, "\(d.prefix(2)) against \(expected)")
        let absolute = try CheckpointTools.differences(a, b, aName: "a", bName: "b", absolute: true)
        #expect(absolute[0].name == name && absolute[0].difference == abs(Double(values[5] + 0.25) - Double(values[5])))
    }

    /// A checkpoint whose weights are NaN or infinite (a diverged run; its checksum is valid) is one
    /// error naming the tensor for every command that would use the weights, never a trap.
    @Test func nonFiniteWeightsAreRefusedByName() throws {
        let run = try TemporaryFolder()
        defer { run.remove() }
        var config = try Presets.named("tiny")
        config.steps = 2
        _ = try Trainer(config: config, options: TrainOptions(runDirectory: run.url.appending(path: "run"), quiet: true),
                        communicator: LocalCommunicator()).train()
        let good = run.url.appending(path: "run/checkpoints/step-00000002.safetensors")
        var checkpoint = try Checkpoint.load(from: good)
        let t = checkpoint.tensors.firstIndex { $0.name.hasPrefix("G/") && !$0.name.contains("running") }!
        checkpoint.tensors[t].values[3] = .nan
        let bad = run.url.appending(path: "nan.safetensors")
        try checkpoint.write(to: bad)
        let name = checkpoint.tensors[t].name
        func refused(_ body: () throws -> Void) -> String {
            (thrown(body) as? LocalizedError)?.errorDescription ?? "no error"
        }
        for (what, message) in [
            ("model", refused { _ = try CheckpointTools.model(of: HocApplication.self, from: checkpoint, file: bad.path) }),
            ("eval", refused { _ = try Evaluator.evaluate(checkpoint: bad, dataPath: nil, out: run.url.appending(path: "eval")) }),
            ("sample", refused { _ = try Evaluator.sample(checkpoint: bad, count: 2, out: run.url.appending(path: "sample")) }),
            ("merge", refused { _ = try CheckpointTools.merge([good, bad], weights: nil) }),
        ] {
            #expect(message.contains("tensor \(name) holds nan at index 3"), "\(what): \(message)")
        }
        #expect(!FileManager.default.fileExists(atPath: run.url.appending(path: "eval").path), "eval must not leave a folder")
        // Weights whose sum overflows would average to zeros: refused.
        #expect(refused { _ = try CheckpointTools.merge([good, good], weights: [1e308, 1e308]) }.contains("--weights"))
    }

    @Test func fileNamesHaveEightDigitSteps() {
        #expect(CheckpointDirectory.fileName(step: 42) == "step-00000042.safetensors")
        #expect(CheckpointDirectory.fileName(step: 0) == "step-00000000.safetensors")
        #expect(CheckpointDirectory.fileName(step: 123_456_789) == "step-123456789.safetensors")
        #expect(CheckpointDirectory.step(fromFileName: "step-00000042.safetensors") == 42)
        #expect(CheckpointDirectory.step(fromFileName: "step-123456789.safetensors") == 123_456_789)
        #expect(CheckpointDirectory.step(fromFileName: "step-42.safetensors") == nil)
        #expect(CheckpointDirectory.step(fromFileName: "step-0000004x.safetensors") == nil)
        #expect(CheckpointDirectory.step(fromFileName: ".step-00000042.safetensors.tmp-1-2") == nil)
    }

    /// A writer killed mid-write leaves `.NAME.tmp-PID-RANDOM`; the next save (another process)
    /// deletes it, but not this process's own temporaries nor other dot files.
    @Test func saveRemovesTemporariesOfKilledWriters() throws {
        let run = try TemporaryFolder()
        defer { run.remove() }
        let url = run.url.appending(path: "checkpoints")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let other = getpid() == 999_999 ? 999_998 : 999_999
        let stale = [".step-00000001.safetensors.tmp-\(other)-12345", ".latest.tmp-\(other)-7"]
        let kept = [".latest.tmp-\(getpid())-9", ".hidden", ".notes.tmp-x-1"]
        for name in stale + kept { try Data("x".utf8).write(to: url.appending(path: name)) }
        try CheckpointDirectory(url: url, keepLast: 2).save(sampleCheckpoint())
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: url.path))
        for name in stale { #expect(!names.contains(name), "\(name) should be gone") }
        for name in kept { #expect(names.contains(name), "\(name) should stay") }
    }

    @Test func saveKeepsTheLastKAndLatestPointsToTheNewest() throws {
        let run = try TemporaryFolder()
        defer { run.remove() }
        let folder = CheckpointDirectory(url: run.url.appending(path: "checkpoints"), keepLast: 2)
        #expect(try folder.latest() == nil)
        #expect(try folder.checkpointFiles().isEmpty)

        for step in [100, 200, 300, 400, 500] {
            let written = try folder.save(sampleCheckpoint(step: step))
            #expect(written.lastPathComponent == CheckpointDirectory.fileName(step: step))
            #expect(try folder.latest()?.lastPathComponent == CheckpointDirectory.fileName(step: step))
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.url.path).sorted()
        #expect(names == ["latest", "step-00000400.safetensors", "step-00000500.safetensors"])
        #expect(try String(contentsOf: folder.url.appending(path: "latest"), encoding: .utf8)
            == "step-00000500.safetensors\n")
        let loaded = try folder.loadLatest()
        #expect(loaded.step == 500)
        #expect(bits(loaded.tensors[0].values) == bits(sampleCheckpoint().tensors[0].values))

        // Resumed from an older step: the new file is kept even though higher steps exist.
        try folder.save(sampleCheckpoint(step: 450))
        #expect(try folder.checkpointFiles().map(\.step) == [450, 500])
        try folder.save(sampleCheckpoint(step: 300))
        #expect(try folder.checkpointFiles().map(\.step) == [300, 450, 500])
        #expect(try folder.loadLatest().step == 300)
        try folder.save(sampleCheckpoint(step: 460))
        #expect(try folder.checkpointFiles().map(\.step) == [460, 500])
        #expect(try folder.loadLatest().step == 460)
    }

    @Test func loadLatestExplainsWhatIsWrong() throws {
        let run = try TemporaryFolder()
        defer { run.remove() }
        let folder = CheckpointDirectory(url: run.url, keepLast: 3)
        let latest = run.url.appending(path: "latest")

        let none = thrown { _ = try folder.loadLatest() } as? CheckpointError
        #expect(none?.problem == .noLatest)
        #expect(none?.errorDescription == "\(latest.path): missing: no checkpoint has been written to this folder")

        try Data("../../etc/passwd\n".utf8).write(to: latest)
        let bad = thrown { _ = try folder.loadLatest() } as? CheckpointError
        #expect(bad?.problem == .badLatest("../../etc/passwd\n"))
        // One line that does not echo what the file holds (a link to another file would print it).
        #expect(bad?.errorDescription.map { !$0.contains("passwd") && !$0.contains("\n") } == true, "\(bad?.errorDescription ?? "")")

        try Data("step-00000007.safetensors\n".utf8).write(to: latest)
        let gone = thrown { _ = try folder.loadLatest() } as? CheckpointError
        #expect(gone?.errorDescription == "\(latest.path): names step-00000007.safetensors, which does not exist")

        let target = try folder.save(sampleCheckpoint(step: 7))
        var bytes = try Data(contentsOf: target)
        bytes.removeLast(5)
        try bytes.write(to: target)
        let truncated = thrown { _ = try folder.loadLatest() } as? SafeTensorsError
        #expect(truncated?.file == target.path)
        let total = 4 * sampleCheckpoint().tensors.reduce(0) { $0 + $1.values.count }
        #expect(truncated?.problem == .offsetsOutOfRange(tensor: "opt/D/v/fc.weight", begin: total - 4 * 32,
                                                         end: total, dataSize: total - 5))
    }

    @Test func savingLeavesNoTemporaryFiles() throws {
        let run = try TemporaryFolder()
        defer { run.remove() }
        let folder = CheckpointDirectory(url: run.url, keepLast: 5)
        for step in 1...3 { try folder.save(sampleCheckpoint(step: step)) }
        #expect(try run.names() == ["latest", "step-00000001.safetensors", "step-00000002.safetensors",
                                    "step-00000003.safetensors"])
    }

    // MARK: - Python interoperability

    @Test(.enabled(if: Python.hasNumpy, "needs python3 with numpy (\(Python.status))"))
    func pythonReadsOurCheckpoints() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let url = folder.url.appending(path: "step-00001200.safetensors")
        let checkpoint = sampleCheckpoint(special: true)
        try checkpoint.write(to: url)

        // Plain numpy: header JSON + np.frombuffer; and the safetensors package when importable.
        let code = """
            import json, struct, sys
            import numpy as np
            path, name = sys.argv[1], sys.argv[2]
            blob = open(path, "rb").read()
            (n,) = struct.unpack("<Q", blob[:8])
            header = json.loads(blob[8:8 + n])
            entry = header[name]
            begin, end = entry["data_offsets"]
            a = np.frombuffer(blob[8 + n + begin:8 + n + end], dtype="<f4").reshape(entry["shape"])
            out = {"shape": list(a.shape), "bits": a.view("<u4").ravel().tolist(), "metadata": header["__metadata__"]}
            try:
                from safetensors.numpy import load_file
            except ImportError:
                pass
            else:
                t = load_file(path)[name]
                out["safetensors_shape"] = list(t.shape)
                out["safetensors_bits"] = t.view("<u4").ravel().tolist()
            print(json.dumps(out))
            """
        struct NumpyOutput: Decodable {
            var shape: [Int]
            var bits: [UInt32]
            var metadata: [String: String]
            var safetensors_shape: [Int]?
            var safetensors_bits: [UInt32]?
        }
        for tensor in [checkpoint.tensors[1], checkpoint.tensors[2], checkpoint.tensors.last!] {
            let output = try Python.run(["-c", code, url.path, tensor.name])
            let parsed = try JSONDecoder().decode(NumpyOutput.self, from: Data(output.utf8))
            #expect(parsed.shape == tensor.shape)
            #expect(parsed.bits == bits(tensor.values), "\(tensor.name)")
            #expect(parsed.metadata["step"] == "1200")
            #expect(parsed.metadata["format"] == "carve-1")
            if let shape = parsed.safetensors_shape, let stBits = parsed.safetensors_bits {
                #expect(shape == tensor.shape)
                #expect(stBits == bits(tensor.values), "\(tensor.name) via safetensors")
            } else {
                print("pythonReadsOurCheckpoints: the safetensors package is not importable; checked with plain numpy")
            }
        }

        // scripts/read_checkpoint.py: values, and an independent CRC-32C of the data region.
        struct ScriptOutput: Decodable {
            struct Tensor: Decodable { var name: String; var dtype: String; var shape: [Int]; var values: [Double] }
            var checksum: String
            var tensors: [Tensor]
        }
        let name = checkpoint.tensors[0].name
        let output = try Python.run([Python.script.path, url.path, "--json", "--values", "--verify", "--tensor", name])
        let parsed = try JSONDecoder().decode(ScriptOutput.self, from: Data(output.utf8))
        let stored = try #require(TensorFile.read(from: url).metadata["data_crc32c"])
        #expect(parsed.checksum == "ok (\(stored))")
        #expect(parsed.tensors.map(\.name) == [name])
        #expect(parsed.tensors.first?.dtype == "F32")
        #expect(parsed.tensors.first?.shape == checkpoint.tensors[0].shape)
        #expect(parsed.tensors.first.map { bits($0.values.map(Float.init)) } == bits(checkpoint.tensors[0].values))

        // The script refuses a corrupted data region with one line and exit status 1.
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 1] ^= 0x80
        try bytes.write(to: url)
        let failure = try Python.run([Python.script.path, url.path, "--verify", "--json"], expectingStatus: 1)
        #expect(failure.contains("checksum mismatch: stored \(stored), computed "), "\(failure)")
    }
}

/// Runs python3 for the interoperability test.
private enum Python {
    /// scripts/read_checkpoint.py in this checkout.
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appending(path: "scripts/read_checkpoint.py")

    /// Whether `python3 -c "import numpy"` works, and why not.
    static let status: String = {
        do {
            _ = try run(["-c", "import numpy"])
            return "available"
        } catch {
            return "\(error)"
        }
    }()
    static var hasNumpy: Bool { status == "available" }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `python3 arguments…`; returns stdout (or stderr when a non-zero status is expected).
    static func run(_ arguments: [String], expectingStatus expected: Int32 = 0) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdout = Pipe()
        let stderrFile = FileManager.default.temporaryDirectory.appending(path: "carve-py-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: stderrFile) }
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        guard process.terminationStatus == expected else {
            throw Failed(description: "python3 exited with \(process.terminationStatus)"
                + (process.terminationStatus == 127 ? " (python3 not found)" : "") + ": \(errors)")
        }
        return expected == 0 ? String(decoding: output, as: UTF8.self) : errors
    }
}
