// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import FenceCore
import Glibc

/// One running fence agent, driven without blocking: a daemon's event loop watches `descriptors` (readable) and
/// calls `service(now:)` when one fires and at `nextDeadline`; `service` returns the report once the agent is done.
/// `run` does the same in a poll loop, for tools.
///
/// The agent gets no arguments (unless asked, as for `-o metadata`), its stdin lines already in a pipe (written
/// before it starts, so a quick exit can never raise SIGPIPE here), its own process group (so its helpers die with
/// it), default signal handling and an empty signal mask. At the timeout the group gets SIGTERM, and SIGKILL
/// `killGrace` later.
public final class AgentProcess {
    public let pid: pid_t
    public let executable: String
    public let started: MonotonicInstant
    public let timeout: Duration
    public let killGrace: Duration
    /// Pipes still open (stdout, stderr) to watch for readability.
    public var descriptors: [Int32] { [outFD, errFD].compactMap { $0 } }
    private var outFD: Int32?
    private var errFD: Int32?
    private var stdout = OutputBuffer()
    private var stderr = OutputBuffer()
    private var exitStatus: Int32?
    private var exitedAt: MonotonicInstant?
    private var terminatedAt: MonotonicInstant?
    private var killed = false
    private var report: AgentReport?

    /// The most stdin an agent gets: far below a pipe's 64 KiB, so it is written whole before the agent starts.
    public static let stdinBytesMax = 32 << 10
    /// Output kept per stream; the rest is read and dropped, so a chatty agent never blocks on a full pipe.
    public static let outputBytesMax = 64 << 10
    /// While an agent runs, `service` must be called at least this often (it reaps the process).
    static let pollInterval: Duration = .milliseconds(50)
    /// After the agent exits, how long its pipes may stay open (held by a helper it left behind).
    static let drainGrace: Duration = .milliseconds(500)

    private init(pid: pid_t, executable: String, started: MonotonicInstant, timeout: Duration, killGrace: Duration, out: Int32, err: Int32) {
        self.pid = pid
        self.executable = executable
        self.started = started
        self.timeout = timeout
        self.killGrace = killGrace
        outFD = out
        errFD = err
    }

    deinit {
        if report == nil {
            // Dropped while running: nobody will reap it otherwise.
            _ = Glibc.kill(-pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        for fd in descriptors { close(fd) }
    }

    /// Starts `executable` with `stdin` (one line each) and `arguments` (none for the fence protocol).
    public static func start(executable: String, arguments: [String] = [], stdin lines: [String], timeout: Duration,
                             killGrace: Duration = .seconds(2)) throws(AgentError) -> AgentProcess {
        let input = Array(lines.map { $0 + "\n" }.joined().utf8)
        guard input.count <= stdinBytesMax else { throw AgentError("the agent's input is \(input.count) bytes; at most \(stdinBytesMax) are allowed") }
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard makePipe(&inPipe) else { throw AgentError("pipe: \(String(cString: strerror(errno)))") }
        guard makePipe(&outPipe) else {
            closeAll(inPipe)
            throw AgentError("pipe: \(String(cString: strerror(errno)))")
        }
        guard makePipe(&errPipe) else {
            closeAll(inPipe + outPipe)
            throw AgentError("pipe: \(String(cString: strerror(errno)))")
        }
        var written = 0
        while written < input.count {
            let n = input[written...].withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                closeAll(inPipe + outPipe + errPipe)
                throw AgentError("writing the agent's input: \(String(cString: strerror(errno)))")
            }
            written += n
        }
        close(inPipe[1])

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = [executable] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, executable, &actions, &attributes, &cArgs, environ)
        // ETXTBSY: another thread's child still holds the file open for writing between its fork and exec (an agent
        // being installed). That lasts microseconds; a few short retries ride it out.
        for _ in 0..<20 where rc == ETXTBSY {
            usleep(5_000)
            rc = posix_spawn(&pid, executable, &actions, &attributes, &cArgs, environ)
        }
        closeAll([inPipe[0], outPipe[1], errPipe[1]])
        guard rc == 0 else {
            closeAll([outPipe[0], errPipe[0]])
            throw AgentError("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return AgentProcess(pid: pid, executable: executable, started: monotonicNow(), timeout: timeout, killGrace: killGrace,
                            out: outPipe[0], err: errPipe[0])
    }

    /// When `service` must be called next at the latest (nil once finished).
    public var nextDeadline: MonotonicInstant? {
        guard report == nil else { return nil }
        let now = Self.monotonicNow()
        var d = now + Self.pollInterval
        if let t = terminatedAt { d = min(d, t + killGrace) } else { d = min(d, started + timeout) }
        if let e = exitedAt { d = min(d, e + Self.drainGrace) }
        return d
    }

    /// Reads what the agent wrote, reaps it, enforces the timeout; returns the report once it is done (and again
    /// on later calls).
    @discardableResult
    public func service(now: MonotonicInstant = AgentProcess.monotonicNow()) -> AgentReport? {
        if let r = report { return r }
        drainPipes()
        if exitStatus == nil {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                exitStatus = status
                exitedAt = now
                drainPipes()
            }
        }
        if exitStatus == nil {
            if terminatedAt == nil && now >= started + timeout {
                terminatedAt = now
                _ = Glibc.kill(-pid, SIGTERM)
            } else if let t = terminatedAt, !killed, now >= t + killGrace {
                killed = true
                _ = Glibc.kill(-pid, SIGKILL)
            }
            return nil
        }
        // Exited: wait a little for helpers still holding its pipes, then end them.
        if !descriptors.isEmpty {
            guard now >= exitedAt! + Self.drainGrace else { return nil }
            _ = Glibc.kill(-pid, SIGKILL)
            for fd in descriptors { close(fd) }
            outFD = nil
            errFD = nil
        }
        let status = exitStatus!
        let outcome: Fence.AgentOutcome
        if terminatedAt != nil {
            outcome = .timedOut
        } else if status & 0x7f == 0 {
            let code = (status >> 8) & 0xff
            outcome = code == 0 ? .success : .failed(exitCode: code)
        } else {
            outcome = .killed(signal: status & 0x7f)
        }
        let r = AgentReport(outcome: outcome, stdout: stdout.text, stderr: stderr.text, duration: now - started)
        report = r
        return r
    }

