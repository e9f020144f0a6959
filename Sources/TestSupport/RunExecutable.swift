import Foundation

// Running the built binaries from tests, as swift-argument-parser's `AssertExecuteCommand` does:
// find the executable, run it with arguments and environment, and return its exit code and output.

// MARK: - Running

/// What a finished process left behind: its exit code and everything it wrote.
public struct ExecutableResult: Sendable {
    /// The exit status, or 128 + the signal number when a signal ended the process.
    public var exitCode: Int32
    public var standardOutput: String
    public var standardError: String

    /// Standard error split into lines, without the empty piece after a final newline.
    public var standardErrorLines: [String] { lines(standardError) }
    /// Standard output split into lines, without the empty piece after a final newline.
    public var standardOutputLines: [String] { lines(standardOutput) }

    private func lines(_ text: String) -> [String] {
        var pieces = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if pieces.last == "" { pieces.removeLast() }
        return pieces
    }
}

/// A process that could not be started or did not finish in time.
public enum RunExecutableError: LocalizedError {
    case notExecutable(path: String)
    case timedOut(command: String, seconds: Double, standardOutput: String, standardError: String)
    case notFound(name: String, searched: [String])

    public var errorDescription: String? {
        switch self {
        case .notExecutable(let path):
            return "\(path) is not an executable file"
        case .timedOut(let command, let seconds, let standardOutput, let standardError):
            return "\(command) still running after \(seconds) s; killed. stdout: \(standardOutput.suffix(2_000)) "
                + "stderr: \(standardError.suffix(2_000))"
        case .notFound(let name, let searched):
            return "no built `\(name)` in \(searched.joined(separator: ", ")); build it first or set its variable"
        }
    }
}

/// Runs `executable` with `arguments` until it exits or `timeout` seconds pass, and returns its
/// exit code, standard output and standard error (read to the end, however long).
///
/// The child inherits this process's environment with `environment` laid over it (or only
/// `environment` when `inheritEnvironment` is false). After `timeout` it gets SIGTERM, then
/// SIGKILL a second later, and `RunExecutableError.timedOut` carries what it wrote so far.
///
/// - Parameters:
///   - executable: the file to run.
///   - arguments: its arguments, without the program name.
///   - environment: variables to set for the child (they replace inherited ones).
///   - inheritEnvironment: whether the child starts from this process's environment.
///   - currentDirectory: the child's working directory (this process's when nil).
///   - timeout: seconds before the child is killed and the call throws.
///
/// ```swift
/// let result = try runExecutable(carve, arguments: ["--bogus"])
/// #expect(result.exitCode == 64)
/// #expect(result.standardErrorLines.count == 1)
/// ```
public func runExecutable(
    _ executable: URL, arguments: [String] = [], environment: [String: String] = [:],
    inheritEnvironment: Bool = true, currentDirectory: URL? = nil, timeout: Double = 60
) throws -> ExecutableResult {
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
        throw RunExecutableError.notExecutable(path: executable.path)
    }
    // Output goes to temporary files rather than pipes, so a chatty child can never block on a
    // full pipe while we wait for it.
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("run-executable-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let outURL = folder.appendingPathComponent("stdout"), errURL = folder.appendingPathComponent("stderr")
    // A file that could not be created makes FileHandle(forWritingTo:) below throw.
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
    defer { try? out.close(); try? err.close() }

    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = (inheritEnvironment ? ProcessInfo.processInfo.environment : [:])
        .merging(environment) { _, new in new }
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = out
    process.standardError = err

    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try withNoSignalsBlocked { try process.run() }
    let finished = exited.wait(timeout: .now() + timeout) == .success
    if !finished {
        process.terminate()
        if exited.wait(timeout: .now() + 1) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            // Process notices the exit only when every descendant has let go of the child's
            // status socket: do not wait forever for grandchildren that outlive the child.
            _ = exited.wait(timeout: .now() + 5)
        }
    }
    let standardOutput = String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self)
    let standardError = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
    guard finished else {
        let command = ([executable.path] + arguments).joined(separator: " ")
        throw RunExecutableError.timedOut(command: command, seconds: timeout,
                                          standardOutput: standardOutput, standardError: standardError)
    }
    let code = process.terminationReason == .uncaughtSignal
        ? 128 + process.terminationStatus : process.terminationStatus
    return ExecutableResult(exitCode: code, standardOutput: standardOutput, standardError: standardError)
}

/// Runs `body` with no signal blocked on this thread.
///
/// A child started by `Process` inherits the signal mask of the thread that starts it, and test
/// runners' worker threads block most signals (SIGTERM, SIGINT, ...). Without this, a child run
/// from a test would ignore `terminate()` and any `kill -TERM` a test sends it.
private func withNoSignalsBlocked<T>(_ body: () throws -> T) rethrows -> T {
    var none = sigset_t(), previous = sigset_t()
    sigemptyset(&none)
    pthread_sigmask(SIG_SETMASK, &none, &previous)
    defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
    return try body()
}

// MARK: - Finding the built executables

/// The built executable `name`: the path in `environmentVariable` when set (the Makefile sets
/// `CARVE_BIN`), else the file `name` next to the running test bundle, where SwiftPM builds every
/// product of the package (for example `.build/release/carve` beside `carvePackageTests.xctest`).
///
/// ```swift
/// let carve = try builtExecutable(named: "carve", environmentVariable: "CARVE_BIN")
/// let result = try runExecutable(carve, arguments: ["--help"])
/// ```
public func builtExecutable(named name: String, environmentVariable: String) throws -> URL {
    if let path = ProcessInfo.processInfo.environment[environmentVariable], !path.isEmpty {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RunExecutableError.notExecutable(path: "\(environmentVariable)=\(path)")
        }
        return URL(fileURLWithPath: path)
    }
    // On Linux the test bundle is an executable, so Bundle.main's folder is the build folder; on
    // macOS it is an .xctest directory inside it.
    let bundle = Bundle.main.bundleURL
    let candidates = [
        bundle, bundle.deletingLastPathComponent(),
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
    ].map { $0.appendingPathComponent(name).standardizedFileURL.path }
    guard let found = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
        throw RunExecutableError.notFound(name: name, searched: ["$\(environmentVariable)"] + candidates)
    }
    return URL(fileURLWithPath: found)
}
