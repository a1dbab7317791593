// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPC
import ClusterSystem
import ClusterTypes
import Logging
import ResourceCore
#if canImport(Glibc)
import Glibc
#endif

/// rgmanager's connections to the daemons below it, on its loop: quorumd (quorum at start and on every change, the
/// members for clustat, staged shutdown), groupd (the `rgmanager` process group: views in their place among the
/// deliveries, agreed multicasts) and fenced (which failed nodes are fenced). Each is retried until it answers;
/// losing quorumd or groupd afterwards ends rgmanager (its services are stopped first).
final class ClusterLinks {
    let instance: NodeInstance
    let loop: EventLoop
    let logger: Logger
    weak var daemon: ResourceDaemon?
    var cman: CmanClient?
    var groups: GroupClient?
    var fence: FenceClient?
    /// This process is in the rgmanager group (its own join showed in a view) and has not left it.
    private(set) var joined = false
    private var joinRequested = false
    private var ready = false
    private var retryScheduled = false
    /// quorumd's view of the cluster, refreshed on every state change.
    private(set) var cmanStatus: CmanIPC.Status?
    private(set) var cmanNodes: [CmanIPC.Node] = []
    /// Multicasts waiting while groupd says "try again": kept in order and sent later, never dropped.
    private var outbox: [[UInt8]] = []
    private var outboxHead = 0
    private var outboxRetry: EventLoop.Timer?
    /// Multicasts that may wait at once; rgmanager sends a handful per change, so reaching this means groupd is
    /// stuck and rgmanager cannot go on.
    static let outboxCountMax = 1 << 16
    /// Wall-clock seconds of each node's last fence, from fenced's events and domain listing.
    var fenceTimes: [NodeID: UInt64] = [:]
    var cleanStartApplied = false
    var fenceRetry: EventLoop.Timer?
    var fenceMissingLogged = false

    init(instance: NodeInstance, loop: EventLoop, logger: Logger) {
        self.instance = instance
        self.loop = loop
        self.logger = logger
    }

    /// The daemon rgmanager still waits for, if any.
    var missingDaemon: String? { cman == nil ? "quorumd" : groups == nil ? "groupd" : nil }
    var fencedConnected: Bool { fence != nil }

    // MARK: - Connecting

    /// Connects what can be connected now and retries the rest every second.
    func connect() {
        if cman == nil { connectCman() }
        if groups == nil { connectGroups() }
        if fence == nil { connectFence() }
        if missingDaemon != nil && !retryScheduled {
            retryScheduled = true
            loop.schedule(after: .seconds(1)) { [weak self] in
                self?.retryScheduled = false
                if self?.daemon?.shutdownReason == nil { self?.connect() }
            }
        }
        joinIfReady()
    }

    private func connectCman() {
        let client: CmanClient
        do {
            client = try CmanClient(instance: instance)
            try client.register(name: "rgmanager")
        } catch {
            logger.debug("quorumd: \(error)")
            return
        }
        guard let fd = client.eventFD else { return }
        cman = client
        client.onEvent = { [unowned self] event in cmanEvent(event) }
        loop.watch(fd: fd, events: [.readable, .error, .hangup]) { [unowned self] _ in
            do { try cman?.dispatch() } catch { lost("quorumd", fd: fd, error) }
        }
        logger.info("connected to quorumd")
        refreshCman()
    }

    private func connectGroups() {
        let client: GroupClient
        do { client = try GroupClient(instance: instance) } catch {
            logger.debug("groupd: \(error)")
            return
        }
        guard let fd = client.eventFD else { return }
        groups = client
        client.onEvent = { [unowned self] event in groupEvent(event) }
        loop.watch(fd: fd, events: [.readable, .error, .hangup]) { [unowned self] _ in
            do { try groups?.dispatch() } catch { lost("groupd", fd: fd, error) }
        }
        logger.info("connected to groupd")
    }

    /// quorumd or groupd went away: rgmanager cannot agree anything any more, so it stops its services and exits
    /// (systemd restarts it with the stack).
    private func lost(_ who: String, fd: Int32, _ error: any Error) {
        loop.unwatch(fd: fd)
        if who == "quorumd" { cman = nil } else {
            groups = nil
            joined = false
        }
        logger.critical("lost \(who): \(error); stopping this node's services and exiting")
        daemon?.shutdown(reason: "\(who) went away", clean: false)
    }

    /// The start-up cleanup is over: the group may be joined.
    func initialized() {
        ready = true
        joinIfReady()
    }

