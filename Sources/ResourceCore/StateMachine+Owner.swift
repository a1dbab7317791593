// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// What this node knows of a service it runs: which resources may be up, the operation in progress, status checks.
struct LocalService: Sendable {
    /// Some resources may be up (a start began and no stop has fully succeeded since).
    var active = false
    /// The whole start plan succeeded.
    var running = false
    /// A stop failed: resources may still be held, and nothing is retried on its own.
    var stopFailed = false
    /// The failed stop's "failed" is not in the table yet: it waits for this node's earlier change from the same
    /// generation (one proposal per generation) to be delivered.
    var failurePending = false
    var operation: Operation?
    var restartTimes: [MonotonicInstant] = []
    /// Per status check (index into the spec's checks): when it is next due.
    var due: [Int: MonotonicInstant] = [:]
    /// The status check in progress: call id and check index.
    var checking: (id: UInt64, check: Int)?
    /// Whether status checks may run (set by the state machine when it evaluates the service).
    var checksEnabled = false
    /// The tree this node's resources of the service were started from: stops use it, so a reload that changed or
    /// removed a resource still stops it as it was started.
    var startedTree: ResourceManager.Resource?

    var nextCheckDue: MonotonicInstant? { checksEnabled && operation == nil && checking == nil ? due.values.min() : nil }
}

/// A plan being walked: agent calls one at a time, start aborting at the first failure, stop going on.
struct Operation: Sendable {
    enum Kind: Sendable, Equatable {
        case start
        case stop
        /// Stop, then start again on this node.
        case restart
        /// The stop after a failed start.
        case stopAfterFailedStart
        /// An independent subtree (path) restarted after its status check failed.
        case subtreeRestart([Int])
        /// A non-critical subtree stopped after its status check failed.
        case subtreeStop([Int])
        /// A reload changed the running service's tree: the changed subtrees stop (old tree) and start (new tree).
        case reconfigure
    }
    var kind: Kind
    var steps: [ResourceManager.PlannedStep]
    /// Steps to run after `steps` succeed (a restart's start half).
    var then: [ResourceManager.PlannedStep] = []
    /// The tree the resources come from once `then` begins (a restart or reconfiguration starts the new one).
    var thenTree: ResourceManager.Resource?
    var index = 0
    var failed = false
    var callID: UInt64?
}

extension ResourceManager.StateMachine {
    // MARK: - Plans

    /// The steps of `action` on `tree` (or its subtree at `path`), each with its resource and timeout.
    func plan(_ action: ResourceManager.Action, _ tree: ResourceManager.Resource?, at path: [Int] = []) -> [ResourceManager.PlannedStep] {
        guard let tree else { return [] }
        return steps(ResourceManager.Planner(rules: settings.rules).plan(action, tree, at: path), in: tree)
    }

    func steps(_ list: [ResourceManager.Step], in tree: ResourceManager.Resource) -> [ResourceManager.PlannedStep] {
        list.map {
            let resource = tree[path: $0.path]
            return ResourceManager.PlannedStep(step: $0, resource: resource,
                                               timeout: settings.rules[resource.type]?.timeout(for: $0.action.rawValue) ?? ResourceManager.defaultActionTimeout)
        }
    }

    /// The tree this node's resources of `name` were started from (else the configured one).
    func startedTree(_ name: String) -> ResourceManager.Resource? { local[name]?.startedTree ?? specs[name]?.tree }

