// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import TotemLink
import ClusterConfig
import ClusterConfigModel
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Logging
import QuorumCore
import ClusterSystem
#if canImport(Glibc)
import Glibc
#endif

/// quorumd: the cman role. A totemd client on the quorum channel that feeds `Quorum.StateMachine` and serves the
/// libcman API (`cman_client`, and `cman_admin` for root).
public final class QuorumDaemon {
    public static let version = "1.0.0"

    let instance: NodeInstance
    var config: ClusterConfiguration
    var configBytes: [UInt8]
    let logger: Logger
    let loop = EventLoop()
    let notifier = SystemdNotifier()
    var core: Quorum.StateMachine
    let nodeName: String
    var totem: TotemChannel!
    var clientServer: IPCServer!
    var adminServer: IPCServer!
    var clients: CmanClientService!
    var deadlineTimer: EventLoop.Timer?
    var scheduledDeadline: MonotonicInstant?
    var exitCode = DaemonExitCode.ok
    var ready = false
    var addresses: [NodeID: String] = [:]
    /// A `cman_tool version -r` waiting for the distribution's outcome.
    var pendingReload: (connection: IPCConnection, version: UInt64)?
    /// A `cman_tool leave` waiting for the leave message to come back.
    var pendingLeave: IPCConnection?
    var qdisk: QuorumDiskRunner?

    public init(instance: NodeInstance, config: ClusterConfiguration, configBytes: [UInt8], nodeName requested: String?, logger: Logger) throws(StartupError) {
        self.instance = instance
        self.config = config
        self.configBytes = configBytes
        self.logger = logger
        let me: ClusterNodeConfig
        if let requested {
            guard let n = config.node(named: requested) else {
                throw StartupError("node \"\(requested)\" is not in cluster.conf (nodes: \(config.nodes.map(\.name).joined(separator: ", ")))", .unavailable)
            }
            me = n
        } else {
            do { me = try NodeIdentity.resolve(config: config, name: nil).node } catch {
                throw StartupError(error.description, .unavailable)
            }
        }
        nodeName = me.name
        for n in config.nodes {
            addresses[NodeID(n.nodeID)] = SocketAddress.resolve(n.name, port: config.cman.port)?.ip ?? n.name
        }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        core = Quorum.StateMachine(nodeID: NodeID(me.nodeID), settings: Quorum.Settings(config: config),
                                   configVersion: config.configVersion, joinTime: UInt64(ts.tv_sec))
        if let q = config.quorumDisk {
            qdisk = try QuorumDiskRunner(config: q, nodeID: NodeID(me.nodeID), nodeCount: config.nodes.count, logger: logger)
        }
    }

    /// Runs until told to stop; returns the exit code.
    public func run() -> DaemonExitCode {
        clients = CmanClientService(daemon: self)
        clientServer = IPCServer(name: instance.ipcName(ServiceName.quorum), loop: loop, handler: clients)
        adminServer = IPCServer(name: instance.ipcName(ServiceName.quorumAdmin), rootOnly: true, loop: loop, handler: clients)
        for s in [clientServer!, adminServer!] {
            s.log = { [logger] in logger.warning("\($0)") }
            do { try s.start() } catch {
                logger.critical("cannot serve IPC: \(error)")
                return .unavailable
            }
        }
        // SIGTERM asks the registered clients first (staged shutdown); SIGINT, by hand, stops at once.
        loop.onSignal(SIGTERM) { [unowned self] in self.clients.stopRequested() }
        loop.onSignal(SIGINT) { [unowned self] in self.stop(reason: "SIGINT", code: .ok) }
        if let interval = notifier.watchdogInterval { watchdog(interval) }
        if let q = qdisk {
            q.members = { [unowned self] in self.core.members }
            q.onDecision = { [unowned self] d in self.quorumDiskDecided(d) }
            do { try q.start(loop: loop) } catch {
                logger.critical("\(error.description)")
                return error.exitCode
            }
        }
        notifier.status("waiting for totemd")
        logger.info("quorumd starting: node \(nodeName) (id \(core.nodeID)), cluster \(config.name), config version \(config.configVersion)")
        connectTotem(attempt: 0)
        loop.run()
        clientServer.stop()
        adminServer.stop()
        totem?.close()
        return exitCode
    }

