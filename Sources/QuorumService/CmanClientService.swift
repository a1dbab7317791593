// SPDX-License-Identifier: Apache-2.0
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterTypes
import QuorumCore

/// quorumd's IPC side: the libcman calls, notifications to registered clients, port messages and barriers. The
/// decisions (requests, registrations, the staged shutdown) are the core's; a connection is a `Quorum.Client` handle
/// there, and this service maps handles back to connections to carry out what the core decided.
final class CmanClientService: IPCServiceHandler {
    unowned let daemon: QuorumDaemon
    private var connections: [Quorum.Client: IPCConnection] = [:]
    private var ports: [Quorum.Client: Set<UInt8>] = [:]
    private var barrierWaiters: [String: [IPCConnection]] = [:]

    init(daemon: QuorumDaemon) { self.daemon = daemon }

    /// The core's handle for a connection: its id, with the top bit set on the admin service (each server numbers
    /// its connections from 1, so the two would collide).
    func handle(of c: IPCConnection) -> Quorum.Client { c.server === daemon.adminServer ? c.id | (1 << 63) : c.id }

    func connected(_ c: IPCConnection) { connections[handle(of: c)] = c }

    func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        let request: CmanIPC.Request
        do { request = try CmanIPC.Request.decode(messageID: messageID, body: body) } catch {
            daemon.logger.warning("client pid \(c.pid) sent an invalid request \(messageID): \(error)")
            if CmanIPC.Request.expectsReply(messageID: messageID) { c.respond(messageID: messageID, status: .invalidRequest) }
            return
        }
        if request.isAdmin && c.server !== daemon.adminServer {
            c.respond(CmanIPC.Response.refused("this call needs the admin service (root)"), status: .permissionDenied)
            return
        }
        let h = handle(of: c)
        switch request {
        case .status: c.respond(CmanIPC.Response.status(daemon.status()))
        case .nodes: c.respond(CmanIPC.Response.nodes(daemon.nodeList()))
        case .isQuorate: c.respond(CmanIPC.Response.quorate(daemon.core.isQuorate))
        case .register(let name):
            daemon.driver.feed(.clientRegistered(h, name: name.isEmpty ? "pid \(c.pid)" : "\(name) (pid \(c.pid))"))
            c.respond(CmanIPC.Response.done)
        case .replyShutdown(let allow):
            daemon.driver.feed(.shutdownReply(h, allow: allow))
        case .setDirty:
            daemon.driver.feed(.setDirty)
            c.respond(CmanIPC.Response.done)
        case .setExpected(let n): respond(c, daemon.request(.setExpected(n)))
        case .setVotes(let node, let votes):
            respond(c, daemon.request(.setVotes(node: node.rawValue == 0 ? daemon.core.nodeID : node, votes: votes)))
        case .kill(let node): respond(c, daemon.request(.kill(node)))
        case .leave(let remove, let force):
            // Answered by the core's `leaveAnswered`, once the registered clients agreed and the node is leaving.
            daemon.driver.feed(.shutdownRequested(by: h, remove: remove, force: force))
        case .reloadConfig(let version): reload(c, version: version)
        case .bindPort(let port):
            ports[h, default: []].insert(port)
            updatePorts()
            c.respond(CmanIPC.Response.done)
        case .unbindPort(let port):
            ports[h]?.remove(port)
            updatePorts()
            c.respond(CmanIPC.Response.done)
        case .sendData(let port, let node, let bytes):
            respond(c, daemon.request(.sendData(port: port, to: node, bytes: bytes)))
        case .isListening(let node, let port):
            let target = node.rawValue == 0 ? daemon.core.nodeID : node
            c.respond(CmanIPC.Response.quorate(Quorum.isListening(daemon.core.nodes, node: target, port: port)))
        case .barrierWait(let name, let nodes):
            if case .refused(let why) = daemon.request(.barrierWait(name: name, expected: nodes)) {
                c.respond(CmanIPC.Response.refused(why), status: .busy)
            } else {
                barrierWaiters[name, default: []].append(c)
            }
        case .debug(let on):
            daemon.logger.notice("debug logging \(on ? "on" : "off") by request of pid \(c.pid)")
            ClusterLogging.setDebug(on)
            c.respond(CmanIPC.Response.done)
        }
    }

    private func respond(_ c: IPCConnection, _ result: Quorum.RequestResult) {
        switch result {
        case .refused(let why): c.respond(CmanIPC.Response.refused(why), status: .busy)
        case .accepted: c.respond(CmanIPC.Response.done)
        }
    }

    func disconnected(_ c: IPCConnection) {
        let h = handle(of: c)
        connections[h] = nil
        if ports.removeValue(forKey: h) != nil { updatePorts() }
        daemon.driver.feed(.clientGone(h))
    }

    private func updatePorts() {
        daemon.driver.feed(.localPorts(ports.values.reduce(into: Set<UInt8>()) { $0.formUnion($1) }))
    }

    // MARK: - What the core decided

    /// Hands a port message to the local clients listening on its port.
    func deliver(from: NodeID, port: UInt8, bytes: [UInt8]) {
        let event = CmanIPC.Event.data(from: from, port: port, bytes: bytes)
        for (h, p) in ports.sorted(by: { $0.key < $1.key }) where p.contains(port) { connections[h]?.sendEvent(event) }
    }

    func barrierDone(_ name: String, failure: String?) {
        for c in barrierWaiters.removeValue(forKey: name) ?? [] {
            c.respond(failure.map { CmanIPC.Response.refused("barrier \(name): \($0)") } ?? .done, status: failure == nil ? .ok : .busy)
        }
    }

    /// Notifies every registered client.
    func notifyAll(_ reason: CmanIPC.Reason) {
        for h in daemon.core.registeredClients { notify(h, reason) }
    }

    func notify(_ client: Quorum.Client, _ reason: CmanIPC.Reason) {
        connections[client]?.sendEvent(CmanIPC.Event.notification(reason))
    }

    /// The answer to a `cman_tool leave` (nothing if its connection has gone).
    func answerLeave(_ client: Quorum.Client, _ result: Quorum.RequestResult) {
        guard let c = connections[client] else { return }
        respond(c, result)
    }

    // MARK: - Config reload (cman_tool version -r)

    private func reload(_ c: IPCConnection, version: UInt64) {
        let path = daemon.runner.instance.configPath
        let loaded = ConfigReader.read(path)
        guard let config = loaded.config else {
            c.respond(CmanIPC.Response.refused("\(path) is not valid: \(loaded.problems)"), status: .invalidRequest)
            return
        }
        if version != 0 && config.configVersion != version {
            c.respond(CmanIPC.Response.refused("\(path) has config_version \(config.configVersion), not \(version)"), status: .invalidRequest)
            return
        }
        guard daemon.pendingReload == nil else {
            c.respond(CmanIPC.Response.refused("another configuration is being distributed"), status: .busy)
            return
        }
        switch daemon.request(.proposeConfig(version: config.configVersion, bytes: loaded.bytes)) {
        case .refused(let why): c.respond(CmanIPC.Response.refused(why), status: .busy)
        case .accepted: daemon.pendingReload = (c, config.configVersion)
        }
    }
}