    mutating func begin(_ name: String, _ kind: Operation.Kind) {
        var op: Operation
        let configured = specs[name]?.tree, started = startedTree(name)
        switch kind {
        case .start:
            op = Operation(kind: kind, steps: plan(.start, configured))
            local[name, default: LocalService()].active = true
            local[name]!.startedTree = configured
        case .stop, .stopAfterFailedStart:
            op = Operation(kind: kind, steps: plan(.stop, started))
            local[name, default: LocalService()].stopFailed = false
            local[name]!.failurePending = false
        case .restart:
            op = Operation(kind: kind, steps: plan(.stop, started), then: plan(.start, configured), thenTree: configured)
        case .subtreeRestart(let path):
            op = Operation(kind: kind, steps: plan(.stop, started, at: path), then: plan(.start, started, at: path))
        case .subtreeStop(let path):
            op = Operation(kind: kind, steps: plan(.stop, started, at: path))
        case .reconfigure:
            guard let old = started, let new = configured else { return }
            let r = ResourceManager.Reconfiguration.between(old, new, rules: settings.rules)
            op = Operation(kind: kind, steps: steps(r.stop, in: old), then: steps(r.start, in: new), thenTree: new)
            if r.stop.isEmpty {
                op.steps = op.then
                op.then = []
                op.thenTree = nil
                local[name]!.startedTree = new
            }
        }
        local[name, default: LocalService()].operation = op
        local[name]!.checking = nil
        advance(name)
    }

    /// Issues the operation's next call, or finishes it.
    mutating func advance(_ name: String) {
        guard var op = local[name]?.operation else { return }
        if op.index < op.steps.count {
            let s = op.steps[op.index]
            let id = nextCallID
            nextCallID += 1
            op.callID = id
            local[name]!.operation = op
            output.effects.append(.runAgent(ResourceManager.AgentCall(id: id, service: name, path: s.step.path, resource: s.resource,
                                                                    action: s.step.action, depth: 0, timeout: s.timeout)))
            return
        }
        if !op.failed && !op.then.isEmpty {
            // The stop half went well: the start half.
            if case .restart = op.kind { local[name]!.active = true }
            if let t = op.thenTree { local[name]!.startedTree = t }
            local[name]!.operation = Operation(kind: op.kind == .restart ? .start : op.kind, steps: op.then)
            if case .subtreeRestart = op.kind { local[name]!.operation!.kind = .subtreeRestart([]) }
            advance(name)
            return
        }
        local[name]!.operation = nil
        finished(name, op)
    }

    /// A stop failed: resources may still be held here, so the service is failed (never started elsewhere) until an
    /// administrator disables it.
    mutating func markStopFailed(_ name: String, _ what: String) {
        local[name]!.stopFailed = true
        notice("service:\(name) failed to stop\(what) on this node; marking it failed")
        publishStopFailure(name)
    }

    /// Proposes `failed` for a service of this node whose stop failed here. While a change this node sent from the
    /// table's generation is still on its way (the restart's "recovering", say, when the stop failed before it was
    /// delivered) a proposal would be dropped, so it stays pending and `reconcileLocal` proposes it once the table
    /// has moved on; otherwise the service would stay in its old state for good (nothing retries a failed stop).
    mutating func publishStopFailure(_ name: String) {
        guard let rec = table[name], rec.owner == nodeID else {
            local[name]?.failurePending = false
            return
        }
        guard view != nil, sent[name] != rec.generation else {
            local[name]!.failurePending = true
            return
        }
        local[name]!.failurePending = false
        var r = rec
        r.state = .failed
        propose(name, r)
    }

    /// True when `op` (of kind `.reconfigure`) failed in its stop half: it never reached the new tree (only the
    /// first half carries `thenTree`).
    func failedBeforeNewTree(_ name: String, _ op: Operation) -> Bool {
        op.failed && op.thenTree != nil
    }

