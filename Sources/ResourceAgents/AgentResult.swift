// SPDX-License-Identifier: Apache-2.0

/// How one agent call ended: the OCF exit code mapped to a name, or why there is none.
public enum AgentResult: Sendable, Hashable, CustomStringConvertible {
    /// The agent exited with `code` (OCF meaning in `ocf`).
    case exited(Int32)
    /// The agent ran past its timeout and was terminated (SIGTERM, then SIGKILL).
    case timedOut
    /// The agent died of a signal it did not get from us.
    case signalled(Int32)
    /// The agent could not be started at all (not installed, not executable).
    case notStarted(String)

    /// The OCF return codes (REFERENCE §3); 190/191 are pacemaker's degraded codes.
    public enum OCFCode: Int32, Sendable, Hashable {
        case success = 0
        case errGeneric = 1
        case errArgs = 2
        case errUnimplemented = 3
        case errPerm = 4
        case errInstalled = 5
        case errConfigured = 6
        case notRunning = 7
        case runningPromoted = 8
        case failedPromoted = 9
        case degraded = 190
        case degradedPromoted = 191

        /// OCF's symbolic name.
        public var name: String {
            switch self {
            case .success: "OCF_SUCCESS"
            case .errGeneric: "OCF_ERR_GENERIC"
            case .errArgs: "OCF_ERR_ARGS"
            case .errUnimplemented: "OCF_ERR_UNIMPLEMENTED"
            case .errPerm: "OCF_ERR_PERM"
            case .errInstalled: "OCF_ERR_INSTALLED"
            case .errConfigured: "OCF_ERR_CONFIGURED"
            case .notRunning: "OCF_NOT_RUNNING"
            case .runningPromoted: "OCF_RUNNING_PROMOTED"
            case .failedPromoted: "OCF_FAILED_PROMOTED"
            case .degraded: "OCF_DEGRADED"
            case .degradedPromoted: "OCF_DEGRADED_PROMOTED"
            }
        }
    }

    /// The OCF code, when the agent exited with a known one.
    public var ocf: OCFCode? { if case .exited(let c) = self { OCFCode(rawValue: c) } else { nil } }

    /// True when the action did what was asked: exit 0 (a status check that finds the resource running; a stop of
    /// a stopped resource), or a degraded-but-running status.
    public var succeeded: Bool {
        switch ocf {
        case .success, .degraded, .runningPromoted, .degradedPromoted: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .exited(let c): OCFCode(rawValue: c).map { "\($0.name) (\(c))" } ?? "exit \(c)"
        case .timedOut: "timed out"
        case .signalled(let s): "killed by signal \(s)"
        case .notStarted(let why): "not started: \(why)"
        }
    }
}