    /// Kills the agent's process group at once (shutdown); the next `service` reports it.
    public func kill() {
        guard report == nil else { return }
        _ = Glibc.kill(-pid, SIGKILL)
        if terminatedAt == nil { terminatedAt = Self.monotonicNow() }
        killed = true
    }

    /// Runs to completion, blocking the caller (for tools such as fence_node).
    public func wait() -> AgentReport {
        while true {
            if let r = service() { return r }
            let wait = max((nextDeadline ?? Self.monotonicNow()) - Self.monotonicNow(), .milliseconds(1))
            var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), Int32(min(wait.millisecondsClamped + 1, 1_000)))
        }
    }

    private func drainPipes() {
        if let fd = outFD, drain(fd, into: &stdout) { close(fd); outFD = nil }
        if let fd = errFD, drain(fd, into: &stderr) { close(fd); errFD = nil }
    }

    /// Reads everything available from `fd`; true at end of file.
    private func drain(_ fd: Int32, into buffer: inout OutputBuffer) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(chunk[..<n])
            } else if n == 0 {
                return true
            } else if errno != EINTR {
                return false
            }
        }
    }

    /// A pipe whose ends are closed on exec (the agent gets only the copies dup'ed to 0, 1 and 2).
    private static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    private static func closeAll(_ fds: [Int32]) { for fd in fds where fd >= 0 { close(fd) } }

    /// CLOCK_MONOTONIC as the cores' instant type.
    public static func monotonicNow() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}

/// A finished agent run.
public struct AgentReport: Sendable, Hashable {
    public var outcome: Fence.AgentOutcome
    /// What it printed, decoded leniently, with control characters other than newline and tab shown as `?`.
    public var stdout: String
    public var stderr: String
    public var duration: Duration

    /// The result to feed the fence core for run `id` (stderr trimmed to what the domain multicasts).
    public func result(runID: UInt64) -> Fence.AgentResult {
        Fence.AgentResult(runID: runID, outcome: outcome, stderr: Self.lastBytes(stderr.trimmingTrailingNewlines, Fence.stderrBytesMax))
    }

    /// The end of `s`, at most `limit` UTF-8 bytes (an agent's last lines say why it failed).
    static func lastBytes(_ s: String, _ limit: Int) -> String {
        guard s.utf8.count > limit else { return s }
        var out: [Character] = []
        var bytes = 0
        for ch in s.reversed() {
            let n = String(ch).utf8.count
            if bytes + n > limit { break }
            out.append(ch)
            bytes += n
        }
        return String(out.reversed())
    }
}

/// Bounded capture of one output stream.
struct OutputBuffer {
    var bytes: [UInt8] = []
    var dropped = 0

    mutating func append(_ chunk: ArraySlice<UInt8>) {
        let room = AgentProcess.outputBytesMax - bytes.count
        if room > 0 { bytes.append(contentsOf: chunk.prefix(room)) }
        dropped += max(chunk.count - max(room, 0), 0)
    }

    var text: String {
        let decoded = String(decoding: bytes, as: UTF8.self)
        var clean = String(decoded.unicodeScalars.map { s -> Character in
            (s.value < 0x20 && s != "\n" && s != "\t") || s.value == 0x7f ? "?" : Character(s)
        })
        if dropped > 0 { clean += "\n[\(dropped) more bytes not kept]" }
        return clean
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" || last == " " { s = s.dropLast() }
        return String(s)
    }
}
