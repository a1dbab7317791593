// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One running agent call. It never blocks: a daemon's loop calls `poll(at:)` when SIGCHLD arrives and at
/// `nextDeadline`, and gets the result once the agent has exited; `AgentRunner.run` does the same in a loop for
/// rg_test. On timeout the agent's whole process group gets SIGTERM, then SIGKILL after `killGrace`.
public final class AgentProcess {
    /// What to do with the agent's stdout and stderr.
    public enum Output: Sendable, Hashable {
        /// Shared with ours (rg_test).
        case inherit
        /// Collected (the tail, at most `capturedBytesMax`), for a daemon's log.
        case capture
    }

    /// Output kept from one call at most (the last bytes win).
    public static let capturedBytesMax = 64 << 10
    /// Time between SIGTERM and SIGKILL after a timeout, unless the caller gives another.
    public static let defaultKillGrace: Duration = .seconds(5)

    public let pid: pid_t
    public let deadline: MonotonicInstant
    public let killGrace: Duration
    public private(set) var killDeadline: MonotonicInstant?
    public private(set) var result: AgentResult?
    /// What the agent printed, when captured.
    public private(set) var output: [UInt8] = []
    private var readFD: Int32

    /// Starts `path action` with `environment` (no other variables), in a process group of its own.
    public init(path: String, action: String, environment: [String: String], timeout: Duration, output: Output,
                killGrace: Duration = defaultKillGrace, now: MonotonicInstant) throws(AgentSpawnError) {
        self.killGrace = killGrace
        guard access(path, X_OK) == 0 else {
            throw AgentSpawnError(path: path, reason: access(path, F_OK) == 0 ? "not executable" : "not installed")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var fds: [Int32] = [-1, -1]
        if output == .capture {
            guard pipe(&fds) == 0 else { throw AgentSpawnError(path: path, reason: "pipe: \(String(cString: strerror(errno)))") }
            // Our read end must not leak into the agent (nor into agents started later).
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Its own process group, so a timeout ends everything the agent started; default signal handling.
        var defaults = sigset_t()
        sigfillset(&defaults)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup(action), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.keys.sorted().map { strdup("\($0)=\(environment[$0]!)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attr, argv, envp)
        if output == .capture { close(fds[1]) }
        guard rc == 0 else {
            if output == .capture { close(fds[0]) }
            throw AgentSpawnError(path: path, reason: String(cString: strerror(rc)))
        }
        pid = child
        readFD = output == .capture ? fds[0] : -1
        if readFD >= 0 { _ = fcntl(readFD, F_SETFL, fcntl(readFD, F_GETFL) | O_NONBLOCK) }
        deadline = now + timeout
    }

    deinit {
        if readFD >= 0 { close(readFD) }
        if result == nil {
            // Never leave a call behind: end its group and reap it.
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    /// The next instant `poll` has something to do without a SIGCHLD (the timeout, then the SIGKILL).
    public var nextDeadline: MonotonicInstant? {
        guard result == nil else { return nil }
        return killDeadline ?? deadline
    }

    /// The file descriptor the captured output arrives on (-1 when not capturing), for a loop to watch.
    public var outputFD: Int32 { readFD }

    /// Reaps the agent if it exited, and enforces the timeout. Returns the result once there is one.
    @discardableResult
    public func poll(at now: MonotonicInstant) -> AgentResult? {
        if let result { return result }
        drain()
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            drain()
            if readFD >= 0 {
                close(readFD)
                readFD = -1
            }
            // What the agent started stays: a daemon it launched may live in its process group.
            let signal = status & 0x7f
            if killDeadline != nil {
                result = .timedOut
            } else if signal == 0 {
                result = .exited((status >> 8) & 0xff)
            } else {
                result = .signalled(signal)
            }
            return result
        }
        if let k = killDeadline {
            if now >= k { kill(-pid, SIGKILL) }
        } else if now >= deadline {
            kill(-pid, SIGTERM)
            killDeadline = now + killGrace
        }
        return nil
    }

    /// Reads what the agent printed so far (non-blocking), keeping the tail.
    public func drain() {
        guard readFD >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            output.append(contentsOf: chunk[0..<n])
            if output.count > Self.capturedBytesMax { output.removeFirst(output.count - Self.capturedBytesMax) }
        }
    }

    /// What the agent printed, as text.
    public var outputText: String { String(decoding: output, as: UTF8.self) }
}

/// An agent that could not be started.
public struct AgentSpawnError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}
