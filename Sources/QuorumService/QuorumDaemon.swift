// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Logging
import QuorumCore
import TotemLink
import TotemTransport
#if canImport(Glibc)
import Glibc
#endif

/// quorumd: the thin shell around `Quorum.StateMachine`, on the `DaemonRunner`. A totemd client on the quorum
/// channel that feeds the core its configurations and deliveries, serves the libcman API (`cman_client`, and
/// `cman_admin` for root), runs the quorum disk, and carries out the core's effects: multicasts, notifications,
/// answers, reading a proposed cluster.conf (libxml2) and writing an accepted one, leaving.
public final class QuorumDaemon {
    public static let version = "1.0.0"

    let runner: DaemonRunner
    var config: ClusterConfiguration { runner.config }
    var logger: Logger { runner.logger }
    let driver: CoreDriver<Quorum.StateMachine>
    var core: Quorum.StateMachine { driver.core }
    var totem: TotemChannel!
    var clientServer: IPCServer!
    var adminServer: IPCServer!
    var clients: CmanClientService!
    var host: Quorum.HostFacts
    /// A `cman_tool version -r` waiting for the distribution's outcome.
    var pendingReload: (connection: IPCConnection, version: UInt64)?
    var qdisk: QuorumDiskRunner?
    /// Set once the core decided to leave: why, and the exit code, for when totemd has gone.
    var departure: (reason: String, code: DaemonExitCode)?
    /// The state file (expected votes and votes changed at runtime).
    let stateStore: QuorumStateStore
    /// How long quorumd keeps its loop running after asking totemd to leave, for totemd to go (its channel closes).
    static let totemLeaveWaitMax: Duration = .seconds(5)

    /// Resolves this node and builds the core; throws a message and exit code if the daemon cannot start.
    public init(runner: DaemonRunner) throws(StartupError) {
        self.runner = runner
        let config = runner.config
        let me: ClusterNodeConfig
        if let requested = runner.requestedNodeName {
            guard let n = config.node(named: requested) else {
                throw StartupError("node \"\(requested)\" is not in cluster.conf (nodes: \(config.nodes.map(\.name).joined(separator: ", ")))", .unavailable)
            }
            me = n
        } else {
            do { me = try NodeIdentity.resolve(config: config, name: nil).node } catch {
                throw StartupError(error.description, .unavailable)
            }
        }
        host = Self.hostFacts(config)
        stateStore = QuorumStateStore(stateDirectory: runner.instance.stateDirectory)
        let persisted = stateStore.load(logger: runner.logger)
        if let p = persisted, p.configVersion != config.configVersion {
            runner.logger.notice("quorum state file \(stateStore.path) is for configuration version \(p.configVersion), cluster.conf is version \(config.configVersion): discarded")
        }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        driver = CoreDriver(core: Quorum.StateMachine(nodeID: NodeID(me.nodeID), settings: Quorum.Settings(config: config),
                                                      configVersion: config.configVersion, joinTime: UInt64(ts.tv_sec),
                                                      configBytes: runner.configBytes, persisted: persisted),
                            loop: runner.loop)
        if let q = config.quorumDisk {
            qdisk = try QuorumDiskRunner(config: q, nodeID: NodeID(me.nodeID), nodeCount: config.nodes.count, logger: runner.logger)
        }
    }

    static func hostFacts(_ c: ClusterConfiguration) -> Quorum.HostFacts {
        var addresses: [NodeID: String] = [:]
        for n in c.nodes { addresses[NodeID(n.nodeID)] = SocketAddress.resolve(n.name, port: c.cman.port)?.ip ?? n.name }
        return Quorum.HostFacts(version: version, clusterID: c.effectiveClusterID,
                                multicastAddresses: c.cman.transport == .udp ? [c.effectiveMulticastAddress] : [], addresses: addresses)
    }

