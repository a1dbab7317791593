// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterConfigModel
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import FenceAgents
import FenceCore
import Glibc
import Logging

extension Fence.StateMachine: DaemonCore {
    public static var deadlineReached: Fence.Event { .deadlineReached }
}

/// fenced: the thin shell around `Fence.StateMachine` (the fence domain's decisions) on the `DaemonRunner`.
///
/// It owns the I/O and nothing else: quorumd's view and notifications (`QuorumLink`), the domain's process group in
/// groupd (`DomainGroup`), the agents (`AgentSupervisor`) and the IPC services (`FenceClientService`). Every input
/// goes to the core through one `CoreDriver`; every output is carried out completely, in order, before the next
/// input (`FenceDaemon+Effects`).
///
/// Start-up: the IPC services answer at once ("starting" until the core exists); fenced connects to quorumd and
/// groupd (waiting for them up to `connectWaitMax`), creates the core with this node's id and its own pid, feeds it
/// quorumd's view, says READY, and joins the domain once the cluster is quorate (the unit's `fence_tool join`, as
/// cman's init script did after `cman_tool wait -q`) unless `FENCE_JOIN=no`.
public final class FenceDaemon {
    let runner: DaemonRunner
    var logger: Logger { runner.logger }
    var settings: Fence.Settings
    let quorum: QuorumLink
    let domain: DomainGroup
    let agents: AgentSupervisor
    var driver: CoreDriver<Fence.StateMachine>?
    var clients: FenceClientService!
    var clientServer: IPCServer!
    var adminServer: IPCServer!
    var dump = DumpBuffer()
    /// Join the domain at start (the unit's `fence_tool join`).
    let joinAtStart: Bool
    var joinAtStartDone = false
    /// What the core was last told of quorum (only changes are fed).
    var lastQuorum: QuorumView?
    /// The victims subscribers were last told about.
    var announcedVictims: Set<NodeID> = []
    /// What fenced is waiting for before its core exists.
    private(set) var startupState = "connecting to quorumd"
    private var connectStarted: MonotonicInstant?
    private var waitingLogged = false
    /// SIGTERM asked for a clean leave; the daemon stops when the domain is left or after `leaveWaitMax`.
    var stopping = false
    /// Why fenced is stopping (a signal, or quorumd gone) and the exit code it stops with.
    private var stopReason = "SIGTERM"
    private var stopCode = DaemonExitCode.ok

    /// How long fenced waits for quorumd and groupd to come up before giving up (exit 69).
    public static let connectWaitMax: Duration = .seconds(60)
    static let connectRetryInterval: Duration = .milliseconds(200)
    /// How long a SIGTERM waits for the clean leave of the domain before stopping anyway.
    public static let leaveWaitMax: Duration = .seconds(5)

    /// Reads the fencing settings; throws a message and exit code if they cannot be used.
    public init(runner: DaemonRunner) throws(StartupError) {
        self.runner = runner
        settings = Fence.Settings(config: runner.config)
        let problems = settings.validate()
        guard problems.isEmpty else {
            throw StartupError("fence settings in \(runner.instance.configPath): \(problems.joined(separator: "; "))", .configInvalid)
        }
        let environment = ProcessEnvironment.current
        let join = environment["FENCE_JOIN"]?.lowercased() ?? "yes"
        guard ["yes", "no", "1", "0", "true", "false"].contains(join) else {
            throw StartupError("FENCE_JOIN=\(join): say yes or no", .usage)
        }
        joinAtStart = ["yes", "1", "true"].contains(join)
        quorum = QuorumLink(instance: runner.instance, loop: runner.loop)
        domain = DomainGroup(instance: runner.instance, loop: runner.loop)
        agents = AgentSupervisor(locator: AgentLocator(configured: runner.config.fenceDaemon.agentPath), loop: runner.loop)
    }

    /// Serves IPC and starts connecting to quorumd and groupd; the runner's loop does the rest.
    public func start() throws(StartupError) {
        clients = FenceClientService(daemon: self)
        clientServer = try runner.serve(ServiceName.fence, handler: clients)
        adminServer = try runner.serve(ServiceName.fenceAdmin, rootOnly: true, handler: clients)
        runner.onStop = { [unowned self] signal in shutdown(signal) }
        runner.onReload = { [unowned self] config in reconfigure(config) }
        runner.atExit { [unowned self] in
            agents.killAll()
            domain.close()
            quorum.close()
        }
        wireLinks()
        runner.status("starting: \(startupState)")
        log(.info, "fenced starting: cluster \(runner.config.name), \(settings.nodes.count) configured node(s), post_join_delay "
            + "\(Self.seconds(settings.postJoinDelay)), post_fail_delay \(Self.seconds(settings.postFailDelay)), clean_start "
            + "\(settings.cleanStart ? 1 : 0), agent search path \(agents.locator.searchPath.joined(separator: ":"))")
        connect()
    }

    static func seconds(_ d: Duration?) -> String { d.map { "\($0.millisecondsClamped / 1000) s" } ?? "-1 (until the victims rejoin)" }

