// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What an upper daemon on the runner told systemd over a short life: started beside a running totemd under a notify
/// socket with a watchdog, then SIGHUP, then SIGTERM.
public struct RunnerLifecycle: Sendable {
    /// The notifications up to READY (and two watchdog pings).
    public var first: [String]
    /// The READY notification, with its status.
    public var ready: String { first.first { $0.hasPrefix("READY=1") } ?? "" }
    public var watchdogPings: Int { first.filter { $0 == "WATCHDOG=1" }.count }
    public var runningAfterSIGHUP: Bool
    /// The notifications after SIGTERM.
    public var last: [String]
    public var exitStatus: Int32
}

extension LocalCluster {
    /// Runs `daemon` on node 1 (totemd must be up) through the runner's life cycle: READY, watchdog pings, SIGHUP,
    /// SIGTERM.
    public func runnerLifecycle(_ daemon: String) throws -> RunnerLifecycle {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) } // leftovers in /tmp are harmless
        let socket = try NotifySocket(directory: dir)
        var env = environment(1)
        env["NOTIFY_SOCKET"] = socket.path
        env["WATCHDOG_USEC"] = "300000"
        let p = try ChildProcess(TestBinaries.path(daemon), [], environment: env)
        defer { p.signal(SIGKILL) }
        let first = socket.receive(timeout: .seconds(20)) { m in m.contains { $0.hasPrefix("READY=1") } && m.filter { $0 == "WATCHDOG=1" }.count >= 2 }
        p.signal(SIGHUP)
        usleep(300_000)
        let running = p.isRunning
        p.signal(SIGTERM)
        let last = socket.receive(timeout: .seconds(10)) { $0.contains("STOPPING=1") }
        return RunnerLifecycle(first: first, runningAfterSIGHUP: running, last: last, exitStatus: try p.wait(timeout: .seconds(10)))
    }
}
