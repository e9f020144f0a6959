// Atomic file replacement for checkpoints and `latest` (docs/ARCHITECTURE.md "Run folder").
//
// Protocol: create `.NAME.tmp-PID-RANDOM` in the target's folder, write everything, fsync it,
// rename it over NAME, fsync the folder. rename(2) within one file system is atomic, so a reader
// sees either the old file or the complete new one, never a partial one; the two fsyncs make
// that also hold after a power cut. On any failure the temporary file is removed and the target
// is left as it was.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file system call that failed, naming the file, the step and the system's message.
public struct FileError: LocalizedError, Equatable, Sendable {
    /// The file (or folder) the operation was about.
    public var path: String
    /// What was being done: "create", "write", "fsync", "rename", "read", ….
    public var operation: String
    /// The system's message (`strerror`), or our own for non-errno failures.
    public var message: String

    /// Creates the error for `path`, failing in `operation` with `message`.
    public init(path: String, operation: String, message: String) {
        self.path = path
        self.operation = operation
        self.message = message
    }

    /// Builds the error from the current `errno`.
    public static func posix(_ path: String, _ operation: String, _ code: Int32 = errno) -> FileError {
        FileError(path: path, operation: operation, message: String(cString: strerror(code)))
    }

    /// "PATH: OPERATION failed: MESSAGE", one line.
    public var errorDescription: String? { "\(path): \(operation) failed: \(message)" }
}

/// Writes files atomically: readers see the old content or the complete new content, never a mix.
///
/// ```swift
/// try AtomicFile.write(Array("step-00000100.safetensors\n".utf8), to: run.appending(path: "latest"))
/// try AtomicFile.write(to: url) { out in try out.write(header); try out.write(data) }
/// ```
public enum AtomicFile {
    /// Streams the new content of one file; handed to the body of `AtomicFile.write(to:_:)`.
    public struct Writer: ~Copyable {
        fileprivate let fd: Int32
        fileprivate let path: String
        /// Bytes written so far.
        public private(set) var count = 0

        fileprivate init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
        }

        /// Appends `bytes` to the file (the whole buffer; partial writes are retried).
        public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var p = bytes.baseAddress else { return }
            var left = bytes.count
            while left > 0 {
                let n = Foundation.write(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError.posix(path, "write")
                }
                p += n
                left -= n
                count += n
            }
        }

        /// Appends the bytes of contiguous storage (`[UInt8]`, `Data`, …).
        public mutating func write(_ bytes: some ContiguousBytes) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }
    }

    /// Replaces `url` atomically with what `body` writes.
    ///
    /// The content goes to a temporary file in the same folder, which is fsynced and renamed over
    /// `url`; then the folder is fsynced. If `body` or any step up to the rename throws, the
    /// temporary file is removed, `url` is untouched and the error is rethrown. (A failing fsync
    /// of the folder after the rename is reported too, with the new content already in place.)
    /// - Parameters:
    ///   - url: the target file; its folder must exist.
    ///   - body: writes the complete new content through the `Writer`.
    public static func write(to url: URL, _ body: (inout Writer) throws -> Void) throws {
        let target = url.path
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent
            + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.posix(target, "create temporary file \(temporary)") }
        var isOpen = true
        do {
            var writer = Writer(fd: fd, path: target)
            try body(&writer)
            guard fsync(fd) == 0 else { throw FileError.posix(target, "fsync") }
            isOpen = false
            guard close(fd) == 0 else { throw FileError.posix(target, "close") }
            guard rename(temporary, target) == 0 else { throw FileError.posix(target, "rename") }
        } catch {
            if isOpen { close(fd) }
            unlink(temporary)
            throw error
        }
        try syncFolder(folder)
    }

    /// Replaces `url` atomically with `bytes`.
    public static func write(_ bytes: some ContiguousBytes, to url: URL) throws {
        try write(to: url) { out in try out.write(bytes) }
    }

    /// Makes a rename in `folder` durable.
    private static func syncFolder(_ folder: String) throws {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.posix(folder, "open folder for fsync") }
        defer { close(fd) }
        // Some file systems refuse fsync on a directory (EINVAL); the rename is done either way.
        if fsync(fd) != 0 && errno != EINVAL {
            throw FileError.posix(folder, "fsync folder")
        }
    }

    /// Deletes the temporary files that writers of other processes left in `folder` when they
    /// were killed mid-write (`.NAME.tmp-PID-RANDOM` with PID ≠ this process's), and returns
    /// their names. Call it only where one process writes the folder at a time (rank 0 of the
    /// run that owns it): a temporary of a live writer in another process would go too.
    @discardableResult
    public static func removeStaleTemporaries(in folder: URL) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw FileError(path: folder.path, operation: "list folder", message: error.localizedDescription)
        }
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let marker = name.range(of: ".tmp-", options: .backwards) else { continue }
            let fields = name[marker.upperBound...].split(separator: "-")
            guard fields.count == 2, let pid = Int32(fields[0]), UInt32(fields[1]) != nil, pid != getpid() else { continue }
            let path = folder.appending(path: name).path
            if unlink(path) != 0 && errno != ENOENT { throw FileError.posix(path, "delete stale temporary file") }
            removed.append(name)
        }
        return removed
    }

    /// Reads a whole file into memory (no mapping, so a file shrinking underneath cannot trap).
    public static func readAll(_ url: URL) throws -> [UInt8] {
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.posix(path, "open") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError.posix(path, "stat") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileError(path: path, operation: "open", message: "not a regular file")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.posix(path, "read")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }
}
