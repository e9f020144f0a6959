// RUN/checkpoints (docs/ARCHITECTURE.md "Run folder"):
//
//   step-NNNNNNNN.safetensors    one checkpoint per save, step zero-padded to 8 digits
//   latest                       text: the file name of the newest complete checkpoint + "\n"
//
// A save writes the checkpoint atomically, then replaces `latest` atomically, then deletes old
// checkpoints. A crash at any point leaves `latest` naming a complete file.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The checkpoints of one run: saving with keep-last-K, and finding the newest for `--resume`.
///
/// Only rank 0 saves. Of the `step-…` files, the `keepLast` highest steps are kept, and always
/// the one `latest` names (a run resumed from an older step may leave higher-step files behind).
/// A save also deletes the temporary files of writers killed mid-write in earlier processes.
///
/// ```swift
/// let folder = CheckpointDirectory(url: run.appending(path: "checkpoints"), keepLast: 3)
/// try folder.save(checkpoint)
/// let resumed = try folder.loadLatest()
/// ```
public struct CheckpointDirectory: Sendable {
    /// The name of the pointer file.
    public static let latestName = "latest"

    /// The folder, usually `RUN/checkpoints`.
    public var url: URL
    /// How many of the highest-step checkpoints to keep (at least 1).
    public var keepLast: Int

    /// - Parameters:
    ///   - url: the folder; created by the first `save`.
    ///   - keepLast: how many checkpoints to keep, at least 1.
    public init(url: URL, keepLast: Int = 3) {
        precondition(keepLast >= 1, "CheckpointDirectory: keepLast is \(keepLast), must be at least 1")
        self.url = url
        self.keepLast = keepLast
    }

    /// `step-NNNNNNNN.safetensors` for `step` (8 digits, more when the step needs them).
    public static func fileName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".safetensors"
    }

    /// The step of a checkpoint file name, or nil for any other name.
    public static func step(fromFileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".safetensors") else { return nil }
        let digits = name.dropFirst("step-".count).dropLast(".safetensors".count)
        guard digits.count >= 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// The checkpoint files in the folder, by increasing step (empty when the folder is absent).
    public func checkpointFiles() throws -> [(step: Int, url: URL)] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: url.path)
        } catch {
            throw FileError(path: url.path, operation: "list folder", message: error.localizedDescription)
        }
        return names.compactMap { name in
            Self.step(fromFileName: name).map { (step: $0, url: url.appending(path: name)) }
        }.sorted { $0.step < $1.step }
    }

    /// Saves `checkpoint` as `step-NNNNNNNN.safetensors`, points `latest` at it, then deletes
    /// older checkpoints beyond `keepLast`.
    ///
    /// - Returns: the written file.
    /// - Throws: what `Checkpoint.write(to:)` throws, or `FileError`.
    @discardableResult
    public func save(_ checkpoint: Checkpoint) throws -> URL {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: url.path, operation: "create folder", message: error.localizedDescription)
        }
        let name = Self.fileName(step: checkpoint.step)
        let target = url.appending(path: name)
        try checkpoint.write(to: target)
        try AtomicFile.write(Array((name + "\n").utf8), to: url.appending(path: Self.latestName))

        // Only now that `latest` names the new file may older ones go, with the temporary files
        // of earlier runs that were killed while they wrote a checkpoint.
        let files = try checkpointFiles()
        for old in files.dropLast(keepLast) where old.url.lastPathComponent != name {
            if unlink(old.url.path) != 0 && errno != ENOENT {
                throw FileError.posix(old.url.path, "delete old checkpoint")
            }
        }
        try AtomicFile.removeStaleTemporaries(in: url)
        return target
    }

    /// The checkpoint `latest` names, or nil when the folder has no `latest` yet.
    ///
    /// - Throws: `CheckpointError` when `latest` does not hold a checkpoint file name or names a
    ///   missing file; `FileError` when it cannot be read.
    public func latest() throws -> URL? {
        let pointer = url.appending(path: Self.latestName)
        guard FileManager.default.fileExists(atPath: pointer.path) else { return nil }
        let bytes = try AtomicFile.readAll(pointer)
        let content = String(decoding: bytes, as: UTF8.self)
        let name = content.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.step(fromFileName: name) != nil else {
            throw CheckpointError(file: pointer.path, problem: .badLatest(content))
        }
        let target = url.appending(path: name)
        guard FileManager.default.fileExists(atPath: target.path) else {
            throw CheckpointError(file: pointer.path, problem: .latestTargetMissing(name))
        }
        return target
    }

    /// Loads the checkpoint `latest` names.
    ///
    /// - Throws: `CheckpointError(.noLatest)` naming `latest` when nothing was saved, the errors
    ///   of `latest()`, and those of `Checkpoint.load(from:)` naming the checkpoint file.
    public func loadLatest() throws -> Checkpoint {
        guard let target = try latest() else {
            throw CheckpointError(file: url.appending(path: Self.latestName).path, problem: .noLatest)
        }
        return try Checkpoint.load(from: target)
    }
}
