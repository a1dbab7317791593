// SPDX-License-Identifier: Apache-2.0
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import GroupCore
import Logging
import TotemLink
#if canImport(Glibc)
import Glibc
#endif

/// groupd: closed process groups for any local process, on the `DaemonRunner`. A totemd client on the group channel
/// that feeds `ProcessGroup.StateMachine` (through a `CoreDriver`, created once totemd has said which node this is)
/// and serves the libcpg-like API (service `groupd`); it carries out the core's effects: multicasts, and events to
/// its clients, with flow control both ways.
public final class GroupDaemon: IPCServiceHandler {
    let runner: DaemonRunner
    var logger: Logger { runner.logger }
    /// Exists once connected to totemd.
    var driver: CoreDriver<ProcessGroup.StateMachine>?
    var core: ProcessGroup.StateMachine? { driver?.core }
    var totem: TotemChannel!
    var server: IPCServer!
    var connections: [UInt64: IPCConnection] = [:]
    /// Multicasts waiting because totemd pushes back; IPC flow control holds clients meanwhile.
    var blocked = false
    private var flowCheckScheduled = false
    private var stopAnnounced = false
    /// Messages waiting for totemd before clients are told to back off: a few milliseconds of totemd's pace, at most
    /// 256 (`PacedBacklogMark`).
    private var backlogMark = PacedBacklogMark()
    /// Bytes waiting for totemd before clients are told to back off: under one visit's worth of frames (60 of 1,500
    /// bytes), so that a saturated ring's senders wait in their own `send`, not in groupd's queue (256 messages of
    /// 16 KiB were 4 MiB here, a quarter of a second of the whole ring's traffic; 128 KiB doubled the median latency
    /// with five 1 KiB senders against 64 KiB, for no more throughput).
    static let totemBacklogBytesMax = 64 << 10
    private var sampler: QueueSampler?

    public init(runner: DaemonRunner) { self.runner = runner }

    /// Serves IPC and connects to totemd; the runner's loop does the rest.
    public func start() throws(StartupError) {
        server = try runner.serve(ServiceName.groups, handler: self)
        runner.onStop = { [unowned self] signal in announceStop(signal) }
        runner.status("waiting for totemd")
        totem = TotemChannel(instance: runner.instance, channel: ProcessGroup.channel, loop: runner.loop)
        totem.onConnected = { [unowned self] node, conf in
            logger.info("connected to totemd as node \(node)")
            let driver = CoreDriver(core: ProcessGroup.StateMachine(nodeID: node, incarnation: UInt32(bitPattern: getpid())), loop: runner.loop)
            driver.perform = { [unowned self] out in carryOut(out) }
            self.driver = driver
            if let conf { configuration(conf) }
        }
        totem.onEvent = { [unowned self] e in
            switch e {
            case .configuration(let c): configuration(c)
            case .delivery(let ch, let sender, _, let payload, let position):
                guard ch == ProcessGroup.channel else { return }
                driver?.feed(.delivered(from: sender, bytes: payload, position: position))
                logger.debug("delivery from node \(sender): \(Self.describe(payload)); syncing: \(core?.isSyncing ?? false)")
            case .sendReady: break  // TotemChannel acts on it
            }
        }
        totem.onFailure = { [unowned self] error in
            guard !runner.isStopping else { return }
            logger.critical("lost totemd: \(error)")
            runner.stop(reason: "totemd unavailable", code: .failure)
        }
        runner.atExit { [totem] in totem?.close() }
        totem.connect()
        sampler = QueueSampler.start(loop: runner.loop, logger: logger, gauges: [
            ("to_totemd_msgs", { [unowned self] in totem.backlog }), ("to_totemd_bytes", { [unowned self] in totem.backlogBytes }),
            ("client_fc", { [unowned self] in blocked ? 1 : 0 }),
            ("to_clients_events", { [unowned self] in connections.values.reduce(0) { $0 + $1.queuedEventCount } }),
            ("to_clients_bytes", { [unowned self] in connections.values.reduce(0) { $0 + $1.queuedEventBytes } }),
        ])
    }

    /// A group message for the debug log (a multicast's payload by size only).
    static func describe(_ payload: [UInt8]) -> String {
        // A message that does not decode is logged as such; the core drops it.
        guard let m = try? ProcessGroup.Message.decode(payload) else { return "undecodable (\(payload.count) bytes)" }
        if case .mcast(let g, let pid, let p) = m { return "mcast(group: \(g), pid: \(pid), \(p.count) bytes)" }
        return "\(m)"
    }

    private func configuration(_ c: TotemIPC.Configuration) {
        guard let driver else { return }
        driver.feed(.configuration(c))
        logger.debug("\(c.kind) configuration \(c.ringID) members \(c.members); syncing: \(core?.isSyncing ?? false)")
        if c.kind == .regular, runner.isReady { runner.status(statusLine) }
    }

    private var statusLine: String {
        "\(core?.allGroups.count ?? 0) group(s), ring \(core?.ringSequence ?? 0) with \(core?.nodes.count ?? 0) node(s)"
    }

