// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterDaemonSupport
import ClusterIPC
import Logging
import ResourceAgents
import ResourceCore

/// Start-up (rules, trees, the cleanup of leftovers), reload and shutdown.
extension ResourceDaemon {
    // MARK: - Start-up

    /// Every agent's rule, from its `meta-data` (each failure logged with the agent's path). The watchdog is pinged
    /// between agents: this runs before the loop, and an agent may take its whole 10 s limit.
    static func loadRules(_ agentRunner: AgentRunner, config: ClusterConfiguration, runner: DaemonRunner) -> [String: ResourceManager.Rule] {
        let loader = RuleLoader(runner: agentRunner)
        let used = RuleLoader.usedTypes(config.resourceManager ?? ResourceManagerConfig())
        let types = agentRunner.locator.projectTypes() + Set(used.filter { AgentLocator.ocfAgent($0) != nil }).sorted()
        var rules: [String: ResourceManager.Rule] = [:]
        for type in types {
            runner.notifier.watchdog()
            switch loader.loadRule(type) {
            case .success(let rule): rules[type] = rule
            case .failure(let failure): runner.logger.error("\(failure)")
            }
        }
        runner.logger.info("loaded \(rules.count) resource rules")
        return rules
    }

    /// The service trees of `<rm>`; each problem is logged as FILE:LINE, and a service with an error is left out
    /// (named), the others go on.
    static func buildForest(config: ClusterConfiguration, rules: [String: ResourceManager.Rule], file: String,
                            logger: Logger) -> ResourceManager.Forest {
        if config.resourceManager == nil { logger.warning("\(file) has no <rm> section: rgmanager has no services to manage") }
        let rm = config.resourceManager ?? ResourceManagerConfig()
        var builder = ResourceManager.TreeBuilder(rules: rules, file: file)
        let forest = builder.build(rm)
        for d in forest.diagnostics {
            if d.severity == .warning { logger.warning("\(d)") } else { logger.error("\(d)") }
        }
        for name in forest.brokenServices {
            logger.error("service:\(name) has errors (above) and is not managed; fix \(file) and restart rgmanager")
        }
        return forest
    }

    /// Stops every configured service on this node before joining the group, as rgmanager did at start: a
    /// rgmanager that died may have left resources running, and the cluster must not start them a second time.
    /// A service whose stop fails keeps this node out of the group (retried every 10 s): the others then wait for
    /// this node rather than start it twice.
    func initializeServices() {
        initializing = true
        logger.info("Initializing services: stopping any left running on this node")
        // Dependents first, so a service stops before what it depends on.
        let order = specs.keys.sorted().sorted { a, b in (specs[a]?.depend != nil ? 0 : 1) < (specs[b]?.depend != nil ? 0 : 1) }
        var steps: [(String, ResourceManager.Step)] = []
        for name in order {
            for step in ResourceManager.Planner(rules: rules).plan(.stop, specs[name]!.tree) { steps.append((name, step)) }
        }
        runInitialization(steps[...], failures: [])
    }

    private func runInitialization(_ steps: ArraySlice<(String, ResourceManager.Step)>, failures: [String]) {
        guard let (service, step) = steps.first else { return initializationDone(failures: failures) }
        let resource = specs[service]!.tree[path: step.path]
        let timeout = rules[resource.type]?.timeout(for: "stop") ?? ResourceManager.defaultActionTimeout
        initCallID += 1
        agents.start(id: Self.initializationCallBase + initCallID, AgentCall(resource: resource, action: "stop", timeout: timeout)) {
            [unowned self] result, output in
            var failed = failures
            if !result.succeeded {
                logger.error("service:\(service): \(step) failed while initializing: \(result); its resources may still be held here\(output.isEmpty ? "" : "\n\(output)")")
                if !failed.contains(service) { failed.append(service) }
            }
            runInitialization(steps.dropFirst(), failures: failed)
        }
    }

    private func initializationDone(failures: [String]) {
        guard failures.isEmpty || shutdownReason != nil else {
            logger.error("not joining the rgmanager group: \(failures.map { "service:\($0)" }.joined(separator: ", ")) could not be stopped on this node; retrying in 10 s")
            runner.loop.schedule(after: .seconds(10)) { [weak self] in self?.initializeServices() }
            return
        }
        initializing = false
        logger.info("Services initialized")
        cluster.initialized()
        afterOutput()
    }

    /// Call ids of the start-up stops: far from the core's own, which count up from 1.
    static let initializationCallBase: UInt64 = 1 << 62

    // MARK: - Reload

    /// SIGHUP with a valid cluster.conf, or one quorumd distributed: the trees are rebuilt, the differences logged,
    /// and the new settings handed to the core, which stops removed services, restarts the changed parts of running
    /// ones and places added ones (see `ResourceManager.Event.reconfigure`). Rules are those loaded at start: a type
    /// no agent handled then (a new `ocf.*` agent) is reported as unknown until rgmanager restarts.
    func reload(_ conf: ClusterConfiguration) {
        let next = Self.buildForest(config: conf, rules: rules, file: runner.instance.configPath, logger: logger)
        let delta = ResourceManager.TreeDelta.between(forest.services, next.services)
        for d in delta { logger.notice("configuration change: \(d)") }
        if delta.isEmpty { logger.notice("configuration version \(conf.configVersion) reloaded: no service changed") }
        let settings = ResourceManager.Settings(configuration: conf, nodeID: nodeID, forest: next, rules: rules, wallClockOrigin: wallClockOrigin)
        forest = next
        specs = Dictionary(settings.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        feed(.reconfigure(settings))
    }

    // MARK: - Shutdown

    /// SIGTERM (`clean`), or a daemon rgmanager cannot work without went away (not `clean`): stop this node's
    /// services, wait until the table agrees they are stopped, leave the group, exit.
    func shutdown(reason: String, clean: Bool) {
        guard shutdownReason == nil else {
            logger.notice("\(reason) while shutting down: still stopping services")
            return
        }
        shutdownReason = reason
        cleanShutdown = clean
        logger.notice("\(reason): stopping this node's services, then leaving")
        feed(.leave)
    }

    /// The next step of a shutdown, after every input.
    func continueShutdown() {
        guard let reason = shutdownReason, !initializing, !leaveRequested else { return }
        switch core.leaveState {
        case .notLeaving:
            preconditionFailure("shutting down without having told the core")
        case .stopping:
            // Without the group the table cannot agree: leave once nothing runs here.
            guard !cleanShutdown || !cluster.joined, core.activeServices.isEmpty else { return }
            leaveRequested = true
            runner.stop(reason: reason, code: cleanShutdown ? .ok : .failure)
        case .ready:
            leaveRequested = true
            if cluster.joined {
                cluster.leaveGroup()
                // The leave travels in agreed order; give it a moment before the connection closes.
                runner.loop.schedule(after: .milliseconds(300)) { [unowned self] in
                    runner.stop(reason: reason, code: cleanShutdown ? .ok : .failure)
                }
            } else {
                runner.stop(reason: reason, code: cleanShutdown ? .ok : .failure)
            }
        case .stopFailed(let services):
            leaveRequested = true
            logger.error("\(services.map { "service:\($0)" }.joined(separator: ", ")) failed to stop: leaving without a clean leave, so the other nodes recover them only after this node is fenced")
            runner.stop(reason: "\(reason); services failed to stop", code: .failure)
        }
    }
}