    mutating func finished(_ name: String, _ op: Operation) {
        switch op.kind {
        case .start:
            if op.failed {
                notice("service:\(name) failed to start on this node; stopping it")
                begin(name, .stopAfterFailedStart)
                return
            }
            local[name]!.running = true
            scheduleChecks(name)
            notice("Service service:\(name) started")
        case .stop, .restart, .stopAfterFailedStart:
            local[name]!.running = false
            if op.failed { return markStopFailed(name, "") }
            local[name]!.active = false
            notice("Service service:\(name) is stopped")
            if op.kind == .stopAfterFailedStart, let rec = table[name], rec.owner == nodeID, synced, quorate {
                var r = rec
                r.state = .stopped
                r.lastOwner = nodeID
                r.owner = nil
                if !r.failedOn.contains(nodeID) { r.failedOn.append(nodeID) }
                propose(name, r)
            }
        case .subtreeRestart:
            if op.failed {
                // The subtree could not be restarted: recover the whole service.
                statusFailed(name, path: [], independent: false)
            } else {
                scheduleChecks(name)
            }
        case .reconfigure:
            if failedBeforeNewTree(name, op) {
                // A changed resource would not stop: it may still be held, as after any failed stop.
                local[name]!.running = false
                return markStopFailed(name, " a changed resource")
            }
            if let t = op.thenTree { local[name]!.startedTree = t }
            if op.failed {
                notice("service:\(name) failed to start a changed resource; recovering the service")
                statusFailed(name, path: [], independent: false)
                return
            }
            notice("Service service:\(name) reconfigured")
            scheduleChecks(name)
        case .subtreeStop:
            if let rec = table[name], rec.owner == nodeID {
                var r = rec
                r.flags.insert(.partial)
                propose(name, r)
            }
            scheduleChecks(name)
        }
    }

    mutating func agentFinished(_ id: UInt64, _ ok: Bool) {
        for name in local.keys.sorted() {
            if local[name]!.operation?.callID == id {
                var op = local[name]!.operation!
                op.callID = nil
                if !ok {
                    op.failed = true
                    let s = op.steps[op.index]
                    notice("\(s.step) failed for service:\(name)")
                    // A failure ends a start (rgmanager's rule); a stop goes on with the rest.
                    if s.step.action == .start { op.index = op.steps.count - 1 }
                }
                op.index += 1
                local[name]!.operation = op
                advance(name)
                return
            }
            if let c = local[name]!.checking, c.id == id {
                local[name]!.checking = nil
                if !ok, let spec = specs[name] {
                    let path = spec.checks[c.check].path
                    notice("status check of \(spec.tree[path: path].displayName) (depth \(spec.checks[c.check].depth)) failed for service:\(name)")
                    statusFailed(name, path: path, independent: true)
                }
                return
            }
        }
    }

    // MARK: - Recovery after a failed status check

    mutating func statusFailed(_ name: String, path: [Int], independent: Bool) {
        guard let spec = specs[name], let rec = table[name], rec.owner == nodeID else { return }
        if independent, let sub = independentAncestor(spec.tree, path) {
            let node = spec.tree[path: sub]
            begin(name, node.options.nonCritical ? .subtreeStop(sub) : .subtreeRestart(sub))
            return
        }
        var r = rec
        var policy = spec.recovery
        if policy == .restart && spec.maxRestarts > 0 {
            let window = spec.restartExpireTime
            local[name]!.restartTimes.removeAll { window > .zero && now - $0 >= window }
            if local[name]!.restartTimes.count >= spec.maxRestarts {
                notice("service:\(name) restarted \(spec.maxRestarts) times within its window; relocating")
                policy = .relocate
            }
        }
        if policy == .restart && locked {
            notice("service:\(name) would restart in place, but this node is locked (clusvcadm -l); relocating")
            policy = .relocate
        }
        switch policy {
        case .restart:
            local[name]!.restartTimes.append(now)
            r.state = .recovering
            r.restarts += 1
            propose(name, r)
            begin(name, .restart)
        case .relocate:
            r.state = .stopping
            r.intent = .relocate(nil)
            propose(name, r)
        case .disable:
            r.state = .stopping
            r.intent = .disable
            propose(name, r)
        }
    }

    /// The nearest node on `path` (from the resource up) marked `__independent_subtree`, if any.
    func independentAncestor(_ tree: ResourceManager.Resource, _ path: [Int]) -> [Int]? {
        var p = path
        while !p.isEmpty {
            if tree[path: p].options.independentSubtree { return p }
            p.removeLast()
        }
        return nil
    }