    /// Connects to totemd on the quorum channel (retrying while it starts).
    private func connectTotem(attempt: Int) {
        let channel = TotemChannel(instance: instance, channel: Quorum.channel, loop: loop)
        channel.onConnected = { [unowned self] _, conf in
            logger.info("connected to totemd")
            if let conf { feedConfiguration(conf) }
        }
        channel.onEvent = { [unowned self] e in
            switch e {
            case .configuration(let c): feedConfiguration(c)
            case .delivery(let ch, let sender, _, let payload, _):
                if ch == Quorum.channel { feed(.delivered(from: sender, bytes: payload)) }
            }
        }
        channel.onFailure = { [unowned self] error in
            logger.critical("lost totemd: \(error)")
            stop(reason: "totemd unavailable", code: stopping ? exitCode : .failure)
        }
        totem = channel
        channel.connect()
    }

    private func feedConfiguration(_ c: TotemIPC.Configuration) {
        feed(.configuration(c))
    }

    // MARK: - Driving the core

    @discardableResult
    func feed(_ event: Quorum.Event) -> Quorum.RequestResult? {
        let out = core.handle(event, at: EventLoop.now())
        for e in out.effects { carryOut(e) }
        rescheduleDeadline()
        return out.result
    }

    private func carryOut(_ effect: Quorum.Effect) {
        switch effect {
        case .multicast(let bytes):
            totem.multicast(bytes)
        case .stateChanged:
            stateChanged()
        case .leaveCluster(let reason):
            logger.notice("stopping the cluster stack: \(reason)")
            if let c = pendingLeave { c.respond(CmanIPC.Response.done) }
            pendingLeave = nil
            leaveTotem()
            stop(reason: reason, code: .ok)
        case .validateConfig(let origin, let version, let bytes):
            let refusal = validateProposed(version: version, bytes: bytes)
            if let refusal { logger.warning("refusing configuration version \(version) from node \(origin): \(refusal)") }
            feed(.configValidated(version: version, refusal: refusal))
        case .installConfig(let version, let bytes):
            install(version: version, bytes: bytes)
        case .configDistributed(let version, let failure):
            if let p = pendingReload, p.version == version {
                p.connection.respond(failure.map { CmanIPC.Response.refused($0) } ?? .done)
                pendingReload = nil
            }
        case .proposeCurrentConfig:
            feed(.request(.proposeConfig(version: core.configVersion, bytes: configBytes)))
        case .notice(let text):
            logger.notice("\(text)")
        case .portData(let from, let port, let bytes):
            clients.deliver(from: from, port: port, bytes: bytes)
        case .portsChanged(let opened):
            clients.notifyAll(opened ? .portOpened : .portClosed)
        case .barrierReleased(let name):
            clients.barrierDone(name, failure: nil)
        case .barrierFailed(let name, let reason):
            clients.barrierDone(name, failure: reason)
        }
    }

    private func stateChanged() {
        let s = core.summary
        let text = "\(s.quorate ? "quorate" : "inquorate"), \(s.memberCount) member(s), \(s.totalVotes)/\(s.expectedVotes) votes, quorum \(s.quorum)"
        if !ready && core.members.contains(core.nodeID) {
            ready = true
            notifier.ready(status: text)
        } else {
            notifier.status(text)
        }
        clients.notifyAll(.stateChange)
    }

    private func rescheduleDeadline() {
        let next = core.nextDeadline
        guard next != scheduledDeadline else { return }
        if let t = deadlineTimer { loop.cancel(t) }
        scheduledDeadline = next
        guard let next else { return }
        deadlineTimer = loop.schedule(after: max(next - EventLoop.now(), .zero)) { [unowned self] in
            self.scheduledDeadline = nil
            self.deadlineTimer = nil
            self.feed(.deadlineReached)
        }
    }

    private func watchdog(_ interval: Duration) {
        notifier.watchdog()
        loop.schedule(after: interval) { [weak self] in self?.watchdog(interval) }
    }

    var stopping = false

    func stop(reason: String, code: DaemonExitCode) {
        // The first reason counts: leaving makes totemd go away too, which is not a second failure.
        guard !stopping else { return }
        stopping = true
        logger.notice("quorumd stopping (\(reason))")
        notifier.stopping()
        exitCode = code
        loop.stop()
    }

    /// Tells totemd to leave too: `cman_tool leave` stops the node's whole stack.
    private func leaveTotem() {
        do {
            let admin = try TotemClient(instance: instance, admin: true)
            try admin.leave()
        } catch {
            logger.warning("could not ask totemd to leave: \(error)")
        }
    }

