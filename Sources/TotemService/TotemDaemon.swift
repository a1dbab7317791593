// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Logging
import TotemCore
import TotemTransport
#if canImport(Glibc)
import Glibc
#endif

/// totemd: the thin shell around `Totem.StateMachine`. It owns the UDP transport, the IPC services, the ring
/// sequence file and the one event loop, feeds the core its events and carries out each `Output` in the documented
/// order: persist, send, deliver, report.
public final class TotemDaemon {
    let options: TotemDaemonOptions
    let config: ClusterConfiguration
    let identity: NodeIdentity
    let logger: Logger
    let loop = EventLoop()
    let notifier = SystemdNotifier()
    let store: RingSequenceStore
    var core: Totem.StateMachine
    let transport: UDPTransport
    var clients: TotemClientService!
    var clientServer: IPCServer!
    var adminServer: IPCServer!
    var deadlineTimer: EventLoop.Timer?
    var scheduledDeadline: MonotonicInstant?
    var announcedReady = false
    var exitCode = DaemonExitCode.ok
    /// The current regular configuration, for clients that connect later.
    var currentConfiguration: TotemIPC.Configuration?

    /// Loads everything; throws a message and exit code if the daemon cannot start.
    public init(options: TotemDaemonOptions, config: ClusterConfiguration, logger: Logger) throws(StartupError) {
        self.options = options
        self.config = config
        self.logger = logger
        do {
            identity = try NodeIdentity.resolve(config: config, name: options.nodeName)
        } catch {
            throw StartupError(error.description, .unavailable)
        }
        store = RingSequenceStore(stateDirectory: options.instance.stateDirectory)
        let persisted: UInt64
        do {
            try FileIO.makeDirectories(options.instance.stateDirectory, mode: 0o700)
            persisted = try store.load()
        } catch {
            throw StartupError("ring sequence store: \(error)", .ioError)
        }
        let settings = Totem.Settings(config: config.totem, nodeCount: config.nodes.count)
        for problem in settings.validate() { logger.warning("totem settings: \(problem)") }
        let myID = NodeID(identity.node.nodeID)
        core = Totem.StateMachine(nodeID: myID, clusterID: config.effectiveClusterID, settings: settings,
                                  persistedRingSequence: persisted, allowedNodes: Set(config.nodes.map { NodeID($0.nodeID) }))
        let keyMaterial: [UInt8]?
        if config.totem.secauth == false {
            keyMaterial = nil
        } else if let keyfile = config.cman.keyfile {
            do { keyMaterial = try FileIO.read(keyfile, limit: 4096) } catch {
                throw StartupError("cannot read the cluster key: \(error)", .configInvalid)
            }
        } else {
            keyMaterial = Array(config.name.utf8)
        }
        let mode: UDPTransport.Mode
        switch config.cman.transport {
        case .udpu:
            mode = .udpu
        case .udp:
            guard let group = SocketAddress(ipv4: config.effectiveMulticastAddress, port: config.cman.port), group.isMulticast else {
                throw StartupError("multicast address \(config.effectiveMulticastAddress) is not an IPv4 multicast address", .configInvalid)
            }
            mode = .multicast(group)
        }
        transport = UDPTransport(nodeID: myID, local: identity.address, peers: identity.peers, mode: mode,
                                 crypto: PacketCrypto(keyMaterial: keyMaterial, clusterID: config.effectiveClusterID, nodeID: myID))
    }

    /// Runs until SIGTERM, SIGINT or an admin `leave`; returns the exit code.
    public func run() -> DaemonExitCode {
        do {
            try transport.open()
        } catch {
            logger.critical("\(error)")
            return .unavailable
        }
        clients = TotemClientService(daemon: self)
        clientServer = IPCServer(name: options.instance.ipcName(ServiceName.totem), loop: loop, handler: clients)
        adminServer = IPCServer(name: options.instance.ipcName(ServiceName.totemAdmin), rootOnly: true, loop: loop, handler: clients)
        for server in [clientServer!, adminServer!] {
            server.log = { [logger] in logger.warning("\($0)") }
            do { try server.start() } catch {
                logger.critical("cannot serve IPC: \(error)")
                return .unavailable
            }
        }
        transport.onDatagram = { [unowned self] bytes in self.feed(.datagram(bytes)) }
        transport.onUnreachable = { [unowned self] node in
            self.logger.debug("node \(node)'s totem port is closed (ICMP port unreachable)")
            self.feed(.peerUnreachable(node))
        }
        for fd in transport.descriptors {
            loop.watch(fd: fd, events: [.readable, .error]) { [unowned self] _ in self.transport.readable(fd) }
        }
        loop.onSignal(SIGTERM) { [unowned self] in self.shutdown(reason: "SIGTERM") }
        loop.onSignal(SIGINT) { [unowned self] in self.shutdown(reason: "SIGINT") }
        if let interval = notifier.watchdogInterval { startWatchdog(interval) }
        logger.info("totemd starting: node \(identity.node.name) (id \(identity.node.nodeID)) on \(transport.local), cluster \(config.name) (id \(config.effectiveClusterID)), \(transportDescription)")
        notifier.status("forming a ring")
        feed(.start)
        loop.run()
        clientServer.stop()
        adminServer.stop()
        transport.close()
        return exitCode
    }

