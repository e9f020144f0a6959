import Foundation

// Note [Run folder lock]
// Two runs writing one run folder mix checkpoints, configs and metrics, and one run's sweep of
// stale temporary files deletes the other's live ones. Rank 0 therefore holds RUN/.lock for the
// whole run: created with O_CREAT | O_EXCL (atomic on a local or NFSv3+ filesystem), holding
// "host pid start-time", removed when the run ends. A run killed with -9 leaves its lock behind;
// the next run breaks it when the lock names this host and no live process with that pid and
// start time exists (a reused pid has another start time; a zombie is not live), and says so. A lock of another host is never
// broken automatically: the message says which host and how to remove it by hand.

/// Rank 0's exclusive hold on a run folder (Note [Run folder lock]).
final class RunLock {
    let url: URL
    private var held = true

    private init(url: URL) { self.url = url }

    /// Takes RUN/.lock (creating RUN), breaking a stale lock of a dead process on this host.
    /// - Throws: `TrainingError.runDirectory` naming the holder when another live run has it.
    static func acquire(folder: URL) throws -> RunLock {
        try RunFolder.createFolder(folder)
        let url = folder.appendingPathComponent(".lock")
        let me = "\(hostName()) \(getpid()) \(startTime(of: getpid()) ?? 0)"
        for attempt in 0..<2 {
            let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            if fd >= 0 {
                let bytes = Array((me + "\n").utf8)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                return RunLock(url: url)
            }
            guard errno == EEXIST, attempt == 0 else {
                throw TrainingError.runDirectory(path: folder.path, reason: "cannot create its lock \(url.lastPathComponent) (\(String(cString: strerror(errno))))")
            }
            let holder = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            let parts = holder.split(separator: " ")
            guard parts.count == 3, let pid = Int32(parts[1]), let start = UInt64(parts[2]) else {
                throw TrainingError.runDirectory(path: folder.path, reason: "its lock .lock is unreadable; if no run uses the folder, remove \(url.path)")
            }
            let host = String(parts[0])
            guard host == hostName() else {
                throw TrainingError.runDirectory(path: folder.path, reason: "in use by a run on host \(host) (pid \(pid)); if that run is gone, remove \(url.path)")
            }
            if let alive = startTime(of: pid), alive == start || start == 0 {
                throw TrainingError.runDirectory(path: folder.path, reason: "in use by another run (pid \(pid)); wait for it or choose another --run-dir")
            }
            // The holder is gone (killed): break its lock and try once more.
            try? FileManager.default.removeItem(at: url)
            FileHandle.standardError.write(Data("carve: run folder \(folder.path): removed the lock of a run that is gone (pid \(pid))\n".utf8))
        }
        throw TrainingError.runDirectory(path: folder.path, reason: "cannot take its lock")
    }

    /// Gives the folder back (idempotent).
    func release() {
        guard held else { return }
        held = false
        try? FileManager.default.removeItem(at: url)
    }

    deinit { release() }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }

    /// The start time of process `pid` in clock ticks since boot (/proc/PID/stat field 22), or nil
    /// when no such process runs — a zombie (state Z or X: killed, not yet reaped, as the ranks of
    /// a job killed with -9 stay when nothing reaps them) counts as gone.
    static func startTime(of pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces) start at field 3, the state.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }
}
