// TensorBoard event files beside metrics.jsonl: TFRecord-framed `Event` protobufs, encoded by
// hand (no protobuf library). Note [TensorBoard event format]:
//
//   file     = record*                                  (RUN/events.out.tfevents.<time>.<host>)
//   record   = length u64le · maskedCRC(length bytes) u32le · data · maskedCRC(data) u32le
//   maskedCRC(b) = ((c >> 15) | (c << 17)) + 0xa282ead8  (mod 2³²), c = CRC-32C(b)
//   Event    = 1: wall_time double (fixed64) · 2: step int64 (varint)
//              · 3: file_version string ("brain.Event:2", first record only) · 5: summary Summary
//   Summary  = 1: value Value (repeated)
//   Value    = 1: tag string · 2: simple_value float (fixed32)
//
// A field is its key varint (number << 3 | wire type: 0 varint, 1 fixed64, 2 length-delimited,
// 5 fixed32), then its payload; all fixed-width numbers are little-endian.
import Foundation

// MARK: - Protobuf encoding

/// The protobuf wire encoding of TensorBoard's `Event`, written by hand (Note [TensorBoard event format]).
///
/// ```swift
/// let data = TensorBoardEvent.scalars([("loss_d", 1.39)], step: 5, wallTime: 1.7e9)
/// let record = TFRecord.frame(data)   // what the events file holds
/// ```
public enum TensorBoardEvent {
    /// The first event of every file: `file_version` "brain.Event:2".
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var out: [UInt8] = []
        double(1, wallTime, into: &out)
        bytes(3, Array("brain.Event:2".utf8), into: &out)
        return out
    }

    /// An event holding one `Summary` with a `simple_value` per (tag, value), in order.
    public static func scalars(_ values: [(tag: String, value: Float)], step: Int64, wallTime: Double) -> [UInt8] {
        var summary: [UInt8] = []
        for (tag, value) in values {
            var entry: [UInt8] = []
            bytes(1, Array(tag.utf8), into: &entry)
            float(2, value, into: &entry)
            bytes(1, entry, into: &summary)
        }
        var out: [UInt8] = []
        double(1, wallTime, into: &out)
        varintField(2, UInt64(bitPattern: step), into: &out)
        bytes(5, summary, into: &out)
        return out
    }

    /// Appends `value` as a base-128 varint (7 bits a byte, low first, high bit = more follow).
    public static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func key(_ field: Int, _ wireType: Int, into out: inout [UInt8]) {
        varint(UInt64(field << 3 | wireType), into: &out)
    }

    static func varintField(_ field: Int, _ value: UInt64, into out: inout [UInt8]) {
        key(field, 0, into: &out)
        varint(value, into: &out)
    }

    static func double(_ field: Int, _ value: Double, into out: inout [UInt8]) {
        key(field, 1, into: &out)
        littleEndian(value.bitPattern, into: &out)
    }

    static func float(_ field: Int, _ value: Float, into out: inout [UInt8]) {
        key(field, 5, into: &out)
        littleEndian(value.bitPattern, into: &out)
    }

    static func bytes(_ field: Int, _ payload: [UInt8], into out: inout [UInt8]) {
        key(field, 2, into: &out)
        varint(UInt64(payload.count), into: &out)
        out += payload
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T, into out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }
}

// MARK: - TFRecord framing

/// TFRecord framing (Note [TensorBoard event format]): length, its masked CRC-32C, the data,
/// the data's masked CRC-32C.
///
/// ```swift
/// let framed = TFRecord.frame(TensorBoardEvent.fileVersion(wallTime: 0))
/// TFRecord.maskedCRC(Array("123456789".utf8))   // masks CRC-32C 0xe3069283
/// ```
public enum TFRecord {
    /// TensorFlow's masked CRC-32C: the CRC rotated right by 15 bits plus 0xa282ead8.
    public static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
        let crc = CRC32C.checksum(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `data` as one record.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        TensorBoardEvent.littleEndian(UInt64(data.count), into: &length)
        var out = length
        TensorBoardEvent.littleEndian(maskedCRC(length), into: &out)
        out += data
        TensorBoardEvent.littleEndian(maskedCRC(data), into: &out)
        return out
    }
}

// MARK: - Writer

/// Writes metrics records as TensorBoard scalars into RUN/events.out.tfevents.<time>.<host>.
///
/// The file is created at the first `append` (so a writer costs nothing until a step is
/// logged), starting with the `file_version` event; each record then becomes one event at its
/// `step` and `time` (wall time), with every other numeric field a scalar tagged by its
/// metrics.jsonl name (`loss_d`, `mask_area`, `step_seconds`, …). Booleans and strings (`phase`)
/// are not scalars. Each process writes its own file; TensorBoard reads all files of a folder.
///
/// ```swift
/// let events = TensorBoardWriter(folder: run)
/// try events.append(["step": 5, "loss_d": 1.39, "phase": "adversarial", "time": 1.7e9])
/// ```
public final class TensorBoardWriter: @unchecked Sendable {
    /// The run folder the events file goes into.
    public let folder: URL
    private let lock = NSLock()
    private var handle: FileHandle?
    /// The events file, once the first record has been appended.
    public private(set) var url: URL?

    public init(folder: URL) { self.folder = folder }

    deinit { try? handle?.close() }

    /// Appends `record` (a metrics.jsonl object) as one event; fields `step` and `time` give the
    /// event's step and wall time rather than scalars.
    public func append(_ record: [String: Any]) throws {
        let step = RunReport.number(record["step"]).map { Int64($0) } ?? 0
        let wallTime = RunReport.number(record["time"]) ?? Date().timeIntervalSince1970
        let values = record.keys.sorted().compactMap { key -> (tag: String, value: Float)? in
            guard key != "step" && key != "time", let x = RunReport.number(record[key]) else { return nil }
            return (key, Float(x))
        }
        try write(TensorBoardEvent.scalars(values, step: step, wallTime: wallTime), wallTime: wallTime)
    }

    private func write(_ event: [UInt8], wallTime: Double) throws {
        lock.lock()
        defer { lock.unlock() }
        if handle == nil { try open(wallTime: wallTime) }
        guard let handle, let url else { return }
        do {
            try handle.write(contentsOf: TFRecord.frame(event))
        } catch {
            throw FileError(path: url.path, operation: "write", message: error.localizedDescription)
        }
    }

    /// Creates the events file (or continues one of the same name) with its file_version event.
    private func open(wallTime: Double) throws {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count - 1) == 0
            ? String(String(cString: name).filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }.prefix(64))
            : ""
        let file = folder.appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(host.isEmpty ? "localhost" : host)")
        let existed = FileManager.default.fileExists(atPath: file.path)
        if !existed { FileManager.default.createFile(atPath: file.path, contents: nil) }
        guard let opened = try? FileHandle(forWritingTo: file) else {
            throw FileError(path: file.path, operation: "open", message: "cannot open for appending")
        }
        _ = try? opened.seekToEnd()
        (handle, url) = (opened, file)
        if !existed { try opened.write(contentsOf: TFRecord.frame(TensorBoardEvent.fileVersion(wallTime: wallTime))) }
    }
}
