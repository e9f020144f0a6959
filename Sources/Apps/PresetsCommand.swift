import ArgumentParser
import Carve
import Foundation

/// `carve presets`: the presets with their key values, or one preset as a configuration file.
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List the presets, or print one as a configuration file for `carve train --config`.",
        discussion: "`carve presets demo-fg > my.json`, edit it, then `carve train --config my.json --data DIR`.")

    @Argument(help: "A preset to print in full (the config.json format).")
    var name: String?

    func validate() throws {
        if let name, !Presets.names.contains(name) {
            throw ValidationError("unknown preset '\(name)' (known: \(Presets.names.joined(separator: ", ")))")
        }
    }

    func run() throws {
        if let name {
            let record = RunRecord(config: try Presets.named(name), dataPath: nil, backgroundsPath: nil, worldSize: nil)
            print(String(decoding: try record.json(), as: UTF8.self))
            return
        }
        for name in Presets.names {
            let c = try Presets.named(name)
            print(String(format: "%-16@ %@ %d×%d, batch %d, %d steps%@, λ %g, area target %g, lr G %g D %g",
                         name, c.application, c.imageSize, c.imageSize, c.batchSize, c.steps,
                         c.distillSteps > 0 ? " + \(c.distillSteps) distillation" : "", c.lambdaArea, c.areaTarget, c.lrG, c.lrD))
        }
    }
}
