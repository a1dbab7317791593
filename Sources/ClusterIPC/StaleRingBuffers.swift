// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Removes the shared-memory ring buffers of IPC connections whose two processes are both gone.
///
/// libqb keeps each connection's request, response and event rings (about 3 MiB in all at our buffer size) in a
/// directory `/dev/shm/qb-<server pid>-<client pid>-<fd>-<random>`. Whichever side closes last removes it; a side
/// that sees its peer die cleans up too. When both die at once without closing (SIGKILL of a node's daemons, which
/// talk to each other), nobody does, and the memory stays taken until reboot: /dev/shm is RAM. A machine that had
/// its local cluster killed a few thousand times (a test suite, an operator trying failover) ran out of memory.
///
/// A directory is stale when neither process that named it still runs. A process id may have been reused since, so
/// a process that started after the directory was last changed does not count as its owner.
public enum StaleRingBuffers {
    /// What one sweep did.
    public struct Sweep: Sendable, Equatable {
        /// Directories removed.
        public var removed = 0
        /// Bytes their files held.
        public var bytes = 0
        /// Directories that looked stale but could not be removed, with the reason.
        public var failures: [String] = []
    }

    /// Removes every stale libqb connection directory under `directory` (default `/dev/shm`), or with `involving`,
    /// only those of connections one of whose ends was one of these processes.
    @discardableResult
    public static func sweep(directory: String = "/dev/shm", involving: Set<Int32>? = nil) -> Sweep {
        var result = Sweep()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return result }
        let bootTime = Self.bootTime()
        for name in names {
            guard let (server, client) = connectionPIDs(name) else { continue }
            if let involving, !involving.contains(server) && !involving.contains(client) { continue }
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            let changed = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            if owns(server, changedAt: changed, bootTime: bootTime) || owns(client, changedAt: changed, bootTime: bootTime) {
                continue
            }
            let bytes = size(of: path)
            do {
                try FileManager.default.removeItem(atPath: path)
                result.removed += 1
                result.bytes += bytes
            } catch {
                // Gone anyway: another daemon starting at the same moment swept it first.
                if FileManager.default.fileExists(atPath: path) { result.failures.append("\(path): \(error.localizedDescription)") }
            }
        }
        return result
    }

    /// The server and client process ids of a libqb connection directory name (`qb-123-456-7-AbCdEf`), or nil for
    /// any other name (`qb-corosync-…-blackbox-data`, a service's own files).
    static func connectionPIDs(_ name: String) -> (Int32, Int32)? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[0] == "qb", let s = Int32(parts[1]), let c = Int32(parts[2]), Int32(parts[3]) != nil,
              s > 0, c > 0 else { return nil }
        return (s, c)
    }

    /// Whether process `pid` exists and has not exited (a zombie, dead but not yet reaped, has).
    public static func isRunning(_ pid: Int32) -> Bool { liveness(of: pid, bootTime: nil).running }

    /// Whether process `pid` runs and started before the directory was last changed (so it may be the one that
    /// made it, not a later process that was given the same id).
    private static func owns(_ pid: Int32, changedAt: Double, bootTime: Double?) -> Bool {
        let process = liveness(of: pid, bootTime: bootTime)
        guard process.running, let started = process.started else { return process.running }
        return started <= changedAt + 1
    }

    /// Whether `pid` runs (not gone, not a zombie) and, when known, when it started. A process whose /proc entry
    /// cannot be read counts as running, with no start time.
    private static func liveness(of pid: Int32, bootTime: Double?) -> (running: Bool, started: Double?) {
        if kill(pid, 0) != 0 && errno == ESRCH { return (false, nil) }
        guard let (state, started) = status(of: pid, bootTime: bootTime) else { return (true, nil) }
        return (state != "Z" && state != "X", started)
    }

    /// A process's state letter and start time in seconds since the epoch, from /proc/PID/stat (fields 3 and 22,
    /// the start in clock ticks after boot).
    private static func status(of pid: Int32, bootTime: Double?) -> (Character, Double?)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces) start with field 3, the state.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard let state = fields.first?.first else { return nil }
        guard let bootTime, fields.count > 19, let ticks = Double(fields[19]) else { return (state, nil) }
        return (state, bootTime + ticks / Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// The boot time in seconds since the epoch (`btime` of /proc/stat).
    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private static func size(of directory: String) -> Int {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var total = 0
        for f in files {
            var st = stat()
            if lstat(directory + "/" + f, &st) == 0 { total += Int(st.st_blocks) * 512 }
        }
        return total
    }
}