    /// Serves IPC, starts the quorum disk and connects to totemd; the runner's loop does the rest.
    public func start() throws(StartupError) {
        driver.perform = { [unowned self] out in carryOut(out) }
        clients = CmanClientService(daemon: self)
        clientServer = try runner.serve(ServiceName.quorum, handler: clients)
        adminServer = try runner.serve(ServiceName.quorumAdmin, rootOnly: true, handler: clients)
        // SIGTERM (systemctl stop, poweroff) is a staged shutdown; SIGINT, by hand, stops at once.
        runner.onStop = { [unowned self] signal in
            if signal == "SIGTERM" {
                driver.feed(.shutdownRequested(by: nil, remove: false, force: false))
            } else {
                runner.stop(reason: signal)
            }
        }
        runner.reloadHint = "does not reload on SIGHUP: 'cman_tool version -r' distributes a new cluster.conf to every node"
        if let q = qdisk {
            q.members = { [unowned self] in core.members }
            q.offerOutstanding = { [unowned self] in core.masterOfferOutstanding }
            q.onDecision = { [unowned self] d in driver.feed(.quorumDisk(d)) }
            try q.start(loop: runner.loop)
        }
        runner.status("waiting for totemd")
        logger.info("quorumd starting: node \(core.me.name) (id \(core.nodeID)), cluster \(config.name), config version \(config.configVersion)")
        connectTotem()
    }

    /// Connects to totemd on the quorum channel (retrying while it starts).
    private func connectTotem() {
        let channel = TotemChannel(instance: runner.instance, channel: Quorum.channel, loop: runner.loop)
        channel.onConnected = { [unowned self] _, conf in
            logger.info("connected to totemd")
            if let conf { driver.feed(.configuration(conf)) }
        }
        channel.onEvent = { [unowned self] e in
            switch e {
            case .configuration(let c): driver.feed(.configuration(c))
            case .delivery(let ch, let sender, _, let payload, _):
                if ch == Quorum.channel { driver.feed(.delivered(from: sender, bytes: payload)) }
            case .sendReady: break  // TotemChannel acts on it
            }
        }
        channel.onFailure = { [unowned self] error in
            // Leaving makes totemd go away too, which is not a second failure: it is what quorumd waited for.
            if let d = departure { return runner.stop(reason: d.reason, code: d.code) }
            guard !runner.isStopping else { return }
            logger.critical("lost totemd: \(error)")
            runner.stop(reason: "totemd unavailable", code: .failure)
        }
        channel.onLeaveFailure = { [unowned self] error in
            logger.warning("could not ask totemd to leave: \(error)")
            if let d = departure { runner.stop(reason: d.reason, code: d.code) }
        }
        totem = channel
        runner.atExit { channel.close() }
        channel.connect()
    }

    /// Hands a request to the core and returns its answer. Requests come from IPC callbacks on the loop, never
    /// while an output is being carried out, so the core answers at once.
    func request(_ r: Quorum.Request) -> Quorum.RequestResult {
        guard let out = driver.feed(.request(r)) else {
            preconditionFailure("quorumd: request \(r) arrived while an output was being carried out")
        }
        return out.result ?? .accepted
    }

    // MARK: - Carrying out the core's output

    /// Logs the output's operator lines, then carries out its effects in order.
    func carryOut(_ out: Quorum.Output) {
        for line in Quorum.OperatorLog.lines(for: out) { logger.log(line) }
        for effect in out.effects { carryOut(effect) }
    }

