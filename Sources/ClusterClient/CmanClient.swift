// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes

/// A connection to the local quorumd: the libcman API (cman_init / cman_admin_init).
///
/// Use it from one thread (plus the `events` reader: the `IPCClient` underneath serialises them). Notifications (after `register`) arrive on `eventFD`; read them with
/// `nextNotification(timeoutMilliseconds:)` and answer a TRY_SHUTDOWN with `replyShutdown(allow:)`.
public final class CmanClient: @unchecked Sendable {  // one caller thread, plus the `events` reader (IPCClient serialises them)
    private let ipc: IPCClient
    public let service: String

    /// Connects to quorumd of `instance`; `admin` opens the root-only service the set/kill/leave calls need.
    public init(instance: NodeInstance, admin: Bool = false) throws(ClusterError) {
        service = instance.ipcName(admin ? ServiceName.quorumAdmin : ServiceName.quorum)
        do { ipc = try IPCClient(service: service) } catch { throw .from(error) }
    }

    private func call(_ request: CmanIPC.Request, timeoutMilliseconds: Int32 = 30_000) throws(ClusterError) -> CmanIPC.Response {
        let reply: IPCReply
        do { reply = try ipc.call(messageID: request.messageID, body: request.body, timeoutMilliseconds: timeoutMilliseconds) } catch {
            throw .from(error)
        }
        let response: CmanIPC.Response
        do { response = try CmanIPC.Response.decode(messageID: reply.messageID, body: reply.body) } catch {
            if reply.status != .ok { throw ClusterError(ClusterError.code(for: reply.status), "\(service) refused: \(reply.status)") }
            throw ClusterError(.failed, "\(service): undecodable reply: \(error)")
        }
        if case .refused(let why) = response { throw ClusterError(.refused, why) }
        return response
    }

    public func status() throws(ClusterError) -> CmanIPC.Status {
        guard case .status(let s) = try call(.status) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return s
    }

    public func nodes() throws(ClusterError) -> [CmanIPC.Node] {
        guard case .nodes(let n) = try call(.nodes) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return n
    }

    public func isQuorate() throws(ClusterError) -> Bool {
        guard case .quorate(let q) = try call(.isQuorate) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return q
    }

    /// Receive notifications (state changes, TRY_SHUTDOWN, config updates) under `name`.
    public func register(name: String) throws(ClusterError) { _ = try call(.register(name: name)) }

    /// Answers a TRY_SHUTDOWN notification (cman_replyto_shutdown).
    public func replyShutdown(allow: Bool) throws(ClusterError) {
        let r = CmanIPC.Request.replyShutdown(allow: allow)
        do { try ipc.send(messageID: r.messageID, body: r.body) } catch { throw .from(error) }
    }

    /// This daemon holds state (cman_set_dirty): a later rejoin of this node without a restart is Disallowed.
    public func setDirty() throws(ClusterError) { _ = try call(.setDirty) }

    public func setExpected(_ votes: UInt32) throws(ClusterError) { _ = try call(.setExpected(votes)) }

    /// Sets a node's votes (node 0: this node).
    public func setVotes(_ votes: UInt32, node: NodeID = NodeID(0)) throws(ClusterError) { _ = try call(.setVotes(node: node, votes: votes)) }

    public func kill(node: NodeID) throws(ClusterError) { _ = try call(.kill(node: node)) }

