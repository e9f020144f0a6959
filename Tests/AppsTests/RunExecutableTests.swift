import Foundation
import Testing
import TestSupport

/// `runExecutable`, which the CLI tests (and later the training-run tests) rely on.
@Suite struct RunExecutableTests {
    let shell = URL(fileURLWithPath: "/bin/sh")

    @Test func returnsTheExitCodeBothStreamsAndTheEnvironment() throws {
        let result = try runExecutable(shell, arguments: ["-c", "echo out:$GREETING; echo err >&2; exit 3"],
                                       environment: ["GREETING": "hello"])
        #expect(result.exitCode == 3)
        #expect(result.standardOutputLines == ["out:hello"])
        #expect(result.standardErrorLines == ["err"])
    }

    @Test func readsOutputLargerThanAPipeBuffer() throws {
        let result = try runExecutable(shell, arguments: ["-c", "head -c 1000000 /dev/zero | tr '\\0' x"])
        #expect(result.exitCode == 0)
        #expect(result.standardOutput.utf8.count == 1_000_000)
    }

    @Test func killsAProcessThatOutlivesItsTimeout() throws {
        let start = Date()
        #expect(throws: RunExecutableError.self) {
            try runExecutable(shell, arguments: ["-c", "echo started; exec sleep 30"], timeout: 0.5)
        }
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func theChildStartsWithNoSignalsBlocked() throws {
        // Test runners block signals on their threads; a child must still hear SIGTERM. (Run
        // grep itself: a shell in between would clear the mask and hide the difference.)
        let result = try runExecutable(URL(fileURLWithPath: "/bin/grep"), arguments: ["SigBlk", "/proc/self/status"])
        #expect(result.standardOutputLines == ["SigBlk:\t0000000000000000"], "\(result.standardOutput)")
    }

    @Test func reportsASignalAs128PlusItsNumber() throws {
        let result = try runExecutable(shell, arguments: ["-c", "kill -9 $$"])
        #expect(result.exitCode == 128 + 9)
    }
}