    private func quorumDiskDecided(_ d: QuorumDisk.Decision) {
        guard totem != nil, !core.members.isEmpty else { return }
        if d.evicted {
            logger.critical("the quorum disk master evicted this node")
            leaveTotem()
            stop(reason: "evicted by the quorum disk master", code: .failure)
            return
        }
        feed(.qdisk(votes: d.votes, asMaster: d.isMaster))
        if core.isQuorate {
            for n in d.evict where core.members.contains(n) {
                logger.notice("quorum disk: node \(n) is dead by disk; telling it to leave")
                feed(.request(.kill(n)))
            }
        }
    }

    // MARK: - Configuration versions

    /// nil if `bytes` may become the running config here.
    func validateProposed(version: UInt64, bytes: [UInt8]) -> String? {
        let loaded = ConfigLoader.load(bytes: bytes, file: "cluster.conf v\(version)")
        guard let c = loaded.valid else {
            return loaded.diagnostics.errors.prefix(5).map(\.description).joined(separator: "; ")
        }
        if c.name != config.name { return "cluster name \"\(c.name)\" differs from \"\(config.name)\"" }
        if c.configVersion != version { return "the file says config_version \(c.configVersion), not \(version)" }
        if version < core.configVersion { return "version \(version) is older than the running \(core.configVersion)" }
        if version == core.configVersion && bytes != configBytes { return "version \(version) is already running with different content" }
        if c.node(named: nodeName) == nil { return "it does not list this node (\(nodeName))" }
        return nil
    }

    private func install(version: UInt64, bytes: [UInt8]) {
        if bytes != configBytes || version != config.configVersion {
            do { try FileIO.writeAtomically(instance.configPath, bytes) } catch {
                logger.error("cannot write configuration version \(version): \(error)")
                return
            }
        }
        if let c = ConfigLoader.load(bytes: bytes, file: instance.configPath).valid {
            config = c
            configBytes = bytes
            for n in c.nodes { addresses[NodeID(n.nodeID)] = SocketAddress.resolve(n.name, port: c.cman.port)?.ip ?? n.name }
            feed(.reconfigure(Quorum.Settings(config: c)))
        }
        logger.notice("configuration version \(version) is now running")
        clients.notifyAll(.configUpdate)
    }

    // MARK: - Status

    func status() -> CmanIPC.Status {
        let s = core.summary
        let member = core.members.contains(core.nodeID)
        var flags: [String] = []
        if config.cman.twoNode { flags.append("2node") }
        if core.dirty { flags.append("Dirty") }
        if !s.disallowed.isEmpty { flags.append("DisallowedNodes") }
        if config.cman.waitForAll { flags.append("WaitForAll") }
        if config.cman.lastManStanding { flags.append("LastManStanding") }
        if config.cman.autoTieBreaker { flags.append("AutoTieBreaker") }
        let mcast = config.cman.transport == .udp ? [config.effectiveMulticastAddress] : []
        return CmanIPC.Status(
            version: Self.version, configVersion: core.configVersion, clusterName: config.name, clusterID: config.effectiveClusterID,
            member: member, generation: core.generation, membershipState: member ? "Cluster-Member" : "Joining",
            nodes: UInt32(s.memberCount), expectedVotes: s.expectedVotes, totalVotes: s.totalVotes, nodeVotes: core.me.votes,
            quorum: s.quorum, quorate: s.quorate, activeSubsystems: UInt32(clients.subsystemCount), flags: flags,
            portsBound: core.localPorts.sorted(),
            nodeName: nodeName, nodeID: core.nodeID, multicastAddresses: mcast, nodeAddresses: [addresses[core.nodeID] ?? "?"],
            disallowed: s.disallowed.map { core.nodes[$0]?.name ?? $0.description }, qdiskVotes: s.qdiskVotes)
    }

    func nodeList() -> [CmanIPC.Node] {
        core.nodes.values.sorted { $0.id < $1.id }.map { r in
            CmanIPC.Node(id: r.id, name: r.name, votes: r.votes, state: r.state.rawValue, incarnation: r.incarnation,
                         joinTime: r.state == .dead ? 0 : r.joinTime, addresses: addresses[r.id].map { [$0] } ?? [])
        }
    }
}
