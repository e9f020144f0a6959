// The safetensors container (https://github.com/huggingface/safetensors, "Format"):
//
//   [0, 8)          UInt64 little-endian N = header length in bytes
//   [8, 8 + N)      JSON object, UTF-8, padded with spaces so that 8 + N is a multiple of 8:
//                   {"NAME": {"dtype": "F32", "shape": [d0, d1, …], "data_offsets": [begin, end]},
//                    …, "__metadata__": {"key": "value", …}}
//   [8 + N, EOF)    the data region: each tensor's raw little-endian row-major values at
//                   [begin, end) relative to the region's start; the tensors tile it exactly.
//
// Carve writes tensors in the order given (offsets increase in that order) and always stores
// `data_crc32c` (CRC-32C of the whole data region, 8 lower-case hex digits) in the metadata;
// reading verifies it whenever it is present. Files from Python (no checksum) read fine.

import Foundation

/// An element type of a safetensors file that Carve reads.
public enum TensorDType: String, Sendable, CaseIterable {
    /// IEEE 754 binary32; the only type Carve writes.
    case f32 = "F32"
    /// IEEE 754 binary64; read and converted to Float.
    case f64 = "F64"
    /// Signed 64-bit integer; read and converted to Float (exact up to 2^24).
    case i64 = "I64"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .f32: 4
        case .f64, .i64: 8
        }
    }
}

/// The contents of one safetensors file: named Float tensors in a fixed order, plus string metadata.
///
/// Reading validates the whole file (header, offsets, shapes, checksum) and throws a
/// `SafeTensorsError` naming the file and the first problem; it never traps on malformed bytes.
/// Writing is atomic (`AtomicFile`) and adds `data_crc32c`.
///
/// ```swift
/// var file = TensorFile(metadata: ["note": "demo"])
/// file.tensors.append(.init(name: "G/fc.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]))
/// try file.write(to: url);  let back = try TensorFile.read(from: url)
/// ```
public struct TensorFile: Sendable, Equatable {
    /// The metadata key holding the CRC-32C of the data region.
    public static let checksumKey = "data_crc32c"

    /// One named tensor: shape and row-major values.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name, unique within the file ("G/conv1.weight").
        public var name: String
        /// Dimensions, outermost first; `[]` is a scalar (one value).
        public var shape: [Int]
        /// The values in row-major order; `values.count` is the product of `shape`.
        public var values: [Float]
        /// The element type in the file this entry was read from. Writing always stores F32.
        public var dtype: TensorDType

        /// Creates an entry; `values.count` must be the product of `shape` when written.
        public init(name: String, shape: [Int], values: [Float], dtype: TensorDType = .f32) {
            self.name = name
            self.shape = shape
            self.values = values
            self.dtype = dtype
        }
    }

    /// The tensors, in file order (for files Carve wrote: the order they were given in).
    public var tensors: [Entry]
    /// The `__metadata__` strings; after reading, includes `data_crc32c` when the file had it.
    public var metadata: [String: String]

    /// Creates a file's contents from tensors (kept in this order) and metadata.
    public init(tensors: [Entry] = [], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor called `name`, if any.
    public subscript(name: String) -> Entry? {
        tensors.first { $0.name == name }
    }
}

/// A safetensors file that cannot be read or written, naming the file and what is wrong.
public struct SafeTensorsError: LocalizedError, Equatable, Sendable {
    /// What is wrong with the file.
    public enum Problem: Equatable, Sendable {
        /// Fewer than the 8 bytes of the header length.
        case tooShort(byteCount: Int)
        /// The header length points past the end of the file.
        case headerBeyondFile(headerLength: UInt64, fileSize: Int)
        /// The header is not a JSON object (the parser's reason).
        case headerNotJSON(String)
        /// A tensor's header entry is malformed (missing or mistyped field, negative dimension …).
        case badEntry(tensor: String, String)
        /// `__metadata__` is not an object of strings.
        case badMetadata(String)
        /// The dtype is not one Carve reads.
        case unsupportedDType(tensor: String, dtype: String)
        /// `data_offsets` reach outside the data region (or end before they begin).
        case offsetsOutOfRange(tensor: String, begin: Int, end: Int, dataSize: Int)
        /// Two tensors share bytes.
        case overlapping(tensor: String, other: String)
        /// Bytes `[from, to)` of the data region belong to no tensor.
        case notCovering(from: Int, to: Int)
        /// The shape's byte count differs from the span of `data_offsets`.
        case byteCountMismatch(tensor: String, shape: [Int], dtype: String, byteCount: Int)
        /// `data_crc32c` differs from the CRC-32C of the data region.
        case checksumMismatch(stored: String, computed: String)
        /// Writing: two tensors have the same name (or a tensor is called `__metadata__`).
        case duplicateName(String)
        /// Writing: the number of values differs from the product of the shape.
        case valueCountMismatch(tensor: String, shape: [Int], valueCount: Int)
    }

