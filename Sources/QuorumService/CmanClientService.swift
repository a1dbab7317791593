// SPDX-License-Identifier: Apache-2.0
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterTypes
import QuorumCore

/// quorumd's IPC side: the libcman calls, notifications to registered clients, and the staged shutdown that asks
/// every registered client before this node leaves.
final class CmanClientService: IPCServiceHandler {
    unowned let daemon: QuorumDaemon
    private var registered: [UInt64: (connection: IPCConnection, name: String)] = [:]
    private var shutdown: Shutdown?
    private var ports: [UInt64: Set<UInt8>] = [:]
    private var portConnections: [UInt64: IPCConnection] = [:]
    private var barrierWaiters: [String: [IPCConnection]] = [:]
    private var fences = FenceRecords()

    /// A `cman_tool leave` (or a SIGTERM, with no requester) collecting answers from registered clients.
    private struct Shutdown {
        var requester: IPCConnection?
        var remove: Bool
        var waiting: [UInt64: String]
        var refused: [String]
        var timer: EventLoop.Timer?
    }

    init(daemon: QuorumDaemon) { self.daemon = daemon }

    /// A connection's key in the tables above. The client and admin services number their connections alike, so
    /// the admin service's keys get the top bit: otherwise an admin connection closing would drop the registration
    /// of the client connection with the same number (fenced registers on the admin service).
    private func key(_ c: IPCConnection) -> UInt64 { c.server === daemon.adminServer ? c.id | 1 << 63 : c.id }

    /// Registered clients (cman_tool status shows them as active subsystems).
    var subsystemCount: Int { registered.count }

