// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol

/// Why a call to a cluster daemon failed: the one error type of the client library.
///
/// As in swift-nio and swift-service-lifecycle it is a struct with an opaque `Code`, so new codes can be added without
/// breaking anyone's `switch`. Each code names the libcpg / libcman result it corresponds to (`libraryName`), for
/// people porting code from those libraries.
public struct ClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The corosync/cman library result of the same meaning.
        public let libraryName: String
        init(_ name: String, _ libraryName: String) {
            self.name = name
            self.libraryName = libraryName
        }

        /// The daemon is not running on this node (or serves another instance).
        public static let notRunning = Code("the daemon is not running", "CS_ERR_LIBRARY")
        /// The daemon is busy (flow control, or a membership not settled yet): call again shortly.
        public static let tryAgain = Code("try again", "CS_ERR_TRY_AGAIN")
        /// Already a member, or already joining.
        public static let exists = Code("already exists", "CS_ERR_EXIST")
        /// Not a member of that group (or leaving it).
        public static let notMember = Code("not a member", "CS_ERR_NOT_EXIST")
        /// A join or leave of this handle is still pending.
        public static let busy = Code("busy", "CS_ERR_BUSY")
        /// The service is for root only.
        public static let accessDenied = Code("access denied", "CS_ERR_ACCESS")
        /// The daemon refused the request (the message says why: not quorate, a bad argument…).
        public static let refused = Code("refused", "CS_ERR_INVALID_PARAM")
        /// A message larger than the connection allows.
        public static let tooLarge = Code("too large", "CS_ERR_TOO_BIG")
        /// The daemon is not ready yet (it has not synchronised with the cluster).
        public static let notReady = Code("not ready", "CS_ERR_NOT_READY")
        /// No answer within the call's timeout.
        public static let timedOut = Code("timed out", "CS_ERR_TIMEOUT")
        /// The daemon went away; the connection is over.
        public static let disconnected = Code("disconnected", "CS_ERR_BAD_HANDLE")
        /// Anything else (a protocol error, a system error); the message has the detail.
        public static let failed = Code("failed", "CS_ERR_FAILED_OPERATION")

        public var description: String { name }
    }

    public var code: Code
    /// What happened, for a person.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// An IPC failure in the client library's terms.
    static func from(_ e: IPCError) -> ClusterError {
        switch e {
        case .notRunning: ClusterError(.notRunning, e.description)
        case .permissionDenied: ClusterError(.accessDenied, e.description)
        case .peerGone: ClusterError(.disconnected, e.description)
        case .messageTooLarge: ClusterError(.tooLarge, e.description)
        case .timedOut: ClusterError(.timedOut, e.description)
        case .tryAgain: ClusterError(.tryAgain, e.description)
        case .status(let s, _): ClusterError(code(for: s), e.description)
        case .protocolError, .addressInUse, .system: ClusterError(.failed, e.description)
        }
    }

    /// A daemon's refusal status in the client library's terms.
    static func code(for status: IPCStatus) -> Code {
        switch status {
        case .exists: .exists
        case .notFound: .notMember
        case .notReady: .notReady
        case .busy: .busy
        case .tryAgain: .tryAgain
        case .permissionDenied: .accessDenied
        case .tooLarge: .tooLarge
        case .timedOut: .timedOut
        case .internalError: .failed
        case .ok, .invalidRequest: .refused
        }
    }
}