    /// The file's path.
    public var file: String
    /// The first problem found.
    public var problem: Problem

    /// Creates the error for `file`.
    public init(file: String, problem: Problem) {
        self.file = file
        self.problem = problem
    }

    /// "FILE: REASON", one line.
    public var errorDescription: String? { "\(file): \(reason)" }

    /// The problem in words, without the file name.
    public var reason: String {
        switch problem {
        case .tooShort(let n):
            "not a safetensors file: \(n) bytes, too short for the 8-byte header length"
        case .headerBeyondFile(let h, let size):
            "not a safetensors file: header length \(h) runs past the end of the file (\(size) bytes)"
        case .headerNotJSON(let why):
            "header is not JSON: \(why)"
        case .badEntry(let name, let why):
            "tensor \(name): \(why)"
        case .badMetadata(let why):
            "__metadata__: \(why)"
        case .unsupportedDType(let name, let dtype):
            "tensor \(name): dtype \(dtype) is not supported (readable: "
                + TensorDType.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        case .offsetsOutOfRange(let name, let begin, let end, let size):
            "tensor \(name): data_offsets [\(begin), \(end)] out of range for a data region of \(size) bytes"
        case .overlapping(let name, let other):
            "tensor \(name): data_offsets overlap those of tensor \(other)"
        case .notCovering(let from, let to):
            "data region bytes [\(from), \(to)) belong to no tensor"
        case .byteCountMismatch(let name, let shape, let dtype, let bytes):
            "tensor \(name): shape \(shape) of \(dtype) needs "
                + (elementCount(shape).map { "\($0 * (TensorDType(rawValue: dtype)?.byteWidth ?? 0))" } ?? "too many")
                + " bytes, data_offsets span \(bytes)"
        case .checksumMismatch(let stored, let computed):
            "checksum mismatch: stored \(stored), computed \(computed)"
        case .duplicateName(let name):
            "tensor name \(name) is used twice (or is reserved)"
        case .valueCountMismatch(let name, let shape, let count):
            "tensor \(name): shape \(shape) needs "
                + (elementCount(shape).map(String.init) ?? "an invalid number of") + " values, got \(count)"
        }
    }
}

// MARK: - Reading

extension TensorFile {
    /// Reads and validates the safetensors file at `url`.
    ///
    /// - Throws: `FileError` when the file cannot be read; `SafeTensorsError` naming the file and
    ///   the first problem when its content is not a valid safetensors file (see `Problem`),
    ///   including a `data_crc32c` that does not match.
    public static func read(from url: URL) throws -> TensorFile {
        let bytes = try AtomicFile.readAll(url)
        return try decode(bytes, file: url.path)
    }

