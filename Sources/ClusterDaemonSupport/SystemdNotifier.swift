// SPDX-License-Identifier: Apache-2.0
import CSystemd
import ClusterTypes
#if canImport(Glibc)
import Glibc
#endif

/// Readiness, status and watchdog notifications to systemd (`sd_notify`). Without `NOTIFY_SOCKET` every call is a
/// no-op, so daemons run the same way by hand and under systemd.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// `READY=1` with a status line. Send only once the daemon can serve (for totemd: operational on a ring).
    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }

    /// `STATUS=` (one human-readable line, shown by `systemctl status`).
    public func status(_ text: String) { notify("STATUS=\(text)") }

    /// `STOPPING=1` at the start of a graceful shutdown.
    public func stopping() { notify("STOPPING=1") }

    /// `WATCHDOG=1`: call from the daemon's own loop, so it proves the loop is alive.
    public func watchdog() { notify("WATCHDOG=1") }

    /// The interval at which to send `WATCHDOG=1` (half of `WATCHDOG_USEC`), or nil if systemd expects none.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }

    /// True when systemd (or a test) listens for notifications.
    public var isEnabled: Bool { sd_booted() >= 0 && getNotifySocket() != nil }

    private func getNotifySocket() -> String? {
        guard let p = getenv("NOTIFY_SOCKET") else { return nil }
        return String(cString: p)
    }

    @discardableResult
    private func notify(_ state: String) -> Bool { sd_notify(0, state) > 0 }
}