    // MARK: - Keeping local truth and the table together

    /// Starts or stops this node's services as the table and quorum say, and reports finished work.
    mutating func reconcileLocal() {
        let keep = settings.mutations.contains(.keepServicesWithoutQuorum)
        for name in retiring.sorted() { retire(name) }
        pruneRemoved()
        for name in specs.keys.sorted() {
            var loc = local[name] ?? LocalService()
            let rec = table[name]!
            let mine = synced && rec.owner == nodeID
            loc.checksEnabled = mine && rec.state == .started && quorate && !rec.flags.contains(.frozen) && loc.running
                && (loc.startedTree == nil || loc.startedTree == specs[name]!.tree)
            local[name] = loc
            if let op = loc.operation {
                // Quorum lost in the middle of a start: stop once the current call ends.
                if !quorate && !keep && (op.kind == .start || op.kind == .restart) && op.callID == nil {
                    begin(name, .stop)
                }
                continue
            }
            if loc.failurePending { publishStopFailure(name) }
            // After a failed stop nothing is retried on its own; an administrator's disable (state stopping) is the
            // request to try again.
            if loc.stopFailed && !(mine && rec.state == .stopping && quorate) { continue }
            if !quorate {
                if loc.active && !keep {
                    notice("Stopping service service:\(name): no quorum")
                    begin(name, .stop)
                } else if mine && !loc.active && rec.state.holdsResources && rec.state != .failed && sent[name] != rec.generation {
                    // Saying "stopped here" is always true, quorum or not: the quorate members can place it again.
                    var r = rec
                    r.state = .stopped
                    r.owner = nil
                    r.lastOwner = nodeID
                    propose(name, r)
                }
                continue
            }
            guard synced else { continue }
            guard mine else {
                // Never hold what the table gives to another node or to none.
                if loc.active {
                    notice("Stopping service service:\(name): the service table does not give it to this node")
                    begin(name, .stop)
                }
                continue
            }
            // A change this node sent from this generation is on its way: act on its outcome, not before (a start
            // that just failed must not be tried again while the table still says starting here).
            if sent[name] == rec.generation { continue }
            reconcileOwned(name, rec, loc)
        }
    }

    mutating func reconcileOwned(_ name: String, _ rec: ResourceManager.Record, _ loc: LocalService) {
        var r = rec
        switch rec.state {
        case .starting, .recovering:
            if locked && !loc.running {
                // Placed here before the lock was agreed, or a restart in place: this node starts nothing.
                notice("service:\(name) is not started: this node is locked (clusvcadm -l)")
                if loc.active {
                    r.state = .stopping
                    r.intent = .relocate(nil)
                } else {
                    r.state = .stopped
                    r.owner = nil
                    r.lastOwner = nodeID
                }
                propose(name, r)
            } else if loc.running {
                r.state = .started
                r.failedOn = []
                r.preferred = nil
                r.intent = .none
                propose(name, r)
            } else if rec.state == .recovering && loc.active {
                begin(name, .restart)
            } else {
                begin(name, .start)
            }
        case .started:
            if !loc.active {
                r.state = .stopped
                r.owner = nil
                r.lastOwner = nodeID
                propose(name, r)
            } else if !loc.running {
                if locked {
                    r.state = .stopping
                    r.intent = .relocate(nil)
                    propose(name, r)
                } else {
                    begin(name, .start)
                }
            } else if !rec.flags.contains(.frozen), let started = loc.startedTree, let tree = specs[name]?.tree, started != tree {
                // A reload changed the tree under the running service.
                if ResourceManager.Reconfiguration.between(started, tree, rules: settings.rules).isEmpty {
                    local[name]!.startedTree = tree
                } else {
                    notice("service:\(name) changed: restarting its changed resources")
                    begin(name, .reconfigure)
                }
            }
        case .stopping:
            if loc.active {
                if case .restart = rec.intent {
                    r.state = .recovering
                    r.intent = .none
                    r.restarts += 1
                    propose(name, r)
                    begin(name, .restart)
                } else {
                    begin(name, .stop)
                }
                return
            }
            r.owner = nil
            r.lastOwner = nodeID
            r.state = .stopped
            switch rec.intent {
            case .none, .restart: break
            case .disable: r.state = .disabled
            case .stop: r.held = true
            case .relocate(let t):
                r.preferred = t
                if !r.failedOn.contains(nodeID) { r.failedOn.append(nodeID) }
            }
            r.intent = .none
            propose(name, r)
        case .stopped, .disabled, .failed, .uninitialized, .checking, .recoverable, .migrating:
            if loc.active && rec.state != .failed { begin(name, .stop) }
        }
    }