    func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        let request: CmanIPC.Request
        do { request = try CmanIPC.Request.decode(messageID: messageID, body: body) } catch {
            daemon.logger.warning("client pid \(c.pid) sent an invalid request \(messageID): \(error)")
            if messageID != 5 { c.respond(messageID: messageID, status: .invalidRequest) }
            return
        }
        let onAdmin = c.server === daemon.adminServer
        if request.isAdmin && !onAdmin {
            c.respond(CmanIPC.Response.refused("this call needs the admin service (root)"), status: .permissionDenied)
            return
        }
        switch request {
        case .status: c.respond(CmanIPC.Response.status(daemon.status()))
        case .nodes: c.respond(CmanIPC.Response.nodes(daemon.nodeList()))
        case .isQuorate: c.respond(CmanIPC.Response.quorate(daemon.core.isQuorate))
        case .register(let name):
            registered[key(c)] = (c, name.isEmpty ? "pid \(c.pid)" : "\(name) (pid \(c.pid))")
            c.respond(CmanIPC.Response.done)
        case .replyShutdown(let allow):
            answerShutdown(from: c, allow: allow)
        case .setDirty:
            daemon.feed(.setDirty)
            c.respond(CmanIPC.Response.done)
        case .setExpected(let n): respond(c, daemon.feed(.request(.setExpected(n))))
        case .setVotes(let node, let votes):
            respond(c, daemon.feed(.request(.setVotes(node: node.rawValue == 0 ? daemon.core.nodeID : node, votes: votes))))
        case .kill(let node): respond(c, daemon.feed(.request(.kill(node))))
        case .leave(let remove, let force): leave(c, remove: remove, force: force)
        case .reloadConfig(let version): reload(c, version: version)
        case .bindPort(let port):
            ports[key(c), default: []].insert(port)
            portConnections[key(c)] = c
            updatePorts()
            c.respond(CmanIPC.Response.done)
        case .unbindPort(let port):
            ports[key(c)]?.remove(port)
            updatePorts()
            c.respond(CmanIPC.Response.done)
        case .sendData(let port, let node, let bytes):
            respond(c, daemon.feed(.request(.sendData(port: port, to: node, bytes: bytes))))
        case .isListening(let node, let port):
            let target = node.rawValue == 0 ? daemon.core.nodeID : node
            c.respond(CmanIPC.Response.quorate(Quorum.isListening(daemon.core.nodes, node: target, port: port)))
        case .barrierWait(let name, let nodes):
            if case .refused(let why) = daemon.feed(.request(.barrierWait(name: name, expected: nodes))) {
                c.respond(CmanIPC.Response.refused(why), status: .busy)
            } else {
                barrierWaiters[name, default: []].append(c)
            }
        case .nodeFenced(let node, let seconds, let agent):
            let r = CmanIPC.FenceRecord(node: node, wallClockSeconds: seconds, agent: agent)
            guard fences.record(r) else {
                c.respond(CmanIPC.Response.refused("already \(CmanIPC.FenceRecord.recordsMax) nodes' fences recorded"), status: .tooLarge)
                return
            }
            daemon.logger.info("node \(node) fenced at \(seconds) by \(agent) (reported by pid \(c.pid))")
            c.respond(CmanIPC.Response.done)
        case .fenceInfo:
            c.respond(CmanIPC.Response.fenceRecords(fences.all))
        case .debug(let on):
            daemon.logger.notice("debug logging \(on ? "on" : "off") by request of pid \(c.pid)")
            ClusterLogging.setDebug(on)
            c.respond(CmanIPC.Response.done)
        }
    }

    private func respond(_ c: IPCConnection, _ result: Quorum.RequestResult?) {
        switch result {
        case .refused(let why): c.respond(CmanIPC.Response.refused(why), status: .busy)
        default: c.respond(CmanIPC.Response.done)
        }
    }

    func disconnected(_ c: IPCConnection) {
        registered[key(c)] = nil
        if ports.removeValue(forKey: key(c)) != nil { updatePorts() }
        portConnections[key(c)] = nil
        if var s = shutdown, let name = s.waiting.removeValue(forKey: key(c)) {
            // A client stopping at the same time as the node (poweroff) no longer holds anything: only a
            // `cman_tool leave` insists on an answer.
            if s.requester != nil { s.refused.append("\(name) went away without answering") }
            shutdown = s
            finishShutdownIfAnswered()
        }
    }

    private func updatePorts() {
        daemon.feed(.localPorts(ports.values.reduce(into: Set<UInt8>()) { $0.formUnion($1) }))
    }

    /// Hands a port message to the local clients listening on its port.
    func deliver(from: NodeID, port: UInt8, bytes: [UInt8]) {
        let event = CmanIPC.Event.data(from: from, port: port, bytes: bytes)
        for (id, p) in ports.sorted(by: { $0.key < $1.key }) where p.contains(port) { portConnections[id]?.sendEvent(event) }
    }

    func barrierDone(_ name: String, failure: String?) {
        for c in barrierWaiters.removeValue(forKey: name) ?? [] {
            c.respond(failure.map { CmanIPC.Response.refused("barrier \(name): \($0)") } ?? .done, status: failure == nil ? .ok : .busy)
        }
    }

    func notifyAll(_ reason: CmanIPC.Reason) {
        for (_, r) in registered.sorted(by: { $0.key < $1.key }) { r.connection.sendEvent(CmanIPC.Event.notification(reason)) }
    }

    // MARK: - Staged shutdown (cman_tool leave)

    /// SIGTERM (`systemctl stop`, poweroff): the same question to every registered client as `cman_tool leave`.
    /// If all agree (or none is registered) quorumd exits 0; if one refuses, quorumd keeps serving and says why in
    /// its log and status text, until `cman_tool leave force` (or systemd's TimeoutStopSec=) ends it.
    func stopRequested() {
        guard shutdown == nil, daemon.pendingLeave == nil else {
            daemon.logger.notice("SIGTERM while a leave is in progress: waiting for it")
            return
        }
        if registered.isEmpty {
            daemon.stop(reason: "SIGTERM", code: .ok)
            return
        }
        ask(Shutdown(requester: nil, remove: false, waiting: [:], refused: [], timer: nil))
    }

    private func leave(_ c: IPCConnection, remove: Bool, force: Bool) {
        guard shutdown == nil, daemon.pendingLeave == nil else {
            c.respond(CmanIPC.Response.refused("a leave is already in progress"), status: .busy)
            return
        }
        if force || registered.isEmpty {
            commitLeave(c, remove: remove)
            return
        }
        ask(Shutdown(requester: c, remove: remove, waiting: [:], refused: [], timer: nil))
    }

    /// Sends TRY_SHUTDOWN to every registered client and waits up to shutdown_timeout for their answers.
    private func ask(_ request: Shutdown) {
        var s = request
        for (id, r) in registered.sorted(by: { $0.key < $1.key }) {
            s.waiting[id] = r.name
            r.connection.sendEvent(CmanIPC.Event.notification(.tryShutdown))
        }
        let timeout = daemon.config.cman.shutdownTimeout
        s.timer = daemon.loop.schedule(after: timeout) { [weak self] in self?.shutdownTimedOut(timeout) }
        shutdown = s
        daemon.logger.notice("\(s.requester == nil ? "SIGTERM" : "leave requested"): asking \(s.waiting.count) client(s)")
    }

    private func answerShutdown(from c: IPCConnection, allow: Bool) {
        guard var s = shutdown, let name = s.waiting.removeValue(forKey: key(c)) else { return }
        if !allow { s.refused.append("\(name) said no") }
        shutdown = s
        finishShutdownIfAnswered()
    }

    private func shutdownTimedOut(_ timeout: Duration) {
        guard var s = shutdown else { return }
        for (_, name) in s.waiting.sorted(by: { $0.key < $1.key }) { s.refused.append("\(name) did not answer within \(timeout)") }
        s.waiting = [:]
        s.timer = nil
        shutdown = s
        finishShutdownIfAnswered()
    }

    private func finishShutdownIfAnswered() {
        guard let s = shutdown, s.waiting.isEmpty else { return }
        shutdown = nil
        if let t = s.timer { daemon.loop.cancel(t) }
        guard let requester = s.requester else {
            if s.refused.isEmpty {
                daemon.stop(reason: "SIGTERM", code: .ok)
            } else {
                let why = "refusing to stop: \(s.refused.joined(separator: "; ")); 'cman_tool leave force' stops anyway"
                daemon.logger.error("\(why)")
                daemon.notifier.status(why)
            }
            return
        }
        if s.refused.isEmpty {
            commitLeave(requester, remove: s.remove)
        } else {
            let why = "cannot leave the cluster: \(s.refused.joined(separator: "; "))"
            daemon.logger.notice("\(why)")
            requester.respond(CmanIPC.Response.refused(why), status: .busy)
        }
    }

    private func commitLeave(_ c: IPCConnection, remove: Bool) {
        if case .refused(let why) = daemon.feed(.request(.leave(remove: remove))) {
            c.respond(CmanIPC.Response.refused(why), status: .busy)
            return
        }
        daemon.pendingLeave = c
    }

    // MARK: - Config reload (cman_tool version -r)

    private func reload(_ c: IPCConnection, version: UInt64) {
        let loaded = ConfigReader.read(daemon.instance.configPath)
        guard let config = loaded.config else {
            c.respond(CmanIPC.Response.refused("\(daemon.instance.configPath) is not valid: \(loaded.problems)"), status: .invalidRequest)
            return
        }
        if version != 0 && config.configVersion != version {
            c.respond(CmanIPC.Response.refused("\(daemon.instance.configPath) has config_version \(config.configVersion), not \(version)"),
                      status: .invalidRequest)
            return
        }
        guard daemon.pendingReload == nil else {
            c.respond(CmanIPC.Response.refused("another configuration is being distributed"), status: .busy)
            return
        }
        switch daemon.feed(.request(.proposeConfig(version: config.configVersion, bytes: loaded.bytes))) {
        case .refused(let why): c.respond(CmanIPC.Response.refused(why), status: .busy)
        default: daemon.pendingReload = (c, config.configVersion)
        }
    }
}
