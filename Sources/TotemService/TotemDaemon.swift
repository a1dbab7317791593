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

extension Totem.StateMachine: DaemonCore {
    public static var deadlineReached: Totem.Event { .deadlineReached }
}

/// totemd: the thin shell around `Totem.StateMachine`, on the `DaemonRunner`. It owns the rings' UDP transports,
/// the IPC services and the ring sequence file, feeds the core its events and carries out each `Output` in the
/// documented order: persist, send, deliver, report.
public final class TotemDaemon {
    let runner: DaemonRunner
    var config: ClusterConfiguration { runner.config }
    var logger: Logger { runner.logger }
    let identity: NodeIdentity
    let store: RingSequenceStore
    let driver: CoreDriver<Totem.StateMachine>
    var core: Totem.StateMachine { driver.core }
    let transport: RedundantRings
    var ringCheckTimer: EventLoop.Timer?
    var clients: TotemClientService!
    var clientServer: IPCServer!
    var adminServer: IPCServer!
    /// Authentic packets whose totem header named another node than the one that sealed them.
    var impersonations = 0
    /// Queue depths in the log under load (`CLUSTER_QUEUE_TRACE=1`).
    var sampler: QueueSampler?
    /// The current regular configuration, for clients that connect later.
    var currentConfiguration: TotemIPC.Configuration?

    /// Loads everything; throws a message and exit code if the daemon cannot start.
    public init(runner: DaemonRunner) throws(StartupError) {
        self.runner = runner
        let config = runner.config, logger = runner.logger, instance = runner.instance
        do {
            identity = try NodeIdentity.resolve(config: config, name: runner.requestedNodeName)
        } catch {
            throw StartupError(error.description, .unavailable)
        }
        store = RingSequenceStore(stateDirectory: instance.stateDirectory)
        let persisted: UInt64
        do {
            try FileIO.makeDirectories(instance.stateDirectory, mode: 0o700)
            persisted = try store.load()
        } catch {
            throw StartupError("ring sequence store: \(error)", .ioError)
        }
        let settings = Totem.Settings(config: config.totem, nodeCount: config.nodes.count)
        for problem in settings.validate() { logger.warning("totem settings: \(problem)") }
        let myID = NodeID(identity.node.nodeID)
        driver = CoreDriver(core: Totem.StateMachine(nodeID: myID, clusterID: config.effectiveClusterID, settings: settings,
                                                     persistedRingSequence: persisted, allowedNodes: Set(config.nodes.map { NodeID($0.nodeID) })),
                            loop: runner.loop)
        let keyMaterial: [UInt8]?
        if config.totem.secauth == false {
            keyMaterial = nil
        } else if let keyfile = config.cman.keyfile {
            let key: [UInt8]
            do { key = try FileIO.read(keyfile, limit: 4096) } catch {
                throw StartupError("cannot read the cluster key: \(error)", .configInvalid)
            }
            guard key.count >= PacketCrypto.keyBytesMin else {
                throw StartupError("cluster key \(keyfile) holds \(key.count * 8) bits; at least \(PacketCrypto.keyBytesMin * 8) are needed "
                                   + "(make one with: dd if=/dev/urandom of=\(keyfile) bs=128 count=1)", .configInvalid)
            }
            keyMaterial = key
        } else {
            logger.warning("no <cman keyfile=\"...\"/>: totem packets are sealed with a key derived from the cluster name \"\(config.name)\", which anyone who knows the name can derive, so they are authenticated against accidents only; create a key (dd if=/dev/urandom of=/etc/cluster/cman_authkey bs=128 count=1) and name it in <cman keyfile>")
            keyMaterial = Array(config.name.utf8)
        }
        let crypto = PacketCrypto(keyMaterial: keyMaterial, clusterID: config.effectiveClusterID, nodeID: myID)
        // cman's rule: altnames mean active redundant rings unless <totem rrp_mode> says otherwise.
        let rrp: RedundantRings.Mode?
        switch config.totem.rrpMode {
        case .none?: rrp = nil
        case .passive?: rrp = .passive
        case .active?, nil: rrp = .active
        }
        var rings = identity.rings
        if rrp == nil && rings.count > 1 {
            logger.warning("<altname> entries ignored: <totem rrp_mode=\"none\"/> runs ring 0 only")
            rings = Array(rings.prefix(1))
        }
        var transports: [UDPTransport] = []
        var usedGroups: [SocketAddress: Int] = [:]
        for (number, ring) in rings.enumerated() {
            let mode: UDPTransport.Mode
            switch config.cman.transport {
            case .udpu:
                mode = .udpu
            case .udp:
                let address = number == 0 ? config.effectiveMulticastAddress : (ring.multicastAddress ?? config.effectiveMulticastAddress)
                guard let group = SocketAddress(ipv4: address, port: ring.local.port), group.isMulticast else {
                    throw StartupError("ring \(number): multicast address \(address) is not an IPv4 multicast address", .configInvalid)
                }
                if let other = usedGroups[group] {
                    throw StartupError("rings \(other) and \(number) would share multicast group \(group); give the <altname> its own mcast= or port=", .configInvalid)
                }
                usedGroups[group] = number
                mode = .multicast(group)
            }
            transports.append(UDPTransport(nodeID: myID, local: ring.local, peers: ring.peers, mode: mode, crypto: crypto))
        }
        transport = RedundantRings(rings: transports, mode: rrp ?? .active, crypto: crypto,
                                   window: max(settings.token * 2, .seconds(1)), clock: { EventLoop.now() })
    }