    /// Leaves the cluster after every registered client agrees (unless `force`); waits up to `timeoutMilliseconds`.
    public func leave(remove: Bool, force: Bool, timeoutMilliseconds: Int32 = 60_000) throws(ClusterError) {
        _ = try call(.leave(remove: remove, force: force), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Distributes the local cluster.conf (version 0: whatever version the file has) and waits for the outcome.
    public func reloadConfig(version: UInt64 = 0) throws(ClusterError) { _ = try call(.reloadConfig(version: version), timeoutMilliseconds: 60_000) }

    public func debug(_ on: Bool) throws(ClusterError) { _ = try call(.debug(on: on)) }

    /// Records that `node` was fenced at `wallClockSeconds` by `agent` (cman_node_fenced; fenced calls it, admin).
    public func nodeFenced(_ node: NodeID, wallClockSeconds: UInt64, agent: String) throws(ClusterError) {
        _ = try call(.nodeFenced(node: node, wallClockSeconds: wallClockSeconds, agent: agent))
    }

    /// The last fence of every node quorumd has a record of, ascending by node (cman_get_fenceinfo).
    public func fenceInfo() throws(ClusterError) -> [CmanIPC.FenceRecord] {
        guard case .fenceRecords(let list) = try call(.fenceInfo) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return list
    }

    /// The last fence of `node`, or nil if quorumd has none.
    public func fenceInfo(of node: NodeID) throws(ClusterError) -> CmanIPC.FenceRecord? { try fenceInfo().first { $0.node == node } }

    /// Listens on `port` (cman_start_recv_data): messages for it arrive through `nextEvent`.
    public func bind(port: UInt8) throws(ClusterError) { _ = try call(.bindPort(port)) }

    public func unbind(port: UInt8) throws(ClusterError) { _ = try call(.unbindPort(port)) }

    /// Sends `bytes` to `node`'s listeners on `port` (node 0: every node's).
    public func send(port: UInt8, to node: NodeID, bytes: [UInt8]) throws(ClusterError) {
        _ = try call(.sendData(port: port, node: node, bytes: bytes))
    }

    /// Whether `node` (0: this node) has a client listening on `port` (cman_is_listening).
    public func isListening(node: NodeID, port: UInt8) throws(ClusterError) -> Bool {
        guard case .quorate(let yes) = try call(.isListening(node: node, port: port)) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return yes
    }

    /// Waits at barrier `name` until `nodes` nodes (0: every member) arrive; fails if the membership changes first.
    public func barrier(_ name: String, nodes: UInt32, timeoutMilliseconds: Int32 = 60_000) throws(ClusterError) {
        _ = try call(.barrierWait(name: name, nodes: nodes), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The next event of any kind (notifications and port messages), if one arrives within the timeout.
    public func nextEvent(timeoutMilliseconds: Int32) throws(ClusterError) -> CmanIPC.Event? {
        do {
            guard let raw = try ipc.receiveEvent(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
            return try? CmanIPC.Event.decode(messageID: raw.messageID, body: raw.body) // an unknown event kind is skipped
        } catch {
            throw .from(error)
        }
    }

    public var eventFD: Int32? { ipc.eventFD }

    /// The next notification, if one arrives within the timeout.
    public func nextNotification(timeoutMilliseconds: Int32) throws(ClusterError) -> CmanIPC.Reason? {
        do {
            guard let raw = try ipc.receiveEvent(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
            guard case .notification(let reason) = try? CmanIPC.Event.decode(messageID: raw.messageID, body: raw.body) else { // other events: skip
                return nil
            }
            return reason
        } catch {
            throw .from(error)
        }
    }

    /// Called by `dispatch()` for every event.
    public var onEvent: (CmanIPC.Event) -> Void = { _ in }

    /// Calls `onEvent` for every event waiting now (after `eventFD` became readable in the caller's loop); returns
    /// how many.
    @discardableResult
    public func dispatch() throws(ClusterError) -> Int {
        try EventPump.drain({ () throws(ClusterError) in try nextEvent(timeoutMilliseconds: 0) }, into: onEvent)
    }

    /// Notifications and port messages as an asynchronous sequence, woken by the connection's readiness; it ends
    /// when quorumd goes away (as libcman's dispatch returning EHOSTDOWN). Read it from one task only.
    public var events: AsyncThrowingStream<CmanIPC.Event, any Error> {
        EventPump.events(fd: eventFD, service: service, label: "cluster.cman.events") { [self] () throws(ClusterError) in
            try nextEvent(timeoutMilliseconds: 0)
        }
    }

    public func close() { ipc.disconnect() }
}