    var transportDescription: String {
        switch transport.mode {
        case .udpu: "udpu"
        case .multicast(let group): "multicast \(group.ip)"
        }
    }

    // MARK: - Driving the core

    /// Hands one event to the core and carries out its output.
    func feed(_ event: Totem.Event) {
        let out = core.handle(event, at: EventLoop.now())
        carryOut(out)
    }

    func carryOut(_ out: Totem.Output) {
        // 1. Persist BEFORE sending anything of this output.
        if let seq = out.ringSequenceToPersist {
            do { try store.store(seq) } catch {
                logger.critical("cannot store the ring sequence \(seq): \(error); stopping rather than risk reusing a ring id")
                exitCode = .ioError
                loop.stop()
                return
            }
        }
        // 2. Send.
        for d in out.datagrams {
            switch d.destination {
            case .all: transport.send(d.bytes, to: .all)
            case .node(let n): transport.send(d.bytes, to: .node(n))
            }
        }
        // 3. Deliver, in order.
        for u in out.upcalls {
            switch u {
            case .configurationChange(let c):
                let conf = TotemIPC.Configuration(kind: c.kind == .regular ? .regular : .transitional,
                                                  ringRepresentative: c.ringID.representative, ringSequence: c.ringID.sequence,
                                                  members: c.members, joined: c.joined, left: c.left)
                if c.kind == .regular {
                    currentConfiguration = conf
                    logger.notice("A new membership (\(c.ringID)) was formed. Members joined: \(c.joined.map(\.description).joined(separator: " ")) left: \(lastLeft.map(\.description).joined(separator: " "))")
                    logger.notice("Members: \(c.members.map(\.description).joined(separator: " "))")
                } else {
                    lastLeft = c.left
                }
                clients.broadcast(configuration: conf)
            case .message(let d):
                clients.deliver(d)
            }
        }
        // 4. Report.
        if let s = out.stateChanged { stateChanged(s) }
        if let pressure = out.backPressure { clients.coreBackPressure(pressure) }
        rescheduleDeadline()
    }

    var lastLeft: [NodeID] = []

    private func stateChanged(_ s: Totem.State) {
        logger.debug("totem state: \(s.rawValue) ring \(core.ringID)")
        switch s {
        case .operational:
            let status = "operational on ring \(core.ringID) with \(core.members.count) member(s)"
            if !announcedReady {
                announcedReady = true
                notifier.ready(status: status)
            } else {
                notifier.status(status)
            }
        case .gather: notifier.status("gathering members (ring \(core.ringID) lost or changing)")
        case .commit, .recovery: notifier.status("forming a new ring (\(s.rawValue))")
        case .left: notifier.status("left the cluster")
        }
    }

    private func rescheduleDeadline() {
        let next = core.nextDeadline
        guard next != scheduledDeadline else { return }
        if let t = deadlineTimer { loop.cancel(t) }
        deadlineTimer = nil
        scheduledDeadline = next
        guard let next else { return }
        let delay = next - EventLoop.now()
        deadlineTimer = loop.schedule(after: max(delay, .zero)) { [unowned self] in
            self.deadlineTimer = nil
            self.scheduledDeadline = nil
            self.feed(.deadlineReached)
        }
    }

    private func startWatchdog(_ interval: Duration) {
        notifier.watchdog()
        loop.schedule(after: interval) { [weak self] in self?.startWatchdog(interval) }
    }

    /// Leaves the ring on purpose (announced, so the others reform at once) and stops.
    func shutdown(reason: String) {
        logger.notice("leaving the cluster (\(reason))")
        notifier.stopping()
        feed(.leave)
        loop.stop()
    }

    // MARK: - Status

    func status() -> TotemIPC.Status {
        let c = core.counters
        let t = transport.counters
        let counters: [(String, UInt64)] = [
            ("rings_formed", c.ringsFormed), ("token_losses", c.tokenLosses), ("token_retransmits", c.tokenRetransmits),
            ("message_retransmits", c.messageRetransmits), ("frames_sent", c.framesSent), ("frames_received", c.framesReceived),
            ("messages_delivered", c.messagesDelivered), ("consensus_timeouts", c.consensusTimeouts),
            ("failed_to_receive", c.failedToReceive), ("decode_errors", c.decodeErrors), ("other_cluster", c.otherCluster),
            ("unknown_sender", c.unknownSender), ("foreign_ring", c.foreignRing), ("stale_joins", c.staleJoins),
            ("unreachable_reports", c.unreachableReports), ("packets_sent", t.sent), ("packets_received", t.received),
            ("packets_unauthentic", t.unauthentic), ("packets_unknown_source", t.unknownSource), ("send_errors", t.sendErrors),
            ("queued_messages", core.queuedMessages),
        ].map { ($0.0, UInt64($0.1)) }
        let ringStatus = core.state == .operational ? "ring 0 active with no faults" : "ring 0 \(core.state.rawValue)"
        return TotemIPC.Status(nodeID: core.nodeID, clusterName: config.name, state: core.state.rawValue,
                               ringRepresentative: core.ringID.representative, ringSequence: core.ringID.sequence,
                               members: core.members, transport: transportDescription,
                               rings: [TotemIPC.RingStatus(number: 0, address: transport.local.ip, status: ringStatus)],
                               counters: counters)
    }
}
