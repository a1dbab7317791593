// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterIPC
import ClusterIPCProtocol
import ClusterTypes
import Foundation
import Logging
import ResourceCore

/// rgmanager's IPC service (`rgmanager`): clustat's status and clusvcadm's requests. A request is checked here for
/// what only this node can judge (who asks, which service and member are named), then handed to the core, which
/// multicasts it; the answer goes back once every member has applied it.
final class ResourceClientService: IPCServiceHandler {
    unowned let daemon: ResourceDaemon
    private var pending: [UInt64: (connection: IPCConnection, request: String)] = [:]
    private var nextID: UInt64 = 1
    /// Requests waiting for their agreed answer at once, at most (one per connected clusvcadm in practice).
    static let pendingCountMax = 1024

    init(daemon: ResourceDaemon) { self.daemon = daemon }

    var logger: Logger { daemon.logger }

    func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        let request: ResourceIPC.Request
        do { request = try ResourceIPC.Request.decode(messageID: messageID, body: body) } catch {
            logger.warning("client pid \(c.pid) sent an invalid request \(messageID): \(error)")
            c.respond(ResourceIPC.Response.refused("invalid request: \(error)"), status: .invalidRequest)
            return
        }
        switch request {
        case .status:
            c.respond(ResourceIPC.Response.status(daemon.statusSnapshot()))
        case .admin(let action, let service, let target):
            admin(action, service, target, from: c)
        case .lock(let on):
            guard c.uid == 0 || c.uid == UInt32(getuid()) else {
                c.respond(ResourceIPC.Response.refused("permission denied: only root may lock or unlock services"), status: .permissionDenied)
                return
            }
            if daemon.shutdownReason != nil {
                c.respond(ResourceIPC.Response.refused("rgmanager on this node is shutting down"), status: .notReady)
                return
            }
            logger.notice("clusvcadm (pid \(c.pid)): \(on ? "lock" : "unlock") services on this node")
            daemon.feed(.lock(on))
            c.respond(ResourceIPC.Response.lockState(daemon.core.locked))
        case .lockState:
            c.respond(ResourceIPC.Response.lockState(daemon.core.locked))
        }
    }

    func disconnected(_ c: IPCConnection) {}

    private func admin(_ action: ResourceIPC.Action, _ service: String, _ target: String?, from c: IPCConnection) {
        func refuse(_ why: String, _ status: IPCStatus) {
            logger.info("clusvcadm (pid \(c.pid)) \(action) service:\(service) refused: \(why)")
            c.respond(ResourceIPC.Response.refused(why), status: status)
        }
        guard c.uid == 0 || c.uid == UInt32(getuid()) else { return refuse("permission denied: only root may change services", .permissionDenied) }
        if daemon.shutdownReason != nil { return refuse("rgmanager on this node is shutting down", .notReady) }
        if daemon.forest.brokenServices.contains(service) {
            return refuse("service:\(service) has configuration errors and is not managed (see rgmanager's log)", .notFound)
        }
        guard daemon.specs[service] != nil else {
            let known = daemon.specs.keys.sorted().map { "service:\($0)" }.joined(separator: ", ")
            return refuse("service:\(service) does not exist (cluster.conf defines \(known.isEmpty ? "no service" : known))", .notFound)
        }
        var node: NodeID?
        if let target {
            guard action == .enable || action == .relocate else { return refuse("a member (-m) applies only to enable and relocate", .invalidRequest) }
            guard let found = daemon.config.nodes.first(where: { $0.name == target || String($0.nodeID) == target }) else {
                return refuse("member \(target) is not in cluster.conf", .notFound)
            }
            node = NodeID(found.nodeID)
        }
        if daemon.cluster.missingDaemon != nil || daemon.initializing || !daemon.cluster.joined {
            return refuse("rgmanager is not yet part of the cluster (\(daemon.activity)); try again", .notReady)
        }
        guard pending.count < Self.pendingCountMax else { return refuse("too many requests in progress; try again", .tryAgain) }
        let request: ResourceManager.AdminRequest
        switch action {
        case .enable: request = .enable(service: service, target: node)
        case .disable: request = .disable(service: service)
        case .relocate: request = .relocate(service: service, target: node)
        case .restart: request = .restart(service: service)
        case .stop: request = .stop(service: service)
        case .freeze: request = .freeze(service: service)
        case .unfreeze: request = .unfreeze(service: service)
        }
        let id = nextID
        nextID += 1
        pending[id] = (c, "\(action) service:\(service)\(target.map { " on \($0)" } ?? "")")
        logger.info("clusvcadm (pid \(c.pid)): \(action) service:\(service)\(target.map { " on member \($0)" } ?? "")")
        daemon.feed(.request(id: id, request))
    }

    /// The core's answer to request `id`.
    func reply(_ id: UInt64, _ result: ResourceManager.AdminResult) {
        guard let (c, what) = pending.removeValue(forKey: id) else { return }
        let response: ResourceIPC.Response
        let status: IPCStatus
        switch result {
        case .accepted:
            response = .done("\(what): agreed")
            status = .ok
        case .refused(let why):
            response = .refused(why)
            status = why.contains("does not exist") || why.contains("is not running rgmanager") ? .notFound
                : why.contains("not quorate") || why.contains("synchronising") || why.contains("shutting down") ? .notReady : .busy
        }
        if !c.isOpen || !c.respond(response, status: status) {
            logger.notice("clusvcadm (pid \(c.pid)) hung up before the answer to \(what): \(result); the request stands as answered")
        }
    }
}

