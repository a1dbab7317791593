// SPDX-License-Identifier: Apache-2.0

/// Exit codes of the daemons (sysexits where one fits), so systemd and tests can tell failures apart.
public enum DaemonExitCode: Int32, Sendable {
    case ok = 0
    case failure = 1
    case usage = 64
    /// The node or an address could not be found or bound.
    case unavailable = 69
    case software = 70
    /// Persisting state (the ring sequence) failed: fail-stop rather than risk reusing a ring id.
    case ioError = 74
    case configInvalid = 78
}