    // MARK: - Services a reload removed

    /// Removed from the configuration but still (partly) held here: they are stopped, then forgotten.
    var retiring: Set<String> {
        Set(local.keys.filter { specs[$0] == nil && (local[$0]!.active || local[$0]!.operation != nil) })
    }

    /// Stops a removed service held here (as it was started), then says in the table that it is disabled (as
    /// rgmanager disables a service removed from the configuration).
    mutating func retire(_ name: String) {
        let loc = local[name]!
        guard loc.operation == nil else { return }
        local[name]!.checksEnabled = false
        if loc.active && !loc.stopFailed {
            notice("service:\(name) was removed from the configuration: stopping it")
            begin(name, .stop)
        }
    }

    /// Forgets removed services: their local state once nothing is held, their row once this node no longer owns
    /// it in the table (a row it owns is first reported disabled, so the others do not wait for it).
    mutating func pruneRemoved() {
        for name in local.keys.sorted() where specs[name] == nil && !local[name]!.active && local[name]!.operation == nil {
            local[name] = nil
        }
        for name in table.keys.sorted() where specs[name] == nil && local[name] == nil {
            let rec = table[name]!
            if rec.owner == nodeID && rec.state.holdsResources {
                guard synced, sent[name] != rec.generation else { continue }
                var r = rec
                r.state = .disabled
                r.owner = nil
                r.lastOwner = nodeID
                r.intent = .none
                propose(name, r)
                continue
            }
            table[name] = nil
            sent[name] = nil
        }
    }

    // MARK: - Status checks

    mutating func scheduleChecks(_ name: String) {
        guard let spec = specs[name] else { return }
        local[name]!.due = Dictionary(spec.checks.indices.map { ($0, now + spec.checks[$0].interval) }, uniquingKeysWith: { a, _ in a })
    }

    /// Starts due checks, deepest first per resource, at most `statusChildMax` at once on this node.
    mutating func runStatusChecks() {
        var running = local.values.filter { $0.checking != nil }.count
        for name in specs.keys.sorted() where running < settings.statusChildMax {
            guard let loc = local[name], loc.checksEnabled, loc.operation == nil, loc.checking == nil, let spec = specs[name] else { continue }
            let due = loc.due.keys.sorted().filter { loc.due[$0]! <= now }
            guard let first = due.first else { continue }
            // The deepest due check of that resource covers the shallower ones (OCF_CHECK_LEVEL is cumulative).
            let path = spec.checks[first].path
            let same = due.filter { spec.checks[$0].path == path }
            let chosen = same.max { spec.checks[$0].depth < spec.checks[$1].depth }!
            for i in same { local[name]!.due[i] = now + spec.checks[i].interval }
            let id = nextCallID
            nextCallID += 1
            local[name]!.checking = (id, chosen)
            let c = spec.checks[chosen]
            output.effects.append(.runAgent(ResourceManager.AgentCall(id: id, service: name, path: c.path, resource: spec.tree[path: c.path],
                                                                    action: .status, depth: c.depth, timeout: c.timeout)))
            running += 1
        }
    }
}
