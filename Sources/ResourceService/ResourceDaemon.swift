// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterConfig
import ClusterConfigModel
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Foundation
import Logging
import ResourceAgents
import ResourceCore

extension ResourceManager.StateMachine: DaemonCore {
    public static var deadlineReached: ResourceManager.Event { .deadlineReached }
}

/// rgmanager: the shell around `ResourceManager.StateMachine`, on the `DaemonRunner`. It feeds the core quorumd's
/// quorum, the rgmanager group's views and messages (through groupd), fenced's reports, agent results, clusvcadm's
/// requests and its deadlines, and carries out the core's effects in order: multicast to the group, run an agent,
/// answer a request, log a notice. Every decision is the core's; this file only moves bytes and processes.
///
/// Life: start → stop every configured service on this node (a crashed rgmanager may have left resources up, as
/// rgmanager's own start did) → join the group → READY once the service table is agreed. SIGTERM stops this node's
/// services (the others start them elsewhere), waits until the table says so, leaves the group and exits.
public final class ResourceDaemon {
    let runner: DaemonRunner
    var logger: Logger { runner.logger }
    var config: ClusterConfiguration { runner.config }
    let nodeID: NodeID
    let nodeName: String
    let rules: [String: ResourceManager.Rule]
    /// The services as built from the running configuration (replaced by a reload).
    var forest: ResourceManager.Forest
    var specs: [String: ResourceManager.ServiceSpec]
    /// Wall-clock seconds at `MonotonicInstant.zero`, fixed at start (a reload keeps it).
    let wallClockOrigin: UInt64
    let driver: CoreDriver<ResourceManager.StateMachine>
    var core: ResourceManager.StateMachine { driver.core }
    let agents: AgentSupervisor
    let cluster: ClusterLinks
    var clients: ResourceClientService!
    /// Initialization (stopping leftovers) still running.
    var initializing = true
    /// SIGTERM or a lost daemon: winding down.
    var shutdownReason: String?
    /// The status line last sent to systemd.
    var lastStatus = ""
    /// The shutdown was asked for (SIGTERM), not forced by a lost daemon.
    var cleanShutdown = true
    /// The group has been left (or the loop told to stop): nothing more to do but wait.
    var leaveRequested = false
    /// Start-up stops issued so far.
    var initCallID: UInt64 = 0

