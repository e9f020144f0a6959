import Foundation

/// The files of one training run (docs/ARCHITECTURE.md "Run folder"); only rank 0 writes them.
///
/// ```
/// RUN/config.json  RUN/metrics.jsonl  RUN/checkpoints/  RUN/samples/  RUN/eval/
/// ```
public struct RunFolder: Sendable {
    public let url: URL
    /// metrics.jsonl's records again as TensorBoard scalars (RUN/events.out.tfevents.*, Report/).
    let events: TensorBoardWriter
    public init(url: URL) {
        self.url = url
        events = TensorBoardWriter(folder: url)
    }

    public var configURL: URL { url.appendingPathComponent("config.json") }
    public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }
    public var checkpoints: URL { url.appendingPathComponent("checkpoints") }
    public var samples: URL { url.appendingPathComponent("samples") }
    public var eval: URL { url.appendingPathComponent("eval") }

    /// Creates the folders; throws naming the folder when that fails.
    public func create() throws {
        for dir in [url, checkpoints, samples, eval] { try Self.createFolder(dir) }
    }

    /// Creates a folder (and its parents), or throws one error naming it.
    static func createFolder(_ dir: URL) throws {
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.runDirectory(path: dir.path, reason: "cannot create it (\(error.localizedDescription))")
        }
    }

    /// Writes config.json (`RunRecord`): the resolved configuration, the data paths, the world
    /// size and carve's version. Temporaries of a writer killed mid-write (an aborted job) go
    /// first; only rank 0, holding the folder's lock, calls this.
    public func writeConfig(_ record: RunRecord) throws {
        try AtomicFile.removeStaleTemporaries(in: url)
        try AtomicFile.write(try record.json(), to: configURL)
    }

    /// Appends `changes` with the time to RUN/changes.log (what `--override` let a resume change).
    public func logChanges(_ changes: [String]) throws {
        let stamp = ISO8601DateFormatter().string(from: Date())
        let text = changes.map { "\(stamp) resume: \($0)\n" }.joined()
        let url = self.url.appendingPathComponent("changes.log")
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        guard let handle = try? FileHandle(forWritingTo: url) else {
            throw TrainingError.runDirectory(path: url.path, reason: "cannot open for appending")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Whether the folder holds anything but its lock (a run, or files of the user's).
    public var holdsFiles: Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.contains { $0 != ".lock" }
    }

    /// Appends one JSON object as a line to metrics.jsonl.
    public func appendMetrics(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        let line = data + Data("\n".utf8)
        if !FileManager.default.fileExists(atPath: metricsURL.path) {
            FileManager.default.createFile(atPath: metricsURL.path, contents: nil)
        }
        guard let handle = try? FileHandle(forWritingTo: metricsURL) else {
            throw TrainingError.runDirectory(path: metricsURL.path, reason: "cannot open for appending")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
        try events.append(object)
    }

    /// Name of a per-step file: `step-NNNNNNNN.ext`.
    public static func stepName(_ step: Int, ext: String) -> String {
        "step-" + String(format: "%08d", step) + "." + ext
    }
}