extension ResourceDaemon {
    /// What clustat shows: quorumd's members with rgmanager's flags, and the agreed service table.
    func statusSnapshot() -> ResourceIPC.Status {
        let core = self.core
        let cmanNodes = cluster.cmanNodes
        let configured = config.nodes.map { (NodeID($0.nodeID), $0.name) }
        var members = configured.map { id, name in
            ResourceIPC.Member(name: name, id: id, online: cmanNodes.first { $0.id == id }?.state == "M", local: id == nodeID, estranged: false,
                               rgmanager: core.synced && core.members.contains(id), rgmanagerMaster: core.synced && core.coordinator == id)
        }
        for n in cmanNodes where n.state == "M" && !configured.contains(where: { $0.0 == n.id }) {
            members.append(ResourceIPC.Member(name: n.name, id: n.id, online: true, local: false, estranged: true, rgmanager: false, rgmanagerMaster: false))
        }
        let services = core.table.keys.sorted().map { name in
            let r = core.table[name]!
            return ResourceIPC.Service(name: name, state: r.state.rawValue, flags: r.flags.rawValue, owner: r.owner ?? NodeID(0),
                                       lastOwner: r.lastOwner ?? NodeID(0), restarts: r.restarts, lastTransition: r.lastTransition)
        }
        let s = cluster.cmanStatus
        return ResourceIPC.Status(clusterName: config.name, clusterID: UInt32(s?.clusterID ?? config.effectiveClusterID),
                                  generation: s?.generation ?? 0, quorate: s?.quorate ?? false,
                                  groupMember: cluster.joined && core.synced, time: UInt64(Date().timeIntervalSince1970), localNode: nodeID,
                                  members: members, services: services, activity: activity)
    }

    /// quorumd installed a new cluster.conf: read it as on SIGHUP.
    func configurationDistributed() {
        let loaded = ConfigLoader.load(path: runner.instance.configPath)
        guard let conf = loaded.valid else {
            for d in loaded.diagnostics.errors { logger.error("\(d)") }
            logger.error("a new cluster.conf was distributed but \(runner.instance.configPath) is not valid; keeping the running configuration (version \(config.configVersion))")
            return
        }
        guard conf.configVersion != config.configVersion || loaded.bytes != runner.configBytes else {
            logger.info("cluster.conf version \(conf.configVersion) distributed: already running it")
            return
        }
        logger.notice("cluster.conf version \(conf.configVersion) distributed")
        runner.adopt(conf, bytes: loaded.bytes)
        reload(conf)
    }
}