    /// Hands a client's request to the core and returns its answer. Requests come from IPC callbacks on the loop,
    /// never while an output is being carried out, so the core answers at once.
    private func request(_ event: ProcessGroup.Event) -> ProcessGroup.RequestResult? {
        guard let driver else { return nil }
        guard let out = driver.feed(event) else {
            preconditionFailure("groupd: a request arrived while an output was being carried out")
        }
        return out.result
    }

    // MARK: - Carrying out the core's output

    private func carryOut(_ out: ProcessGroup.Output) {
        for e in out.effects {
            switch e {
            case .multicast(let bytes): totem.multicast(bytes)
            case .event(let h, let ev): send(ev, to: h)
            }
        }
        updateFlowControl()
        // READY only once the first sync is over: until then groupd does not know the groups (corosync's rule).
        if !runner.isReady, core?.synchronised == true { runner.ready(statusLine) }
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

    /// Clients' one-way multicasts are throttled while totemd pushes back. Called after every output; while
    /// blocked, one timer at a time checks again.
    private func updateFlowControl() {
        backlogMark.observe(taken: totem?.taken ?? 0, holding: blocked, at: EventLoop.now())
        let shouldBlock = Self.shouldHoldClients(backlog: totem?.backlog ?? 0, backlogBytes: totem?.backlogBytes ?? 0,
                                                 mark: backlogMark.value)
        if shouldBlock != blocked {
            blocked = shouldBlock
            server.setFlowControl(blocked: shouldBlock)
        }
        if blocked && !flowCheckScheduled {
            flowCheckScheduled = true
            runner.loop.schedule(after: .milliseconds(5)) { [unowned self] in
                flowCheckScheduled = false
                updateFlowControl()
            }
        }
    }

    /// Whether clients' multicasts must wait (IPC flow control) while `backlog` messages of `backlogBytes` bytes
    /// wait for totemd: past either mark (`mark` messages, or `totemBacklogBytesMax`).
    static func shouldHoldClients(backlog: Int, backlogBytes: Int, mark: Int) -> Bool {
        backlog > mark || backlogBytes > totemBacklogBytesMax
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
        // Read in place (`core` would copy the whole state machine for every multicast).
        guard let driver, !driver.core.nodes.isEmpty else {
            if case .mcast = request { return }
            c.respond(GroupIPC.Response.refused("groupd is not yet part of a ring"), status: .notReady)
            return
        }
        switch request {
        case .join(let g, let totemEvents):
            if totemEvents { driver.feed(.subscribeTotem(handle: c.id)) }
            reply(c, self.request(.join(handle: c.id, pid: UInt32(bitPattern: c.pid), group: g)))
        case .leave(let g):
            reply(c, self.request(.leave(handle: c.id, group: g)))
        case .mcast(let g, let payload):
            if self.request(.mcast(handle: c.id, group: g, payload: payload)) != .ok {
                logger.debug("dropped a multicast from pid \(c.pid) to \(g): not a member")
            }
        case .members(let g):
            c.respond(GroupIPC.Response.members(driver.core.members(of: g)))
        case .groups:
            let state = driver.core
            c.respond(GroupIPC.Response.groups(state.allGroups.map { GroupIPC.GroupInfo(name: $0.name, members: $0.members, syncing: state.isSyncing) }))
        case .localNodeID:
            c.respond(GroupIPC.Response.nodeID(driver.core.nodeID))
        }
    }

    private func reply(_ c: IPCConnection, _ result: ProcessGroup.RequestResult?) {
        switch result {
        case .ok, nil: c.respond(GroupIPC.Response.done)
        case .exists: c.respond(GroupIPC.Response.refused("already a member of that group"), status: .exists)
        case .busy: c.respond(GroupIPC.Response.refused("a join or leave of this handle is still pending"), status: .busy)
        case .tryAgain where core?.synchronised != true:
            c.respond(GroupIPC.Response.refused("groupd has not synchronised with the other nodes yet"), status: .tryAgain)
        case .tryAgain: c.respond(GroupIPC.Response.refused("this process's previous membership has not settled yet"), status: .tryAgain)
        case .notMember: c.respond(GroupIPC.Response.refused("not a member of that group"), status: .notFound)
        case .invalid(let why): c.respond(GroupIPC.Response.refused(why), status: .invalidRequest)
        }
    }

    public func disconnected(_ c: IPCConnection) {
        connections[c.id] = nil
        driver?.feed(.processGone(handle: c.id))
    }

    // MARK: - Stopping

    /// A graceful stop (SIGTERM, SIGINT): the peers are told first, so this node's processes leave everywhere with
    /// reason process down and no sync waits for this groupd; the message gets a moment to go out.
    private func announceStop(_ signal: String) {
        guard !stopAnnounced else { return }
        stopAnnounced = true
        guard let driver, !driver.core.nodes.isEmpty else { return runner.stop(reason: signal) }
        driver.feed(.stop)
        runner.loop.schedule(after: .milliseconds(200)) { [unowned self] in runner.stop(reason: signal) }
    }
}
