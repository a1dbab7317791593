// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
#if canImport(Glibc)
import Glibc
#endif

/// Why a group call failed.
public struct GroupError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let notRunning = Code(name: "groupd is not running")
        public static let tryAgain = Code(name: "try again")
        public static let exists = Code(name: "already a member")
        public static let notMember = Code(name: "not a member")
        public static let invalid = Code(name: "invalid request")
        public static let notReady = Code(name: "not ready")
        /// A join or leave of this handle is still pending (CS_ERR_BUSY).
        public static let busy = Code(name: "busy")
        public static let disconnected = Code(name: "disconnected")
        public static let failed = Code(name: "failed")
        public var description: String { name }
    }

    public var code: Code
    public var message: String
    public var description: String { message }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func from(_ e: IPCError) -> GroupError {
        switch e {
        case .notRunning: GroupError(.notRunning, e.description)
        case .tryAgain: GroupError(.tryAgain, e.description)
        case .peerGone: GroupError(.disconnected, e.description)
        default: GroupError(.failed, e.description)
        }
    }
}

/// A closed-process-group connection to the local groupd (libcpg's role).
///
/// Join groups, multicast to them (agreed order), and receive configuration changes and messages in virtual
/// synchrony. Events can be consumed three ways: from a poll loop (watch `eventFD`, then `dispatch()` calls
/// `onEvent` for each waiting event), by blocking in `nextEvent(timeoutMilliseconds:)`, or from async code through
/// `events` (an `AsyncSequence`). The connection is safe to use from one thread plus the `events` reader.
public final class GroupClient: @unchecked Sendable {
    private let ipc: IPCClient
    private let lock = Mutex()
    public let service: String
    /// Called by `dispatch()` for every event.
    public var onEvent: (GroupIPC.Event) -> Void = { _ in }

    public init(instance: NodeInstance) throws(GroupError) {
        service = instance.ipcName(ServiceName.groups)
        do { ipc = try IPCClient(service: service) } catch { throw .from(error) }
    }

    private func call(_ r: GroupIPC.Request) throws(GroupError) -> GroupIPC.Response {
        let reply: IPCReply
        do { reply = try lock.locked { () throws(IPCError) -> IPCReply in try ipc.call(messageID: r.messageID, body: r.body) } } catch {
            throw .from(error)
        }
        let response: GroupIPC.Response
        do { response = try GroupIPC.Response.decode(messageID: reply.messageID, body: reply.body) } catch {
            throw GroupError(.failed, "\(service) sent an undecodable reply: \(error)")
        }
        if case .refused(let why) = response {
            switch reply.status {
            case .exists: throw GroupError(.exists, why)
            case .notFound: throw GroupError(.notMember, why)
            case .notReady: throw GroupError(.notReady, why)
            case .busy: throw GroupError(.busy, why)
            case .tryAgain: throw GroupError(.tryAgain, why)
            default: throw GroupError(.invalid, why)
            }
        }
        return response
    }

    /// Joins `group` as this process; with `totemEvents`, totem configuration changes are delivered too.
    public func join(_ group: String, totemEvents: Bool = false) throws(GroupError) { _ = try call(.join(group: group, totemEvents: totemEvents)) }

    public func leave(_ group: String) throws(GroupError) { _ = try call(.leave(group: group)) }

    /// Multicasts to `group` in agreed order. Throws `.tryAgain` while the ring is saturated.
    public func multicast(_ group: String, _ payload: [UInt8]) throws(GroupError) {
        let r = GroupIPC.Request.mcast(group: group, payload: payload)
        do { try lock.locked { () throws(IPCError) in try ipc.send(messageID: r.messageID, body: r.body) } } catch { throw .from(error) }
    }

    public func members(of group: String) throws(GroupError) -> [GroupIPC.Address] {
        guard case .members(let m) = try call(.members(group: group)) else { throw GroupError(.failed, "unexpected reply") }
        return m
    }

    /// Every group in the cluster and its members.
    public func groups() throws(GroupError) -> [GroupIPC.GroupInfo] {
        guard case .groups(let g) = try call(.groups) else { throw GroupError(.failed, "unexpected reply") }
        return g
    }

    public func localNodeID() throws(GroupError) -> NodeID {
        guard case .nodeID(let n) = try call(.localNodeID) else { throw GroupError(.failed, "unexpected reply") }
        return n
    }

    /// The descriptor that becomes readable when events wait.
    public var eventFD: Int32? { ipc.eventFD }

    /// The next event within the timeout (0: poll, -1: wait), or nil.
    public func nextEvent(timeoutMilliseconds: Int32) throws(GroupError) -> GroupIPC.Event? {
        let raw: IPCEvent?
        if timeoutMilliseconds != 0, let fd = ipc.eventFD {
            // Wait outside the lock, so calls from another thread are not held up.
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, timeoutMilliseconds)
        }
        do { raw = try lock.locked { () throws(IPCError) -> IPCEvent? in try ipc.receiveEvent(timeoutMilliseconds: 0) } } catch {
            throw .from(error)
        }
        guard let raw else { return nil }
        do { return try GroupIPC.Event.decode(messageID: raw.messageID, body: raw.body) } catch {
            throw GroupError(.failed, "undecodable event \(raw.messageID): \(error)")
        }
    }

    /// Calls `onEvent` for every event waiting now; returns how many.
    @discardableResult
    public func dispatch() throws(GroupError) -> Int {
        var n = 0
        while let e = try nextEvent(timeoutMilliseconds: 0) {
            onEvent(e)
            n += 1
        }
        return n
    }

    /// The events as an asynchronous sequence; it ends when the connection does. Read it from one task only.
    public var events: AsyncThrowingStream<GroupIPC.Event, any Error> {
        AsyncThrowingStream { continuation in
            let reader = EventReader(client: self, continuation: continuation)
            continuation.onTermination = { _ in reader.cancel() }
            reader.start()
        }
    }

    public func close() { lock.locked { ipc.disconnect() } }
}

/// Reads events on its own thread and feeds an `AsyncThrowingStream`.
private final class EventReader: @unchecked Sendable {
    let client: GroupClient
    let continuation: AsyncThrowingStream<GroupIPC.Event, any Error>.Continuation
    private var cancelled = false
    private let lock = Mutex()

    init(client: GroupClient, continuation: AsyncThrowingStream<GroupIPC.Event, any Error>.Continuation) {
        self.client = client
        self.continuation = continuation
    }

    func cancel() { lock.locked { cancelled = true } }

    func start() {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { raw in
            let reader = Unmanaged<EventReader>.fromOpaque(raw!).takeRetainedValue()
            reader.loop()
            return nil
        }, box)
        pthread_detach(thread)
    }

    private func loop() {
        while !lock.locked({ cancelled }) {
            do {
                if let e = try client.nextEvent(timeoutMilliseconds: 100) { continuation.yield(e) }
            } catch {
                continuation.finish(throwing: error)
                return
            }
        }
        continuation.finish()
    }
}

/// A small pthread mutex.
final class Mutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
