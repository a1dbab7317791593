// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import TotemLink
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import GroupCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// groupd: closed process groups for any local process. A totemd client on the group channel that feeds
/// `ProcessGroup.StateMachine` and serves the libcpg-like API (service `groupd`).
public final class GroupDaemon: IPCServiceHandler {
    let instance: NodeInstance
    let logger: Logger
    let loop = EventLoop()
    let notifier = SystemdNotifier()
    var core: ProcessGroup.StateMachine?
    var totem: TotemChannel!
    var server: IPCServer!
    var connections: [UInt64: IPCConnection] = [:]
    var exitCode = DaemonExitCode.ok
    var stopping = false
    var ready = false
    /// Multicasts waiting because totemd pushes back; IPC flow control holds clients meanwhile.
    var blocked = false
    private var flowCheckScheduled = false
    private var deadlineTimer: EventLoop.Timer?
    private var scheduledDeadline: MonotonicInstant?
    /// Messages waiting for totemd before clients are told to back off.
    static let totemBacklogMax = 256

    public init(instance: NodeInstance, logger: Logger) {
        self.instance = instance
        self.logger = logger
    }

    public func run() -> DaemonExitCode {
        server = IPCServer(name: instance.ipcName(ServiceName.groups), loop: loop, handler: self)
        server.log = { [logger] in logger.warning("\($0)") }
        do { try server.start() } catch {
            logger.critical("cannot serve IPC: \(error)")
            return .unavailable
        }
        loop.onSignal(SIGTERM) { [unowned self] in self.stopAnnounced("SIGTERM") }
        loop.onSignal(SIGINT) { [unowned self] in self.stopAnnounced("SIGINT") }
        if let interval = notifier.watchdogInterval { watchdog(interval) }
        notifier.status("waiting for totemd")
        totem = TotemChannel(instance: instance, channel: ProcessGroup.channel, loop: loop)
        totem.onConnected = { [unowned self] node, conf in
            logger.info("connected to totemd as node \(node)")
            core = ProcessGroup.StateMachine(nodeID: node, incarnation: UInt32(bitPattern: getpid()))
            if let conf { configuration(conf) }
        }
        totem.onEvent = { [unowned self] e in
            switch e {
            case .configuration(let c): configuration(c)
            case .delivery(let ch, let sender, _, let payload, let position):
                if ch == ProcessGroup.channel {
                    feed(.delivered(from: sender, bytes: payload, position: position))
                    logger.debug("delivery from node \(sender): \((try? ProcessGroup.Message.decode(payload)).map { "\($0)" } ?? "?"); syncing: \(core?.isSyncing ?? false)")
                }
            }
        }
        totem.onFailure = { [unowned self] error in
            logger.critical("lost totemd: \(error)")
            stop("totemd unavailable", .failure)
        }
        totem.connect()
        loop.run()
        server.stop()
        totem.close()
        return exitCode
    }

    private func configuration(_ c: TotemIPC.Configuration) {
        guard core != nil else { return }
        feed(.configuration(c))
        logger.debug("\(c.kind) configuration \(c.ringID) members \(c.members); syncing: \(core?.isSyncing ?? false)")
        if c.kind == .regular, ready {
            notifier.status(statusLine)
        }
    }

    private var statusLine: String {
        "\(core?.allGroups.count ?? 0) group(s), ring \(core?.ringSequence ?? 0) with \(core?.nodes.count ?? 0) node(s)"
    }

    @discardableResult
    func feed(_ event: ProcessGroup.Event) -> ProcessGroup.RequestResult? {
        guard var c = core else { return nil }
        let out = c.handle(event, at: EventLoop.now())
        core = c
        for e in out.effects {
            switch e {
            case .multicast(let bytes): totem.multicast(bytes)
            case .event(let h, let ev): send(ev, to: h)
            }
        }
        updateFlowControl()
        rescheduleDeadline()
        // READY only once the first sync is over: until then groupd does not know the groups (corosync's rule).
        if !ready, c.synchronised {
            ready = true
            notifier.ready(status: statusLine)
        }
        return out.result
    }