    /// Decodes and validates the bytes of a safetensors file; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws -> TensorFile {
        try bytes.withUnsafeBytes { try decode($0, file: file) }
    }

    /// Decodes and validates the bytes of a safetensors file; `file` names it in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws -> TensorFile {
        func fail(_ problem: SafeTensorsError.Problem) -> SafeTensorsError {
            SafeTensorsError(file: file, problem: problem)
        }
        guard bytes.count >= 8 else { throw fail(.tooShort(byteCount: bytes.count)) }
        let headerLength = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail(.headerBeyondFile(headerLength: headerLength, fileSize: bytes.count))
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        let header = try parseHeader(Data(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart])), fail: fail)

        // Per tensor: dtype, shape, offsets inside the region, byte count.
        struct Placed {
            var name: String, dtype: TensorDType, shape: [Int], begin: Int, end: Int
        }
        var placed: [Placed] = []
        placed.reserveCapacity(header.entries.count)
        for (name, raw) in header.entries {
            guard let dtype = TensorDType(rawValue: raw.dtype) else {
                throw fail(.unsupportedDType(tensor: name, dtype: raw.dtype))
            }
            if let d = raw.shape.first(where: { $0 < 0 }) {
                throw fail(.badEntry(tensor: name, "shape \(raw.shape) has the negative dimension \(d)"))
            }
            guard raw.dataOffsets.count == 2 else {
                throw fail(.badEntry(tensor: name, "data_offsets has \(raw.dataOffsets.count) numbers, not 2"))
            }
            let begin = raw.dataOffsets[0], end = raw.dataOffsets[1]
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail(.offsetsOutOfRange(tensor: name, begin: begin, end: end, dataSize: dataSize))
            }
            guard let count = elementCount(raw.shape), count <= (end - begin) / dtype.byteWidth,
                  count * dtype.byteWidth == end - begin
            else {
                throw fail(.byteCountMismatch(tensor: name, shape: raw.shape, dtype: dtype.rawValue,
                                              byteCount: end - begin))
            }
            placed.append(Placed(name: name, dtype: dtype, shape: raw.shape, begin: begin, end: end))
        }

        // Together the tensors tile the data region: no overlap, no gap, nothing left over.
        placed.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var cursor = 0
        var previous = ""
        for p in placed {
            if p.begin < cursor { throw fail(.overlapping(tensor: p.name, other: previous)) }
            if p.begin > cursor { throw fail(.notCovering(from: cursor, to: p.begin)) }
            cursor = p.end
            previous = p.name
        }
        if cursor != dataSize { throw fail(.notCovering(from: cursor, to: dataSize)) }

        let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart...])
        if let stored = header.metadata[checksumKey] {
            let computed = CRC32C.checksum(data)
            guard UInt32(stored, radix: 16) == computed else {
                throw fail(.checksumMismatch(stored: stored, computed: CRC32C.hex(computed)))
            }
        }

        let tensors = placed.map { p in
            Entry(name: p.name, shape: p.shape,
                  values: floats(UnsafeRawBufferPointer(rebasing: data[p.begin..<p.end]), p.dtype),
                  dtype: p.dtype)
        }
        return TensorFile(tensors: tensors, metadata: header.metadata)
    }

    /// Converts raw little-endian elements (any alignment) to Floats.
    private static func floats(_ raw: UnsafeRawBufferPointer, _ dtype: TensorDType) -> [Float] {
        let count = raw.count / dtype.byteWidth
        guard count > 0, let source = raw.baseAddress else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .f32:
                UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: source, byteCount: count * 4)
            case .f64:
                for i in 0..<count {
                    out[i] = Float(Double(bitPattern: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                }
            case .i64:
                for i in 0..<count {
                    out[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                }
            }
            initialized = count
        }
    }

    // MARK: Header JSON

    /// A tensor's header entry as written in the JSON.
    private struct RawEntry: Decodable {
        var dtype: String
        var shape: [Int]
        var dataOffsets: [Int]
        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    /// The parsed header: tensor entries (any order) and metadata.
    private struct RawHeader: Decodable {
        var entries: [(String, RawEntry)] = []
        var metadata: [String: String] = [:]

        /// Thrown from inside decoding so the problem names the entry.
        struct Problem: Error { var problem: SafeTensorsError.Problem }

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let object = try decoder.container(keyedBy: Key.self)
            for key in object.allKeys {
                if key.stringValue == "__metadata__" {
                    do {
                        metadata = try object.decode([String: String].self, forKey: key)
                    } catch {
                        throw Problem(problem: .badMetadata(describe(error, under: key)))
                    }
                } else {
                    do {
                        entries.append((key.stringValue, try object.decode(RawEntry.self, forKey: key)))
                    } catch {
                        // Not only DecodingError: Foundation's JSONDecoder lets its internal
                        // JSONError through for numbers like 2.5 or 1e40 decoded as Int.
                        throw Problem(problem: .badEntry(tensor: key.stringValue, describe(error, under: key)))
                    }
                }
            }
        }
    }

    private static func parseHeader(
        _ json: Data, fail: (SafeTensorsError.Problem) -> SafeTensorsError
    ) throws -> RawHeader {
        // JSONSerialization parses eagerly and says where the syntax breaks; JSONDecoder decodes
        // strings lazily and would report a bad byte as a problem of whichever entry holds it.
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json)
        } catch {
            let why = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw fail(.headerNotJSON(why ?? error.localizedDescription))
        }
        guard object is [String: Any] else { throw fail(.headerNotJSON("the top level is not a JSON object")) }
        do {
            return try JSONDecoder().decode(RawHeader.self, from: json)
        } catch let error as RawHeader.Problem {
            throw fail(error.problem)
        } catch let error as DecodingError {
            throw fail(.headerNotJSON(describe(error, under: nil)))
        } catch {
            throw fail(.headerNotJSON("\(error)"))
        }
    }
}

