import Foundation

/// What a run folder records so that `carve train --resume --run-dir RUN` needs nothing else and
/// `carve train --config RUN/config.json` repeats the run: the resolved configuration, where its
/// data is, and the world size it was written by. It is RUN/config.json: the configuration's
/// keys plus `data`, `backgrounds` (absolute paths, absent for the embedded default),
/// `world_size` and `carve_version`.
///
/// ```swift
/// let record = try RunRecord.read(from: run.configURL)
/// let changes = RunRecord.trajectoryChanges(from: record.config, to: requested)   // ["lambda_area 30 → 5"]
/// ```
public struct RunRecord: Sendable {
    public var config: Configuration
    public var dataPath: String?
    public var backgroundsPath: String?
    public var worldSize: Int?

    public init(config: Configuration, dataPath: String?, backgroundsPath: String?, worldSize: Int?) {
        self.config = config
        self.dataPath = dataPath
        self.backgroundsPath = backgroundsPath
        self.worldSize = worldSize
    }

    /// Reads a config.json (of a run folder, or a file in that format).
    /// - Throws: `ConfigurationError` naming the file when it is missing or does not parse.
    public static func read(from url: URL) throws -> RunRecord {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConfigurationError("\(url.path): no such file (a run folder's config.json, or a file in its format)")
        }
        let config: Configuration
        do {
            config = try Configuration.fromJSON(String(decoding: data, as: UTF8.self))
        } catch {
            throw ConfigurationError("\(url.path): \(error.localizedDescription)")
        }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return RunRecord(config: config, dataPath: object["data"] as? String, backgroundsPath: object["backgrounds"] as? String,
                         worldSize: object["world_size"] as? Int)
    }

    /// The JSON of config.json: the configuration's keys, the data paths, world size and version.
    public func json() throws -> Data {
        var object = try JSONSerialization.jsonObject(with: Data(config.json().utf8)) as! [String: Any]
        if let dataPath { object["data"] = Self.absolute(dataPath) }
        if let backgroundsPath { object["backgrounds"] = Self.absolute(backgroundsPath) }
        if let worldSize { object["world_size"] = worldSize }
        object["carve_version"] = carveVersion
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    /// Configuration keys that set how long a run lasts and what it writes, not where it goes:
    /// changing them on `--resume` keeps the trajectory (`steps` may extend a run).
    public static let scheduleKeys: Set<String> = [
        "steps", "checkpoint_every", "eval_every", "log_every", "keep_checkpoints", "eval_samples", "collective_timeout",
    ]

    /// The keys whose values differ between `recorded` and `config` and would change the run's
    /// trajectory, as "key recorded → requested", in key order.
    public static func trajectoryChanges(from recorded: Configuration, to config: Configuration) -> [String] {
        func object(_ c: Configuration) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(c.json().utf8))) as? [String: Any] ?? [:]
        }
        let a = object(recorded), b = object(config)
        return Set(a.keys).union(b.keys).subtracting(scheduleKeys).sorted().compactMap { key in
            let x = a[key] as? NSObject, y = b[key] as? NSObject
            if let x, let y, x.isEqual(y) { return nil }
            if x == nil && y == nil { return nil }
            return "\(key) \(describe(a[key])) → \(describe(b[key]))"
        }
    }

    /// `path` made absolute against the current directory (so a resumed run finds its data from
    /// anywhere).
    public static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    private static func describe(_ value: Any?) -> String {
        switch value {
        case nil: "absent"
        case let list as [Any]: list.map { "\($0)" }.joined(separator: ",")
        case let v?: "\(v)"
        }
    }
}
