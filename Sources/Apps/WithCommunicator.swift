import Carve
import Foundation

/// Runs `body` with this process's communicator (MPI under mpirun/srun, local otherwise).
///
/// Any error becomes one line on stderr naming this rank (under MPI) and a non-zero exit; under
/// MPI the failing rank aborts the whole job so no other rank is left waiting (STYLE §6).
func withCommunicator(_ body: (any Communicator) throws -> Void) throws {
    let communicator: any Communicator
    do {
        communicator = try communicatorFromEnvironment()
    } catch {
        FileHandle.standardError.write(Data("carve: \(error.localizedDescription)\n".utf8))
        Foundation.exit(1)
    }
    do {
        try body(communicator)
    } catch {
        let who = communicator.worldSize > 1 ? "rank \(communicator.rank): " : ""
        FileHandle.standardError.write(Data("carve: \(who)\(error.localizedDescription)\n".utf8))
        if communicator.worldSize > 1 { communicator.abort(code: 1) }
        Foundation.exit(1)
    }
}
