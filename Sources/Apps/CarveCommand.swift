import ArgumentParser
import Carve
import Foundation

/// `carve`: one binary for training (single process or under mpirun), checkpoints, data and
/// benchmarks. Subcommands only parse, validate and call into Carve (docs/ARCHITECTURE.md, "Command line").
@main
struct CarveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carve",
        abstract: "Learn segmentation masks with the independence prior (GAN of composited instances), data-parallel over MPI.",
        discussion: """
            Run without mpirun for a single process; `mpirun -n 8 carve train ...` trains on 8 ranks.
            """,
        version: carveVersion,
        subcommands: [TrainCommand.self, PresetsCommand.self, CheckpointCommand.self, SegmentCommand.self, SampleCommand.self, DataCommand.self,
                      BenchCommand.self, ReportCommand.self])

    static func main() {
        OpenBLASCoreType.selectAVX512KernelsIfAvailable()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exitWithOneLine(error)
        }
    }
}

/// Ends the process for `error`: help and version go to stdout as usual; anything else is one
/// line on stderr ("carve: ...") and the matching exit code (64 for a bad flag).
func exitWithOneLine(_ error: Error) -> Never {
    if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }  // already reported
    let code = CarveCommand.exitCode(for: error)
    if code == .success || error is CleanExit { CarveCommand.exit(withError: error) }
    let message = CarveCommand.message(for: error)
        .split(separator: "\n").first.map(String.init) ?? "\(error)"
    let line = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
    FileHandle.standardError.write(Data("carve: \(line)\n".utf8))
    Foundation.exit(code.rawValue)
}