    /// Opens the rings and the IPC services and starts forming a ring; the runner's loop does the rest until
    /// SIGTERM, SIGINT or an admin `leave`.
    public func start() throws(StartupError) {
        do { try transport.open() } catch { throw StartupError("\(error)", .unavailable) }
        runner.atExit { [transport] in transport.close() }
        driver.perform = { [unowned self] out in carryOut(out) }
        clients = TotemClientService(daemon: self)
        clientServer = try runner.serve(ServiceName.totem, handler: clients)
        adminServer = try runner.serve(ServiceName.totemAdmin, rootOnly: true, handler: clients)
        transport.onDatagram = { [unowned self] sender, bytes in
            // The transport authenticated the sending node; the packet may only speak for that node.
            guard Totem.Packet.claimedSender(of: bytes) == sender else {
                impersonations += 1
                return
            }
            driver.feed(.datagram(bytes))
        }
        if transport.rings.count > 1 { checkRings() }
        transport.onUnreachable = { [unowned self] node in
            logger.debug("node \(node)'s totem port is closed (ICMP port unreachable)")
            driver.feed(.peerUnreachable(node))
        }
        for (fd, ring) in transport.descriptors {
            runner.loop.watch(fd: fd, events: [.readable, .error]) { events in ring.readable(fd, errorPending: events.contains(.error)) }
        }
        runner.onStop = { [unowned self] signal in shutdown(reason: signal) }
        logger.info("totemd starting: node \(identity.node.name) (id \(identity.node.nodeID)) on \(transport.rings.map { "\($0.local)" }.joined(separator: " and ")), cluster \(config.name) (id \(config.effectiveClusterID)), \(transportDescription)")
        runner.status("forming a ring")
        driver.feed(.start)
        sampler = QueueSampler.start(loop: runner.loop, logger: logger, gauges: [
            ("from_clients_msgs", { [unowned self] in clients.pendingCount }), ("from_clients_bytes", { [unowned self] in clients.pendingBytes }),
            ("client_fc", { [unowned self] in clients.isFlowControlled ? 1 : 0 }),
            ("send_queue_msgs", { [unowned self] in core.queuedMessages }), ("send_queue_bytes", { [unowned self] in core.queuedBytes }),
            ("to_clients_events", { [unowned self] in clientServer.openConnections.reduce(0) { $0 + $1.queuedEventCount } }),
            ("to_clients_bytes", { [unowned self] in clientServer.openConnections.reduce(0) { $0 + $1.queuedEventBytes } }),
        ])
    }

    var transportDescription: String {
        let kind = switch transport.rings[0].mode {
        case .udpu: "udpu"
        case .multicast(let group): "multicast \(group.ip)"
        }
        return transport.rings.count > 1 ? "\(kind), \(transport.rings.count) rings (rrp_mode \(transport.mode.rawValue))" : kind
    }

    /// Judges the rings every quarter second and logs faults and recoveries, as corosync's RRP did.
    private func checkRings() {
        for change in transport.evaluate() {
            switch change {
            case .faulty(let ring, let peers):
                logger.error("Marking ringid \(ring) interface \(transport.rings[ring].local.ip) FAULTY: nothing from node(s) \(peers.map(\.description).joined(separator: " ")) on it while other rings hear them")
            case .recovered(let ring):
                logger.notice("ring \(ring) (\(transport.rings[ring].local.ip)) recovered: every node is heard on it again")
            }
        }
        ringCheckTimer = runner.loop.schedule(after: .milliseconds(250)) { [unowned self] in checkRings() }
    }