    /// True once the core exists and requests can be served.
    var isRunning: Bool { driver != nil }

    /// The domain as this node sees it.
    var domainStatus: Fence.DomainStatus { driver!.core.status }

    private func wireLinks() {
        quorum.onNotification = { [unowned self] reason in quorumNotification(reason) }
        quorum.onFailure = { [unowned self] error in lost("quorumd", "\(error)") }
        domain.onView = { [unowned self] view in driver?.feed(.domainView(view)) }
        domain.onMessage = { [unowned self] from, bytes in driver?.feed(.delivered(from: from, bytes: bytes)) }
        domain.onJoinRefused = { [unowned self] error in
            log(.error, "groupd refused to let fenced join \(Fence.groupName): \(error); fence_tool leave, then fence_tool join, tries again")
        }
        domain.onNotMember = { [unowned self] in
            // groupd says this process is in no such group: the leave is complete as far as the group is concerned.
            guard let me = driver?.core.me else { return }
            driver?.feed(.domainView(Fence.DomainView(members: [], joined: [], left: [Fence.Departure(me, .clean)],
                                                      ringSequence: lastQuorum?.ringSequence ?? 0)))
        }
        domain.onFailure = { [unowned self] why in lost("groupd", why) }
        domain.onDebug = { [unowned self] text in log(.debug, text) }
        agents.onFinished = { [unowned self] run, report, result in
            if let report {
                log(.debug, "agent run \(run.id) (\(run)) ended after \(report.duration.millisecondsClamped) ms: \(report.outcome)")
            }
            driver?.feed(.agentFinished(result))
        }
    }

    // MARK: - Start-up

    /// Connects to quorumd and groupd, retrying while they start; then creates the core.
    private func connect() {
        guard !runner.isStopping else { return }
        let now = EventLoop.now()
        if connectStarted == nil { connectStarted = now }
        do {
            if quorum.client == nil {
                startupState = "connecting to quorumd"
                try quorum.connect()
            }
            if domain.client == nil {
                startupState = "connecting to groupd"
                try domain.connect()
            }
            try createCore()
        } catch {
            let waiting = [ClusterError.Code.notRunning, .notReady, .tryAgain, .disconnected].contains(error.code)
            if error.code == .disconnected {
                // One of them went away while fenced was starting: connect to both afresh.
                quorum.close()
                domain.close()
            }
            guard waiting, now - connectStarted! < Self.connectWaitMax else {
                runner.stop(reason: "\(startupState) failed: \(error)", code: waiting ? .unavailable : .failure)
                return
            }
            if !waitingLogged {
                waitingLogged = true
                log(.notice, "\(startupState): \(error); trying again for up to \(Self.connectWaitMax)")
                runner.status("starting: \(startupState)")
            }
            runner.loop.schedule(after: Self.connectRetryInterval) { [weak self] in self?.connect() }
        }
    }

    /// Creates the core (once) with this node's id, feeds it quorumd's view and tells systemd fenced is ready.
    private func createCore() throws(ClusterError) {
        if driver == nil {
            let nodeID = try quorum.localNode()
            guard nodeID.rawValue != 0 else { throw ClusterError(.notReady, "quorumd does not know this node's id yet") }
            let core = Fence.StateMachine(nodeID: nodeID, pid: UInt32(getpid()), settings: settings, clock: Self.wallClockAnchor())
            let d = CoreDriver(core: core, loop: runner.loop)
            d.perform = { [unowned self] out in carryOut(out) }
            driver = d
            log(.info, "fenced running as node \(settings.name(of: nodeID)) (id \(nodeID)), pid \(getpid())"
                + (quorum.admin ? "" : "; quorumd's admin service is not open to this user: kills and fence records will be refused"))
        }
        try refreshQuorum()
        runner.ready(domainStatus.statusLine)
        joinIfDue()
    }

    /// Ties the monotonic clock to the start of the current wall-clock second, so that the core's fence times are the
    /// wall clock's own seconds, not up to a second early: a control daemon takes a failure as fenced only when the
    /// fence time is not before the second it saw the failure in.
    static func wallClockAnchor() -> Fence.WallClockAnchor {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let now = EventLoop.now()
        let fraction = UInt64(wall.tv_nsec)
        guard now.nanoseconds >= fraction else { return Fence.WallClockAnchor(instant: now, secondsSinceEpoch: UInt64(wall.tv_sec)) }
        return Fence.WallClockAnchor(instant: MonotonicInstant(nanoseconds: now.nanoseconds - fraction), secondsSinceEpoch: UInt64(wall.tv_sec))
    }

    // MARK: - Quorum

