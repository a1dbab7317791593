// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import ClusterWire
import Dispatch

/// A closed-process-group connection to the local groupd (libcpg's role).
///
/// Join groups, multicast to them (agreed order), and receive configuration changes and messages in virtual
/// synchrony. Events can be consumed three ways: from a poll loop (watch `eventFD`, then `dispatch()` calls
/// `onEvent` for each waiting event), by blocking in `nextEvent(timeoutMilliseconds:)`, or from async code through
/// `events` (an `AsyncSequence`). The connection is safe to use from one thread plus the `events` reader (the
/// `IPCClient` underneath serialises them).
public final class GroupClient: @unchecked Sendable {
    private let ipc: IPCClient
    public let service: String
    /// Called by `dispatch()` for every event.
    public var onEvent: (GroupIPC.Event) -> Void = { _ in }

    public init(instance: NodeInstance) throws(ClusterError) {
        service = instance.ipcName(ServiceName.groups)
        // Multicasts wait ("try again") while groupd is more than a little behind, instead of filling libqb's 1 MiB
        // request ring and spinning on its notification socket.
        do { ipc = try IPCClient(service: service, sendAhead: .groupClient) } catch { throw .from(error) }
    }

    private func call(_ r: GroupIPC.Request) throws(ClusterError) -> GroupIPC.Response {
        let reply: IPCReply
        do { reply = try ipc.call(messageID: r.messageID, body: r.body) } catch {
            throw .from(error)
        }
        let response: GroupIPC.Response
        do { response = try GroupIPC.Response.decode(messageID: reply.messageID, body: reply.body) } catch {
            throw ClusterError(.failed, "\(service) sent an undecodable reply: \(error)")
        }
        if case .refused(let why) = response { throw ClusterError(ClusterError.code(for: reply.status), why) }
        return response
    }

    /// Joins `group` as this process; with `totemEvents`, totem configuration changes are delivered too.
    public func join(_ group: String, totemEvents: Bool = false) throws(ClusterError) { _ = try call(.join(group: group, totemEvents: totemEvents)) }

    public func leave(_ group: String) throws(ClusterError) { _ = try call(.leave(group: group)) }

    /// Multicasts to `group` in agreed order. Throws `.tryAgain` while the ring is saturated, and while groupd has not
    /// yet read 192 of this connection's requests or 64 KiB of them (`SendAhead.groupClient`): wait, then send again.
    public func multicast(_ group: String, _ payload: [UInt8]) throws(ClusterError) {
        let r = GroupIPC.Request.mcast(group: group, payload: payload)
        // Sized up front: the default writer grew (a second allocation) for any payload over about 50 bytes.
        var w = ByteWriter(capacity: 12 + group.utf8.count + payload.count)
        r.encodeBody(into: &w)
        do { try ipc.send(messageID: r.messageID, body: w.take()) } catch { throw .from(error) }
    }

    public func members(of group: String) throws(ClusterError) -> [GroupIPC.Address] {
        guard case .members(let m) = try call(.members(group: group)) else { throw ClusterError(.failed, "unexpected reply") }
        return m
    }

    /// Every group in the cluster and its members.
    public func groups() throws(ClusterError) -> [GroupIPC.GroupInfo] {
        guard case .groups(let g) = try call(.groups) else { throw ClusterError(.failed, "unexpected reply") }
        return g
    }

    public func localNodeID() throws(ClusterError) -> NodeID {
        guard case .nodeID(let n) = try call(.localNodeID) else { throw ClusterError(.failed, "unexpected reply") }
        return n
    }

    /// The descriptor that becomes readable when events wait.
    public var eventFD: Int32? { ipc.eventFD }

    /// The next event within the timeout (0: poll, -1: wait), or nil.
    public func nextEvent(timeoutMilliseconds: Int32) throws(ClusterError) -> GroupIPC.Event? {
        // IPCClient waits outside its lock, so calls from another thread are not held up; an undecodable event
        // throws `.failed` naming it.
        do { return try ipc.receiveEvent(GroupIPC.Event.self, timeoutMilliseconds: timeoutMilliseconds) } catch { throw .from(error) }
    }

    /// Calls `onEvent` for every event waiting now; returns how many.
    @discardableResult
    public func dispatch() throws(ClusterError) -> Int {
        try EventPump.drain({ () throws(ClusterError) in try nextEvent(timeoutMilliseconds: 0) }, into: onEvent)
    }

    /// The events as an asynchronous sequence; it ends when the connection does. Read it from one task only.
    ///
    /// It wakes on the connection's readiness (a dispatch read source on `eventFD`), not on a timer; a program
    /// with its own loop can instead watch `eventFD` and call `dispatch()`.
    public var events: AsyncThrowingStream<GroupIPC.Event, any Error> {
        EventPump.events(fd: eventFD, service: service, label: "cluster.groups.events") { [self] () throws(ClusterError) in
            try nextEvent(timeoutMilliseconds: 0)
        }
    }

    public func close() { ipc.disconnect() }
}