/// A decoding error in words: "field shape: expected Array<Int>".
private func describe(_ error: any Error, under parent: (any CodingKey)?) -> String {
    guard let error = error as? DecodingError else { return "invalid value (\(error))" }
    func path(_ context: DecodingError.Context) -> String {
        var keys = context.codingPath.map(\.stringValue)
        if let parent, keys.first == parent.stringValue { keys.removeFirst() }
        return keys.isEmpty ? "" : "field " + keys.joined(separator: ".") + ": "
    }
    switch error {
    case .keyNotFound(let key, let context):
        return path(context) + "missing field \(key.stringValue)"
    case .typeMismatch(let type, let context):
        return path(context) + "expected \(type)"
    case .valueNotFound(let type, let context):
        return path(context) + "expected \(type), found null"
    case .dataCorrupted(let context):
        return path(context) + context.debugDescription
    @unknown default:
        return "\(error)"
    }
}

// MARK: - Writing

extension TensorFile {
    /// Writes the file atomically at `url` (tensors as F32 in the given order, `data_crc32c` added).
    ///
    /// - Throws: `SafeTensorsError` for a duplicate name or a shape that does not match the value
    ///   count (nothing is written then); `FileError` when the file system fails (the target is
    ///   left as it was).
    public func write(to url: URL) throws {
        let header = try encodedHeader(file: url.path)
        try AtomicFile.write(to: url) { out in
            try out.write(header)
            for tensor in tensors {
                try tensor.values.withUnsafeBytes { try out.write($0) }
            }
        }
    }

    /// The complete file as bytes (what `write(to:)` stores); `file` names it in errors.
    public func encoded(file: String = "<memory>") throws -> [UInt8] {
        var bytes = try encodedHeader(file: file)
        for tensor in tensors {
            tensor.values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// The 8-byte header length followed by the space-padded JSON header.
    private func encodedHeader(file: String) throws -> [UInt8] {
        var names = Set<String>(["__metadata__"])
        var crc = CRC32C()
        var json = "{"
        var offset = 0
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else {
                throw SafeTensorsError(file: file, problem: .duplicateName(tensor.name))
            }
            let count = tensor.values.count
            guard elementCount(tensor.shape) == count else {
                throw SafeTensorsError(file: file, problem: .valueCountMismatch(
                    tensor: tensor.name, shape: tensor.shape, valueCount: tensor.values.count))
            }
            tensor.values.withUnsafeBytes { crc.update($0) }
            let end = offset + 4 * count
            json += jsonString(tensor.name) + ":{\"dtype\":\"F32\",\"shape\":["
                + tensor.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(end)]},"
            offset = end
        }
        var metadata = self.metadata
        metadata[Self.checksumKey] = CRC32C.hex(crc.value)
        json += "\"__metadata__\":{"
            + metadata.sorted { $0.key < $1.key }
                .map { jsonString($0.key) + ":" + jsonString($0.value) }
                .joined(separator: ",")
            + "}}"

        var header = Array(json.utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header
    }
}

/// The product of `shape`, or nil when a dimension is negative or the product overflows.
func elementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        count = product
    }
    return count
}

/// `s` as a JSON string literal (RFC 8259 §7): quotes, backslashes and control characters
/// escaped, everything else as UTF-8.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