    private func quorumNotification(_ reason: CmanIPC.Reason) {
        switch reason {
        case .stateChange:
            do { try refreshQuorum() } catch { lost("quorumd", "\(error)") }
        case .tryShutdown:
            // cman's rule for fenced: a node in the fence domain does not leave the cluster until it left the domain.
            let phase = driver?.core.phase ?? .outside
            let allow = phase == .outside
            log(allow ? .info : .notice, "quorumd asks whether this node may leave the cluster: "
                + (allow ? "yes" : "no: this node is in the fence domain (\(phase.rawValue)); fence_tool leave first"))
            do { try quorum.replyShutdown(allow: allow) } catch { log(.warning, "cannot answer quorumd's shutdown question: \(error)") }
        case .configUpdate:
            // A configuration quorumd distributed: the runner's validated reload, as SIGHUP does.
            log(.info, "quorumd installed a new cluster.conf; reloading it")
            raise(SIGHUP)
        case .portOpened, .portClosed:
            break
        }
    }

    /// Feeds quorumd's view to the core when it changed.
    func refreshQuorum() throws(ClusterError) {
        guard let driver else { return }
        let view = try quorum.quorumView()
        guard view != lastQuorum else { return }
        lastQuorum = view
        driver.feed(view.event)
        joinIfDue()
    }

    /// Joins the domain at start, once, when the cluster is quorate.
    private func joinIfDue() {
        guard joinAtStart, !joinAtStartDone, !stopping, let driver, lastQuorum?.quorate == true else { return }
        joinAtStartDone = true
        log(.info, "the cluster is quorate: joining the fence domain")
        if case .refused(let why)? = driver.feed(.request(.join))?.result { log(.warning, "cannot join the fence domain: \(why)") }
    }

    // MARK: - Requests, reload, stop

    /// A client's request to the core; the answer is the core's.
    func request(_ r: Fence.Request, from c: IPCConnection) -> Fence.RequestResult {
        guard let driver else { return .refused("fenced is starting: \(startupState)") }
        if stopping, case .join = r { return .refused("fenced is stopping") }
        log(.info, "\(Self.describe(r)) requested by pid \(c.pid)")
        if case .join = r { joinAtStartDone = true }
        return driver.feed(.request(r))?.result ?? .refused("fenced is busy; try again")
    }

    static func describe(_ r: Fence.Request) -> String {
        switch r {
        case .join: "join"
        case .leave: "leave"
        case .acknowledge(let n): "fence_ack_manual of node \(n)"
        case .externallyFenced(let n, let agent): "fence_node report (node \(n) fenced by \(agent))"
        }
    }

    private func reconfigure(_ config: ClusterConfiguration) {
        let next = Fence.Settings(config: config)
        let problems = next.validate()
        guard problems.isEmpty else {
            log(.error, "keeping the running fence settings: \(problems.joined(separator: "; "))")
            return
        }
        settings = next
        agents.use(AgentLocator(configured: config.fenceDaemon.agentPath))
        driver?.feed(.reconfigure(next))
        log(.info, "fence settings from configuration version \(config.configVersion): \(next.nodes.count) node(s)")
    }

    /// SIGTERM or SIGINT: agents are killed, the domain is left cleanly (this node does not become a victim), then
    /// fenced stops; at most `leaveWaitMax` is spent waiting for the leave.
    private func shutdown(_ signal: String) {
        guard !stopping else { return }
        stopping = true
        stopReason = signal
        agents.killAll()
        guard let driver, driver.core.phase != .outside else {
            runner.stop(reason: signal, code: stopCode)
            return
        }
        log(.notice, "\(signal): leaving the fence domain before stopping")
        runner.status("stopping: leaving the fence domain")
        if case .refused(let why)? = driver.feed(.request(.leave))?.result {
            runner.stop(reason: "\(signal) (the fence domain could not be left: \(why))", code: stopCode)
            return
        }
        runner.loop.schedule(after: Self.leaveWaitMax) { [weak self] in
            guard let self else { return }
            runner.stop(reason: "\(signal) (the fence domain was not left within \(Self.leaveWaitMax))", code: stopCode)
        }
        stopIfLeft()
    }

    /// After SIGTERM: stops once the domain is left.
    func stopIfLeft() {
        guard stopping, driver?.core.phase == .outside else { return }
        runner.stop(reason: "\(stopReason); left the fence domain", code: stopCode)
    }

    private func lost(_ daemon: String, _ why: String) {
        guard !runner.isStopping, !stopping else { return }
        if daemon == "quorumd" {
            // groupd is still there, so the domain can be left cleanly: the others then do not remove this node for
            // a fence daemon that died. systemd restarts quorumd, and fenced with it (BindsTo=), which joins again.
            log(.error, "lost quorumd: \(why); leaving the fence domain cleanly, then stopping")
            stopCode = .failure
            shutdown("quorumd unavailable")
            return
        }
        log(.critical, "lost \(daemon): \(why); stopping (the other members see this fence daemon go)")
        agents.killAll()
        runner.stop(reason: "\(daemon) unavailable", code: .failure)
    }

    // MARK: - Logging

    /// Logs `text` at `level` and keeps it for `fence_tool dump`.
    func log(_ level: Logger.Level, _ text: String) {
        dump.append(level.rawValue, text)
        logger.log(level: level, "\(text)")
    }
}
