// SPDX-License-Identifier: Apache-2.0

/// The outcome a daemon reports in every IPC response header.
///
/// Values are stable on the wire: add new cases at the end, never renumber.
public enum IPCStatus: Int32, Sendable, Hashable, CustomStringConvertible {
    case ok = 0
    /// The request could not be decoded or names an unknown operation.
    case invalidRequest = 1
    /// The caller may not do this (not root, or not on the admin service).
    case permissionDenied = 2
    /// Temporarily impossible (flow control, membership change in progress): retry later.
    case tryAgain = 3
    /// The thing named does not exist.
    case notFound = 4
    /// It already exists (a second join of the same group, say).
    case exists = 5
    /// Refused by another party (a client said no to shutdown, for example).
    case busy = 6
    /// The daemon is not in a state to do this (not quorate, not yet operational).
    case notReady = 7
    /// The payload exceeds the limit for this request.
    case tooLarge = 8
    /// The daemon hit an internal error; the message says which.
    case internalError = 9
    /// The operation did not finish in time.
    case timedOut = 10

    public var description: String {
        switch self {
        case .ok: "ok"
        case .invalidRequest: "invalid request"
        case .permissionDenied: "permission denied"
        case .tryAgain: "try again"
        case .notFound: "not found"
        case .exists: "already exists"
        case .busy: "busy"
        case .notReady: "not ready"
        case .tooLarge: "message too large"
        case .internalError: "internal error"
        case .timedOut: "timed out"
        }
    }
}
