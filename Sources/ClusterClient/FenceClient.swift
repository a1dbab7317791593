// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes

/// A connection to the local fenced: the fence domain's state, and the events that say a failed node has been
/// fenced. A daemon that takes over a failed node's work (rgmanager, a control daemon) waits for `fenced(node)`
/// (or sees the node's `lastFenceTime` move past the failure) before it does: until then the node may still be
/// writing to shared storage.
///
/// The domain-changing calls (`join`, `leave`, `acknowledge`, `reportExternallyFenced`) need `admin` (root).
public final class FenceClient: @unchecked Sendable {  // one caller thread, plus the `events` reader (IPCClient serialises them)
    private let ipc: IPCClient
    public let service: String
    /// Called by `dispatch()` for every event.
    public var onEvent: (FenceIPC.Event) -> Void = { _ in }

    public init(instance: NodeInstance, admin: Bool = false) throws(ClusterError) {
        service = instance.ipcName(admin ? ServiceName.fenceAdmin : ServiceName.fence)
        do { ipc = try IPCClient(service: service) } catch { throw .from(error) }
    }

    private func call(_ request: FenceIPC.Request, timeoutMilliseconds: Int32 = 30_000) throws(ClusterError) -> FenceIPC.Response {
        let reply: IPCReply
        do { reply = try ipc.call(messageID: request.messageID, body: request.body, timeoutMilliseconds: timeoutMilliseconds) } catch {
            throw .from(error)
        }
        let response: FenceIPC.Response
        do { response = try FenceIPC.Response.decode(messageID: reply.messageID, body: reply.body) } catch {
            if reply.status != .ok { throw ClusterError(ClusterError.code(for: reply.status), "\(service) refused: \(reply.status)") }
            throw ClusterError(.failed, "\(service): undecodable reply: \(error)")
        }
        if case .refused(let why) = response { throw ClusterError(.refused, why) }
        return response
    }

    /// The domain as this node's fenced sees it.
    public func domain() throws(ClusterError) -> FenceIPC.Domain {
        guard case .domain(let d) = try call(.status) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return d
    }

    /// What the domain knows of `node`'s last failure (nil if it never knew the node).
    public func lastFence(of node: NodeID) throws(ClusterError) -> FenceIPC.NodeState? {
        try domain().nodes.first { $0.node == node }
    }

    /// Asks for `victim` and `fenced` events on this connection.
    public func subscribe() throws(ClusterError) { _ = try call(.subscribe) }

    /// Joins the fence domain: returns once the join is under way (after this node's `<unfence>` devices, if any,
    /// succeeded, which can take up to their agents' timeouts), or throws `.refused` with the reason it failed.
    public func join(timeoutMilliseconds: Int32 = 30_000) throws(ClusterError) {
        _ = try call(.join, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Leaves the fence domain cleanly (this node does not become a victim); returns once the leave is under way.
    public func leave() throws(ClusterError) { _ = try call(.leave) }

    /// fenced's recent log lines, oldest first (`fence_tool dump`).
    public func dump() throws(ClusterError) -> String {
        guard case .text(let t) = try call(.dump) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return t
    }
    /// The operator's override for a victim that cannot be fenced (`fence_ack_manual`).
    public func acknowledge(_ node: NodeID) throws(ClusterError) { _ = try call(.acknowledge(node: node)) }
    /// Tells fenced that `fence_node` fenced `node` with `agent`, so the domain settles it.
    public func reportExternallyFenced(_ node: NodeID, agent: String) throws(ClusterError) {
        _ = try call(.externallyFenced(node: node, agent: agent))
    }

    /// The next event within the timeout, or nil.
    public func nextEvent(timeoutMilliseconds: Int32) throws(ClusterError) -> FenceIPC.Event? {
        do {
            guard let raw = try ipc.receiveEvent(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
            return try? FenceIPC.Event.decode(messageID: raw.messageID, body: raw.body) // an unknown event kind is skipped
        } catch {
            throw .from(error)
        }
    }

    /// The descriptor that becomes readable when events wait (for the caller's own loop).
    public var eventFD: Int32? { ipc.eventFD }

    /// Calls `onEvent` for every event waiting now; returns how many.
    @discardableResult
    public func dispatch() throws(ClusterError) -> Int {
        try EventPump.drain({ () throws(ClusterError) in try nextEvent(timeoutMilliseconds: 0) }, into: onEvent)
    }

    /// The events as an asynchronous sequence (after `subscribe()`), woken by the connection's readiness; it ends
    /// when fenced goes away.
    public var events: AsyncThrowingStream<FenceIPC.Event, any Error> {
        EventPump.events(fd: eventFD, service: service, label: "cluster.fence.events") { [self] () throws(ClusterError) in
            try nextEvent(timeoutMilliseconds: 0)
        }
    }

    public func close() { ipc.disconnect() }
}
