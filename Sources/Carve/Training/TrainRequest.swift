import Foundation

/// What `carve train`'s flags ask for, resolved against the run folder into one configuration and
/// the run's options.
///
/// - A new run starts from `--preset` or `--config FILE` (a run folder's config.json), then the
///   flags and `--set`s override it. Without `--run-dir` it gets a fresh folder
///   `runs/NAME/version_N` (N = the next free number), as Lightning does.
/// - `--resume --run-dir RUN` needs nothing else: RUN/config.json holds the configuration and the
///   data paths. `--steps` (and the other schedule keys, `RunRecord.scheduleKeys`) may change; a
///   flag that would change the trajectory is refused with one line saying which, unless
///   `--override`, and then it is logged in RUN/changes.log.
///
/// ```swift
/// let request = TrainRequest(runDirectory: "runs/beans", resume: true, steps: 3000)
/// let (config, options) = try request.resolve()
/// ```
public struct TrainRequest: Sendable {
    public var preset: String?
    public var configFile: String?
    public var data: String?
    public var backgrounds: String?
    /// nil: a fresh runs/NAME/version_N.
    public var runDirectory: String?
    public var resume: Bool
    /// Accept changes to a resumed run's trajectory (logged).
    public var override: Bool
    public var steps: Int?
    public var batchSize: Int?
    public var seed: UInt64?
    public var checkpointEvery: Int?
    public var evalEvery: Int?
    /// `key=value` overrides, in order.
    public var sets: [String]
    public var quiet: Bool

    public init(preset: String? = nil, configFile: String? = nil, data: String? = nil, backgrounds: String? = nil,
                runDirectory: String? = nil, resume: Bool = false, override: Bool = false, steps: Int? = nil,
                batchSize: Int? = nil, seed: UInt64? = nil, checkpointEvery: Int? = nil, evalEvery: Int? = nil,
                sets: [String] = [], quiet: Bool = false) {
        self.preset = preset
        self.configFile = configFile
        self.data = data
        self.backgrounds = backgrounds
        self.runDirectory = runDirectory
        self.resume = resume
        self.override = override
        self.steps = steps
        self.batchSize = batchSize
        self.seed = seed
        self.checkpointEvery = checkpointEvery
        self.evalEvery = evalEvery
        self.sets = sets
        self.quiet = quiet
    }

    /// The configuration (validated) and options of the run.
    /// - Throws: `ConfigurationError` naming the flag, file or key at fault.
    public func resolve() throws -> (config: Configuration, options: TrainOptions) {
        var record: RunRecord?
        var base: Configuration
        var runDirectory = self.runDirectory
        if resume {
            guard let dir = runDirectory else { throw ConfigurationError("--resume needs --run-dir, the folder of the run to continue") }
            let url = RunFolder(url: URL(fileURLWithPath: dir)).configURL
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ConfigurationError("--resume: \(url.path) is missing: there is no run to resume in \(dir)")
            }
            record = try RunRecord.read(from: url)
            base = record!.config
        } else if let configFile {
            let file = try RunRecord.read(from: URL(fileURLWithPath: configFile))
            record = file
            base = file.config
        } else {
            guard let preset else { throw ConfigurationError("--preset NAME (or --config FILE, or --resume --run-dir RUN) is needed: known presets \(Presets.names.joined(separator: ", "))") }
            base = try Presets.named(preset)
        }
        // What the flags ask for, on top of the base.
        var config = base
        if resume, let configFile { config = try RunRecord.read(from: URL(fileURLWithPath: configFile)).config }
        if resume, let preset, preset != base.preset { config = try Presets.named(preset) }
        if let steps { config.steps = steps }
        if let batchSize { config.batchSize = batchSize }
        if let seed { config.seed = seed }
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        if let evalEvery { config.evalEvery = evalEvery }
        config = try config.applying(sets)
        try config.validate()

        let data = self.data ?? record?.dataPath
        let backgrounds = self.backgrounds ?? record?.backgroundsPath
        var changes: [String] = []
        if resume, let record {
            changes = RunRecord.trajectoryChanges(from: record.config, to: config)
            func path(_ p: String?) -> String { p.map(RunRecord.absolute) ?? "the embedded default" }
            if path(data) != path(record.dataPath) { changes.append("data \(path(record.dataPath)) → \(path(data))") }
            if path(backgrounds) != path(record.backgroundsPath) {
                changes.append("backgrounds \(path(record.backgroundsPath)) → \(path(backgrounds))")
            }
            if !changes.isEmpty && !override {
                throw ConfigurationError("--resume would change the run in \(runDirectory!): \(changes.joined(separator: "; ")); pass --override to change it anyway (logged in changes.log)")
            }
        }
        if !resume { config = try Applications.named(config.application).prepare(config, dataPath: data) }
        if runDirectory == nil { runDirectory = Self.freshVersion(under: "runs/\(config.preset.isEmpty ? "run" : config.preset)") }
        var options = TrainOptions(runDirectory: URL(fileURLWithPath: runDirectory!), dataPath: data, backgroundsPath: backgrounds,
                                   resume: resume, quiet: quiet)
        options.resumeChanges = changes
        return (config, options)
    }

    /// `parent/version_N` for the first N whose folder does not exist.
    static func freshVersion(under parent: String) -> String {
        var n = 0
        while FileManager.default.fileExists(atPath: "\(parent)/version_\(n)") { n += 1 }
        return "\(parent)/version_\(n)"
    }
}