    // MARK: - Driving the core

    /// Carries out one output of the core, in the order `Totem.Output` documents.
    func carryOut(_ out: Totem.Output) {
        // 1. Persist BEFORE sending anything of this output.
        if let seq = out.ringSequenceToPersist {
            do { try store.store(seq) } catch {
                logger.critical("cannot store the ring sequence \(seq): \(error); stopping rather than risk reusing a ring id")
                runner.stop(reason: "the ring sequence could not be stored", code: .ioError)
                return
            }
        }
        // 2. Send (a token visit's frames and the token in one go, in order).
        let datagrams = out.datagrams.map { d -> (bytes: [UInt8], destination: UDPTransport.Destination) in
            switch d.destination {
            case .all: (d.bytes, .all)
            case .node(let n): (d.bytes, .node(n))
            }
        }
        if datagrams.count == 1 {
            transport.send(datagrams[0].bytes, to: datagrams[0].destination)
        } else if !datagrams.isEmpty {
            transport.send(batch: datagrams)
        }
        // 3. Deliver, in order.
        for u in out.upcalls {
            switch u {
            case .configurationChange(let c):
                if c.kind == .regular { currentConfiguration = c }
                clients.broadcast(configuration: c)
            case .message(let d):
                clients.deliver(d)
            }
        }
        // 4. Report.
        for line in operatorLog.lines(for: out) { logger.log(line) }
        if let s = out.stateChanged { stateChanged(s) }
        if let pressure = out.backPressure { clients.coreBackPressure(pressure) }
    }

    var operatorLog = Totem.OperatorLog()

    private func stateChanged(_ s: Totem.State) {
        logger.debug("totem state: \(s.rawValue) ring \(core.ringID)")
        switch s {
        case .operational:
            runner.ready("operational on ring \(core.ringID) with \(core.members.count) member(s)")
        case .gather: runner.status("gathering members (ring \(core.ringID) lost or changing)")
        case .commit, .recovery: runner.status("forming a new ring (\(s.rawValue))")
        case .left: runner.status("left the cluster")
        }
    }

    /// Leaves the ring on purpose (announced, so the others reform at once) and stops.
    func shutdown(reason: String) {
        logger.notice("leaving the cluster (\(reason))")
        driver.feed(.leave)
        runner.stop(reason: reason)
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
            ("unreachable_reports", c.unreachableReports), ("unreachable_probes", c.unreachableProbes),
            ("unreachable_refuted", c.unreachableRefuted), ("unreachable_failures", c.unreachableFailures),
            ("late_old_ring_messages", c.lateOldRingMessages), ("commit_token_retransmits", c.commitTokenRetransmits),
            ("holder_probes", c.holderProbes), ("token_held", core.holdsToken ? 1 : 0),
            ("packets_sent", t.sent), ("packets_received", t.received),
            ("packets_unauthentic", t.unauthentic), ("packets_unknown_source", t.unknownSource), ("send_errors", t.sendErrors),
            ("packets_wrong_sender", t.wrongSender + impersonations), ("packets_replayed", t.replayed),
            ("send_calls", t.sendCalls), ("receive_calls", t.receiveCalls),
            ("segmented_sends", t.segmentedSends), ("segmentation_refused", t.segmentationRefused),
            ("coalesced_reads", t.coalescedReads),
            ("queued_messages", core.queuedMessages),
        ].map { ($0.0, UInt64($0.1)) }
        let now = EventLoop.now()
        let rings = transport.rings.enumerated().map { number, ring in
            let faults = transport.health.faults[number]
            let text: String
            if !faults.isEmpty {
                let detail = faults.sorted().map { peer in
                    "node \(peer)" + (transport.health.silence(of: peer, on: number, at: now).map { " silent \(String(format: "%.1f", $0.secondsDouble)) s" } ?? " never heard")
                }
                text = "ring \(number) FAULTY: \(detail.joined(separator: ", "))"
            } else {
                text = core.state == .operational ? "ring \(number) active with no faults" : "ring \(number) \(core.state.rawValue)"
            }
            return TotemIPC.RingStatus(number: UInt32(number), address: ring.local.ip, status: text)
        }
        return TotemIPC.Status(nodeID: core.nodeID, clusterName: config.name, state: core.state.rawValue,
                               ringRepresentative: core.ringID.representative, ringSequence: core.ringID.sequence,
                               members: core.members, transport: transportDescription,
                               rings: rings,
                               counters: counters)
    }
}