    private func rescheduleDeadline() {
        let next = core?.nextDeadline
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

    private func send(_ ev: ProcessGroup.ClientEvent, to h: ProcessGroup.Handle) {
        guard let c = connections[h] else { return }
        switch ev {
        case .configurationChange(let change):
            c.sendEvent(GroupIPC.Event.configurationChange(
                group: change.group, members: change.members,
                joined: change.joined.map { GroupIPC.Change(address: $0.0, reason: GroupIPC.Reason(rawValue: $0.1.rawValue)!) },
                left: change.left.map { GroupIPC.Change(address: $0.0, reason: GroupIPC.Reason(rawValue: $0.1.rawValue)!) },
                ringSequence: change.ringSequence, viewNumber: change.viewNumber))
        case .delivery(let g, let sender, let payload):
            c.sendEvent(GroupIPC.Event.delivery(group: g, sender: sender, payload: payload))
        case .totemConfiguration(let ring, let rep, let members):
            c.sendEvent(GroupIPC.Event.totemConfiguration(ringSequence: ring, ringRepresentative: rep, members: members))
        }
    }

    /// Clients' one-way multicasts are throttled while totemd pushes back. Called after every event; while blocked,
    /// one timer at a time checks again.
    private func updateFlowControl() {
        let shouldBlock = (totem?.backlog ?? 0) > Self.totemBacklogMax
        if shouldBlock != blocked {
            blocked = shouldBlock
            server.setFlowControl(blocked: shouldBlock)
        }
        if blocked && !flowCheckScheduled {
            flowCheckScheduled = true
            loop.schedule(after: .milliseconds(5)) { [weak self] in
                self?.flowCheckScheduled = false
                self?.updateFlowControl()
            }
        }
    }

    // MARK: - IPC

    public func connected(_ c: IPCConnection) { connections[c.id] = c }

    public func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        let request: GroupIPC.Request
        do { request = try GroupIPC.Request.decode(messageID: messageID, body: body) } catch {
            logger.warning("client pid \(c.pid) sent an invalid request \(messageID): \(error)")
            if GroupIPC.Request.expectsReply(messageID: messageID) { c.respond(messageID: messageID, status: .invalidRequest) }
            return
        }
        guard let state = core, !state.nodes.isEmpty else {
            if case .mcast = request { return }
            c.respond(GroupIPC.Response.refused("groupd is not yet part of a ring"), status: .notReady)
            return
        }
        switch request {
        case .join(let g, let totemEvents):
            if totemEvents { feed(.subscribeTotem(handle: c.id)) }
            reply(c, feed(.join(handle: c.id, pid: UInt32(bitPattern: c.pid), group: g)))
        case .leave(let g):
            reply(c, feed(.leave(handle: c.id, group: g)))
        case .mcast(let g, let payload):
            if feed(.mcast(handle: c.id, group: g, payload: payload)) != .ok {
                logger.debug("dropped a multicast from pid \(c.pid) to \(g): not a member")
            }
        case .members(let g):
            c.respond(GroupIPC.Response.members(state.members(of: g)))
        case .groups:
            c.respond(GroupIPC.Response.groups(state.allGroups.map { GroupIPC.GroupInfo(name: $0.name, members: $0.members, syncing: state.isSyncing) }))
        case .localNodeID:
            c.respond(GroupIPC.Response.nodeID(state.nodeID))
        }
    }

    private func reply(_ c: IPCConnection, _ result: ProcessGroup.RequestResult?) {
        switch result {
        case .ok, nil: c.respond(GroupIPC.Response.done)
        case .exists: c.respond(GroupIPC.Response.refused("already a member of that group"), status: .exists)
        case .busy: c.respond(GroupIPC.Response.refused("a join or leave of this handle is still pending"), status: .busy)
        case .tryAgain: c.respond(GroupIPC.Response.refused("this process's previous membership has not settled yet"), status: .tryAgain)
        case .notMember: c.respond(GroupIPC.Response.refused("not a member of that group"), status: .notFound)
        case .invalid(let why): c.respond(GroupIPC.Response.refused(why), status: .invalidRequest)
        }
    }

    public func disconnected(_ c: IPCConnection) {
        connections[c.id] = nil
        feed(.processGone(handle: c.id))
    }

    // MARK: - Lifecycle

    private func watchdog(_ interval: Duration) {
        notifier.watchdog()
        loop.schedule(after: interval) { [weak self] in self?.watchdog(interval) }
    }

    /// A graceful stop: the peers are told first, so this node's processes leave everywhere with reason process
    /// down and no sync waits for this groupd; the message gets a moment to go out.
    private func stopAnnounced(_ reason: String) {
        guard !stopping else { return }
        if core?.nodes.isEmpty == false {
            feed(.stop)
            loop.schedule(after: .milliseconds(200)) { [unowned self] in self.stop(reason, .ok) }
        } else {
            stop(reason, .ok)
        }
    }

    func stop(_ reason: String, _ code: DaemonExitCode) {
        guard !stopping else { return }
        stopping = true
        logger.notice("groupd stopping (\(reason))")
        notifier.stopping()
        exitCode = code
        loop.stop()
    }
}
