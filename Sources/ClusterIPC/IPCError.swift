// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Why an IPC call failed, in terms an operator can act on.
public enum IPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nobody serves this name: the daemon is not running (or runs as another instance).
    case notRunning(service: String)
    /// The daemon refused the connection: only root may use this service.
    case permissionDenied(service: String)
    /// The daemon went away during the call.
    case peerGone(service: String)
    /// The message is larger than the connection allows.
    case messageTooLarge(size: Int, limit: Int)
    /// No reply within the timeout.
    case timedOut(service: String, milliseconds: Int)
    /// The server is applying flow control; try again later.
    case tryAgain
    /// The daemon answered with a status other than ok.
    case status(IPCStatus, service: String)
    /// The reply could not be understood.
    case protocolError(String)
    /// The server's name is already in use by another process.
    case addressInUse(String)
    /// Any other system error.
    case system(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notRunning(let s): "cannot connect to \(s): the daemon is not running"
        case .permissionDenied(let s): "cannot connect to \(s): permission denied (this service is for root only)"
        case .peerGone(let s): "\(s) went away during the call"
        case .messageTooLarge(let size, let limit): "message of \(size) bytes exceeds the limit of \(limit) bytes"
        case .timedOut(let s, let ms): "\(s) did not answer within \(ms) ms"
        case .tryAgain: "the daemon is busy (flow control); try again"
        case .status(let st, let s): "\(s) refused the request: \(st)"
        case .protocolError(let m): "protocol error: \(m)"
        case .addressInUse(let s): "IPC service \(s) is already served by another process"
        case .system(let op, let e): "\(op): \(String(cString: strerror(e)))"
        }
    }

    /// The error for a failed connect, from errno.
    static func connectFailure(service: String, errno e: Int32) -> IPCError {
        switch e {
        case ECONNREFUSED, ENOENT: .notRunning(service: service)
        case EACCES, EPERM: .permissionDenied(service: service)
        default: .system(operation: "connect to \(service)", errno: e)
        }
    }
}