    /// Loads the agents' rules and builds the service trees; every problem is logged with its line and the good
    /// services go on. Throws only when this node cannot be identified or no agent directory exists.
    public init(runner: DaemonRunner) throws(StartupError) {
        self.runner = runner
        let config = runner.config, logger = runner.logger
        let identity: NodeIdentity
        do { identity = try NodeIdentity.resolve(config: config, name: runner.requestedNodeName) } catch {
            throw StartupError(error.description, .unavailable)
        }
        nodeID = NodeID(identity.node.nodeID)
        nodeName = identity.node.name
        guard let locator = AgentLocator.standard() else {
            throw StartupError("no resource agent directory found (looked in \(AgentLocator.searchPaths.joined(separator: ", "))); "
                               + "install agents/ to /usr/share/cluster/agents or set CLUSTER_AGENT_DIR", .unavailable)
        }
        var environment = AgentRunner(locator: locator).baseEnvironment
        // What agents may use to tell nodes apart: the node's name (the demo agent writes it), and a node-local
        // directory for their state files (resource-agents' HA_RSCTMP).
        environment["CLUSTER_NODE_NAME"] = identity.node.name
        environment["HA_RSCTMP"] = runner.instance.runDirectory + "/rsctmp"
        let agentRunner = AgentRunner(locator: locator, baseEnvironment: environment)
        do { try FileIO.makeDirectories(runner.instance.runDirectory + "/rsctmp", mode: 0o755) } catch {
            throw StartupError("cannot make the agents' state directory: \(error)", .ioError)
        }
        logger.info("rgmanager starting: node \(identity.node.name) (id \(identity.node.nodeID)), agents in \(locator.agentDirectory)")
        rules = Self.loadRules(agentRunner, config: config, runner: runner)
        forest = Self.buildForest(config: config, rules: rules, file: runner.instance.configPath, logger: logger)
        wallClockOrigin = Self.wallClockOrigin()
        let settings = ResourceManager.Settings(configuration: config, nodeID: nodeID, forest: forest, rules: rules,
                                                wallClockOrigin: wallClockOrigin)
        specs = Dictionary(settings.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        driver = CoreDriver(core: ResourceManager.StateMachine(settings: settings), loop: runner.loop)
        agents = AgentSupervisor(loop: runner.loop, runner: agentRunner)
        cluster = ClusterLinks(instance: runner.instance, loop: runner.loop, logger: logger)
    }

    /// Starts everything on the loop: the IPC service, the cluster connections, the cleanup of leftovers.
    public func start() throws(StartupError) {
        driver.perform = { [unowned self] out in carryOut(out) }
        clients = ResourceClientService(daemon: self)
        try runner.serve(ServiceName.resources, handler: clients)
        runner.onStop = { [unowned self] signal in shutdown(reason: signal, clean: true) }
        runner.onReload = { [unowned self] conf in reload(conf) }
        cluster.daemon = self
        logger.info("\(specs.count) service(s) configured: \(specs.keys.sorted().map { "service:\($0)" }.joined(separator: ", "))")
        updateStatus()
        cluster.connect()
        initializeServices()
    }

    // MARK: - Driving the core

    /// Feeds one event (never from inside `carryOut`: the driver queues those).
    func feed(_ event: ResourceManager.Event) {
        driver.feed(event)
        afterOutput()
    }

    /// Carries out one output of the core, IN ORDER: multicasts, agent calls, replies, notices.
    func carryOut(_ out: ResourceManager.Output) {
        for effect in out.effects {
            switch effect {
            case .multicast(let bytes):
                cluster.multicast(bytes)
            case .runAgent(let call):
                runAgent(call)
            case .reply(let id, let result):
                clients.reply(id, result)
            case .notice(let text):
                logger.notice("\(text)")
                if text.hasPrefix("Waiting for"), !cluster.fencedConnected {
                    logger.error("fenced is not running on this node: failed nodes cannot be reported fenced, so this wait ends only when fenced runs (or the node's rgmanager returns)")
                }
            }
        }
    }

    /// What follows any input: readiness, the status line, and the steps of a shutdown.
    func afterOutput() {
        if !runner.isReady && core.synced { runner.ready(activity) } else { updateStatus() }
        if shutdownReason != nil { continueShutdown() }
    }

    func runAgent(_ call: ResourceManager.AgentCall) {
        // The core names the resource as the agent must see it (a stop after a reload uses the definition it was
        // started with).
        let resource = call.resource
        let label = "[\(call.action.rawValue)\(call.action == .status && call.depth > 0 ? " depth \(call.depth)" : "")] \(resource.displayName) of service:\(call.service)"
        logger.debug("\(label)")
        agents.start(id: call.id, AgentCall(resource: resource, action: call.action.rawValue, depth: call.depth, timeout: call.timeout)) {
            [unowned self] result, output in
            let text = output.split(separator: "\n").suffix(20).joined(separator: "\n")
            if result.succeeded {
                logger.info("\(label): \(result)")
                if !text.isEmpty { logger.debug("\(text)") }
            } else {
                logger.warning("\(label) failed: \(result)\(text.isEmpty ? "" : "\n\(text)")")
            }
            feed(.agentFinished(id: call.id, succeeded: result.succeeded))
        }
    }

    // MARK: - Status

    /// One line on what rgmanager is doing or waiting for.
    var activity: String {
        if let reason = shutdownReason { return "shutting down (\(reason)): stopping this node's services" }
        if let missing = cluster.missingDaemon { return "waiting for \(missing)" }
        if initializing { return "stopping services left from before (initializing)" }
        if !cluster.joined { return "joining the rgmanager group" }
        if !core.synced { return "synchronising the service table" }
        if !core.quorate { return "not quorate: services stopped" }
        let waiting = config.nodes.map { NodeID($0.nodeID) }.filter { !core.members.contains($0) && !core.fenced.contains($0) }
        if !waiting.isEmpty {
            let fencedNote = cluster.fencedConnected ? "" : "; fenced is not running, so it never will be"
            return "waiting for node(s) \(waiting.map(\.description).joined(separator: ", ")) to be fenced before placing services\(fencedNote)"
        }
        let here = core.runningServices.count
        return "\(here) service(s) here, \(core.table.values.filter { $0.state == .started }.count) of \(core.table.count) started; "
            + "coordinator node \(core.coordinator.map(\.description) ?? "none")"
            + (cluster.fencedConnected ? "" : "; fenced is not running")
    }

    func updateStatus() {
        let line = activity
        guard line != lastStatus else { return }
        lastStatus = line
        runner.status(line)
    }

    // MARK: - Helpers

    /// Wall-clock seconds at `MonotonicInstant.zero`, so the core's `lastTransition` is a real time.
    static func wallClockOrigin() -> UInt64 {
        let wall = UInt64(Date().timeIntervalSince1970)
        let mono = UInt64(max(0, (EventLoop.now() - .zero).components.seconds))
        return wall >= mono ? wall - mono : 0
    }
}