    private func joinIfReady() {
        guard ready, !joinRequested, let groups, daemon?.shutdownReason == nil else { return }
        do {
            try groups.join(ResourceManager.groupName)
            joinRequested = true
            logger.info("joining the \(ResourceManager.groupName) group")
        } catch {
            if error.code == .exists {
                joinRequested = true
                return
            }
            // groupd not yet in a ring, or a previous membership of this process not settled: later.
            if error.code != .tryAgain && error.code != .notReady && error.code != .busy {
                logger.warning("joining the \(ResourceManager.groupName) group failed: \(error); retrying")
            }
            loop.schedule(after: .milliseconds(500)) { [weak self] in self?.joinIfReady() }
        }
    }

    /// Leaves the group (a clean leave: the others know this node's services are stopped).
    func leaveGroup() {
        guard joined, let groups else { return }
        do { try groups.leave(ResourceManager.groupName) } catch { logger.warning("leaving the group: \(error)") }
        joined = false
    }

    // MARK: - quorumd

    private func cmanEvent(_ event: CmanIPC.Event) {
        switch event {
        case .notification(.stateChange):
            refreshCman()
        case .notification(.tryShutdown):
            let held = daemon?.core.activeServices ?? []
            do { try cman?.replyShutdown(allow: held.isEmpty) } catch { logger.warning("answering quorumd's shutdown question: \(error)") }
            if held.isEmpty {
                logger.notice("cluster shutdown requested: allowed (no service runs here)")
            } else {
                logger.notice("cluster shutdown requested: refused, \(held.map { "service:\($0)" }.joined(separator: ", ")) run here; stop rgmanager first")
            }
        case .notification(.configUpdate):
            daemon?.configurationDistributed()
        case .notification, .data:
            break
        }
    }

    /// quorumd's status and members; quorum goes to the core.
    func refreshCman() {
        guard let cman else { return }
        do {
            cmanStatus = try cman.status()
            cmanNodes = try cman.nodes()
        } catch {
            logger.warning("quorumd: \(error)")
            return
        }
        daemon?.feed(.quorum(cmanStatus!.quorate))
        applyCleanStart()
        checkFencing()
    }

    // MARK: - The group

    private func groupEvent(_ event: GroupIPC.Event) {
        guard let daemon else { return }
        switch event {
        case .configurationChange(let group, let members, _, let left, let ring, let viewNumber):
            guard group == ResourceManager.groupName else { return }
            let me = GroupIPC.Address(node: daemon.nodeID, pid: UInt32(bitPattern: getpid()))
            if members.contains(me) { joined = true } else if joined { joined = false }
            guard joined else { return }
            let nodes = Array(Set(members.map(\.node))).sorted()
            // groupd names a view by its ring and the stream position that installed it (0: provisional); the core's
            // view number is 32 bits, enough for any one ring's stream.
            let id = ResourceManager.ViewID(ring: ring, number: UInt32(truncatingIfNeeded: viewNumber))
            let leftText = left.isEmpty ? "" : "; left: " + left.map { "node \($0.address.node) (\($0.reason))" }.joined(separator: ", ")
            logger.notice("rgmanager group view \(id): nodes \(nodes.map(\.description).joined(separator: " "))\(leftText)")
            daemon.feed(.view(id, members: nodes))
            // A clean leave comes only after that rgmanager stopped its services and the table said so: the node
            // holds nothing, which is all fencing would have made sure of.
            for change in left where change.reason == .leave && !nodes.contains(change.address.node) {
                logger.notice("node \(change.address.node)'s rgmanager left cleanly (its services were stopped); nothing to fence for it")
                daemon.feed(.fenced(change.address.node))
            }
            checkFencing()
        case .delivery(let group, let sender, let payload):
            guard group == ResourceManager.groupName, joined else { return }
            daemon.feed(.delivered(from: sender.node, bytes: payload))
        case .totemConfiguration:
            break
        }
    }

    /// Multicasts to the group in agreed order; while groupd says "try again" the message waits, in order.
    func multicast(_ bytes: [UInt8]) {
        precondition(outbox.count - outboxHead < Self.outboxCountMax, "more than \(Self.outboxCountMax) rgmanager multicasts waiting for groupd")
        outbox.append(bytes)
        if outboxRetry == nil { drainOutbox() }
    }

    private func drainOutbox() {
        outboxRetry = nil
        while outboxHead < outbox.count, let groups {
            do {
                try groups.multicast(ResourceManager.groupName, outbox[outboxHead])
            } catch {
                if error.code == .tryAgain || error.code == .busy {
                    outboxRetry = loop.schedule(after: .milliseconds(10)) { [weak self] in self?.drainOutbox() }
                    return
                }
                logger.error("multicast to the \(ResourceManager.groupName) group failed: \(error)")
            }
            outbox[outboxHead] = []
            outboxHead += 1
        }
        if outboxHead == outbox.count {
            outbox.removeAll(keepingCapacity: true)
            outboxHead = 0
        }
    }
}
