// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes

/// A connection to the local quorumd: the libcman API (cman_init / cman_admin_init).
///
/// Use it from one thread. Notifications (after `register`) arrive on `eventFD`; read them with
/// `nextNotification(timeoutMilliseconds:)` and answer a TRY_SHUTDOWN with `replyShutdown(allow:)`.
public final class CmanClient {
    private let ipc: IPCClient
    public let service: String

    /// Connects to quorumd of `instance`; `admin` opens the root-only service the set/kill/leave calls need.
    public init(instance: NodeInstance, admin: Bool = false) throws(IPCError) {
        service = instance.ipcName(admin ? ServiceName.quorumAdmin : ServiceName.quorum)
        ipc = try IPCClient(service: service)
    }

    private func call(_ request: CmanIPC.Request, timeoutMilliseconds: Int32 = 30_000) throws(CmanError) -> CmanIPC.Response {
        let reply: IPCReply
        do { reply = try ipc.call(messageID: request.messageID, body: request.body, timeoutMilliseconds: timeoutMilliseconds) } catch {
            throw .ipc(error)
        }
        let response: CmanIPC.Response
        do { response = try CmanIPC.Response.decode(messageID: reply.messageID, body: reply.body) } catch {
            if reply.status != .ok { throw .refused(reply.status.description) }
            throw .ipc(.protocolError("\(service): undecodable reply: \(error)"))
        }
        if case .refused(let why) = response { throw .refused(why) }
        return response
    }

    public func status() throws(CmanError) -> CmanIPC.Status {
        guard case .status(let s) = try call(.status) else { throw .ipc(.protocolError("unexpected reply")) }
        return s
    }

    public func nodes() throws(CmanError) -> [CmanIPC.Node] {
        guard case .nodes(let n) = try call(.nodes) else { throw .ipc(.protocolError("unexpected reply")) }
        return n
    }

    public func isQuorate() throws(CmanError) -> Bool {
        guard case .quorate(let q) = try call(.isQuorate) else { throw .ipc(.protocolError("unexpected reply")) }
        return q
    }

    /// Receive notifications (state changes, TRY_SHUTDOWN, config updates) under `name`.
    public func register(name: String) throws(CmanError) { _ = try call(.register(name: name)) }

    /// Answers a TRY_SHUTDOWN notification (cman_replyto_shutdown).
    public func replyShutdown(allow: Bool) throws(CmanError) {
        let r = CmanIPC.Request.replyShutdown(allow: allow)
        do { try ipc.send(messageID: r.messageID, body: r.body) } catch { throw .ipc(error) }
    }

    /// This daemon holds state (cman_set_dirty): a later rejoin of this node without a restart is Disallowed.
    public func setDirty() throws(CmanError) { _ = try call(.setDirty) }

    public func setExpected(_ votes: UInt32) throws(CmanError) { _ = try call(.setExpected(votes)) }

    /// Sets a node's votes (node 0: this node).
    public func setVotes(_ votes: UInt32, node: NodeID = NodeID(0)) throws(CmanError) { _ = try call(.setVotes(node: node, votes: votes)) }

    public func kill(node: NodeID) throws(CmanError) { _ = try call(.kill(node: node)) }

    /// Leaves the cluster after every registered client agrees (unless `force`); waits up to `timeoutMilliseconds`.
    public func leave(remove: Bool, force: Bool, timeoutMilliseconds: Int32 = 60_000) throws(CmanError) {
        _ = try call(.leave(remove: remove, force: force), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Distributes the local cluster.conf (version 0: whatever version the file has) and waits for the outcome.
    public func reloadConfig(version: UInt64 = 0) throws(CmanError) { _ = try call(.reloadConfig(version: version), timeoutMilliseconds: 60_000) }

    public func debug(_ on: Bool) throws(CmanError) { _ = try call(.debug(on: on)) }

    /// Listens on `port` (cman_start_recv_data): messages for it arrive through `nextEvent`.
    public func bind(port: UInt8) throws(CmanError) { _ = try call(.bindPort(port)) }

    public func unbind(port: UInt8) throws(CmanError) { _ = try call(.unbindPort(port)) }

    /// Sends `bytes` to `node`'s listeners on `port` (node 0: every node's).
    public func send(port: UInt8, to node: NodeID, bytes: [UInt8]) throws(CmanError) {
        _ = try call(.sendData(port: port, node: node, bytes: bytes))
    }

    /// Whether `node` (0: this node) has a client listening on `port` (cman_is_listening).
    public func isListening(node: NodeID, port: UInt8) throws(CmanError) -> Bool {
        guard case .quorate(let yes) = try call(.isListening(node: node, port: port)) else { throw .ipc(.protocolError("unexpected reply")) }
        return yes
    }

    /// Waits at barrier `name` until `nodes` nodes (0: every member) arrive; fails if the membership changes first.
    public func barrier(_ name: String, nodes: UInt32, timeoutMilliseconds: Int32 = 60_000) throws(CmanError) {
        _ = try call(.barrierWait(name: name, nodes: nodes), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The next event of any kind (notifications and port messages), if one arrives within the timeout.
    public func nextEvent(timeoutMilliseconds: Int32) throws(CmanError) -> CmanIPC.Event? {
        do {
            guard let raw = try ipc.receiveEvent(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
            return try? CmanIPC.Event.decode(messageID: raw.messageID, body: raw.body) // an unknown event kind is skipped
        } catch {
            throw .ipc(error)
        }
    }

    public var eventFD: Int32? { ipc.eventFD }

    /// The next notification, if one arrives within the timeout.
    public func nextNotification(timeoutMilliseconds: Int32) throws(CmanError) -> CmanIPC.Reason? {
        do {
            guard let raw = try ipc.receiveEvent(timeoutMilliseconds: timeoutMilliseconds) else { return nil }
            guard case .notification(let reason) = try? CmanIPC.Event.decode(messageID: raw.messageID, body: raw.body) else { // other events: skip
                return nil
            }
            return reason
        } catch {
            throw .ipc(error)
        }
    }

    public func close() { ipc.disconnect() }
}

/// Why a cman call failed.
public enum CmanError: Error, Sendable, CustomStringConvertible, Equatable {
    case ipc(IPCError)
    /// quorumd refused, with the reason.
    case refused(String)

    public var description: String {
        switch self {
        case .ipc(let e): e.description
        case .refused(let why): why
        }
    }
}