    private func carryOut(_ effect: Quorum.Effect) {
        switch effect {
        case .multicast(let bytes):
            totem.multicast(bytes)
        case .stateChanged:
            stateChanged()
        case .leaveCluster(let reason, let evicted):
            leaveCluster(reason: reason, code: evicted ? .failure : .ok)
        case .validateConfig(_, let version, let bytes):
            // Queued by the driver: the core reads it after this output.
            driver.feed(.configChecked(version: version, Self.read(proposed: bytes, version: version)))
        case .installConfig(let version, let bytes):
            install(version: version, bytes: bytes)
        case .persistState(let state):
            persist(state)
        case .configDistributed(let version, let failure):
            if let p = pendingReload, p.version == version {
                p.connection.respond(failure.map { CmanIPC.Response.refused($0) } ?? .done)
                pendingReload = nil
            }
        case .notice:
            break  // logged with the output's lines
        case .portData(let from, let port, let bytes):
            clients.deliver(from: from, port: port, bytes: bytes)
        case .portsChanged(let opened):
            clients.notifyAll(opened ? .portOpened : .portClosed)
        case .barrierReleased(let name):
            clients.barrierDone(name, failure: nil)
        case .barrierFailed(let name, let reason):
            clients.barrierDone(name, failure: reason)
        case .tryShutdown(let client):
            clients.notify(client, .tryShutdown)
        case .leaveAnswered(let client, let result):
            clients.answerLeave(client, result)
        case .stopDaemon(let reason):
            runner.stop(reason: reason)
        case .stopRefused(let why):
            runner.status(why)
        }
    }

    /// `cman_tool leave` (or a kill, or the quorum disk) stops the node's whole stack. totemd is asked with a one-way
    /// request on the channel; quorumd's loop keeps running until totemd has gone (the channel closes) and then stops,
    /// so the request is not lost with quorumd's own connection, and nothing on the loop waits. If totemd stays,
    /// quorumd stops after `totemLeaveWaitMax` anyway.
    private func leaveCluster(reason: String, code: DaemonExitCode) {
        guard departure == nil else { return }
        departure = (reason, code)
        runner.status("leaving the cluster: \(reason)")
        totem.leave()
        // Not connected (still connecting, or totemd gone already): there is nothing to wait for.
        guard totem.isConnected else { return runner.stop(reason: reason, code: code) }
        runner.loop.schedule(after: Self.totemLeaveWaitMax) { [weak self] in
            guard let self, !runner.isStopping else { return }
            logger.warning("totemd did not leave within \(Self.totemLeaveWaitMax); stopping anyway")
            runner.stop(reason: reason, code: code)
        }
    }

    private func stateChanged() {
        let s = core.summary
        let text = "\(s.quorate ? "quorate" : "inquorate"), \(s.memberCount) member(s), \(s.totalVotes)/\(s.expectedVotes) votes, quorum \(s.quorum)"
        // READY once this node is in a configuration and counts itself there (its own announcement came back through
        // totem): synchronised, corosync's rule.
        if !runner.isReady && core.members.contains(core.nodeID) && core.me.state == .member { runner.ready(text) } else { runner.status(text) }
        clients.notifyAll(.stateChange)
    }

    // MARK: - Configuration versions

    /// What a proposed cluster.conf says, for the core's verdict: libxml2 parse, the rules, and its settings.
    static func read(proposed bytes: [UInt8], version: UInt64) -> Quorum.ProposedConfig {
        let loaded = ConfigLoader.load(bytes: bytes, file: "cluster.conf v\(version)")
        guard let c = loaded.valid else {
            return .invalid(loaded.diagnostics.errors.prefix(5).map(\.description).joined(separator: "; "))
        }
        return .valid(configVersion: c.configVersion, settings: Quorum.Settings(config: c))
    }

    /// Every member accepted: write it atomically, run it, tell the local daemons.
    private func persist(_ state: Quorum.PersistedState) {
        stateStore.store(state, logger: logger)
    }

    private func install(version: UInt64, bytes: [UInt8]) {
        let path = runner.instance.configPath
        if bytes != runner.configBytes || version != config.configVersion {
            do { try FileIO.writeAtomically(path, bytes) } catch {
                logger.error("cannot write configuration version \(version) to \(path): \(error); it runs from memory until written")
                return
            }
        }
        if let c = ConfigLoader.load(bytes: bytes, file: path).valid {
            runner.adopt(c, bytes: bytes)
            host = Self.hostFacts(c)
        }
        clients.notifyAll(.configUpdate)
    }

    // MARK: - Status

    func status() -> CmanIPC.Status { core.cmanStatus(host) }

    func nodeList() -> [CmanIPC.Node] { core.cmanNodes(host) }
}
