// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore
import ResourceCore
import TotemCore

/// The rgmanager layer of a stack simulation: a resource-manager core per node, fed by its totem core (views and
/// agreed messages on `resourceChannel`) and its quorum core, with simulated agents; fencing modelled as "node N
/// fenced", which a quorate partition does to a node missing from it after `fenceDelay` (powering it off: its
/// resources are gone); and `ResourceChecker`'s rule that no service ever has resources up on two nodes at once.
///
/// Deviation from production: the rgmanager messages travel on a totem channel of their own rather than through a
/// process group, so the rgmanager view is the totem configuration (every live node runs rgmanager here).
final class ResourceLayer {
    let config: ResourceSimulation
    var random: SeededRandom
    var checker = ResourceChecker()
    var cores: [Int: ResourceManager.StateMachine] = [:]
    /// The node incarnation each core (and the resources it started) belongs to: a restart is a reboot.
    var incarnation: [Int: Int] = [:]
    var fedQuorum: [Int: Bool] = [:]
    var deadlineGeneration: [Int: UInt64] = [:]
    var absentSince: [Int: MonotonicInstant] = [:]
    /// The incarnation of each node when it was last fenced (no second fencing of the same incarnation).
    var fencedIncarnation: [Int: Int] = [:]
    var nextRequest: UInt64 = 1
    /// Scripted scenarios (after `quiet()`) still fence live nodes; a run's healed phase does not.
    var fenceAfterHeal = false
    /// The rgmanager layer's recent events (notices, agent results, fencing), for failure reports.
    var log: [String] = []
    static let logLimit = 2_000

    func append(_ line: String) {
        log.append(line)
        if log.count > Self.logLimit { log.removeFirst(log.count - Self.logLimit) }
    }

    init(config: ResourceSimulation, seed: UInt64) {
        self.config = config
        random = SeededRandom(seed: seed).fork(label: "rgmanager")
    }
}

/// A scheduled event of the rgmanager layer.
enum ResourceTimer {
    case agentDone(node: Int, incarnation: Int, call: ResourceManager.AgentCall, ok: Bool)
    case deadline(node: Int, incarnation: Int, generation: UInt64)
    case tick
    /// Multicasts a core asked for, submitted to totem as a step of their own (never inside another node step's
    /// upcalls, which would reorder what the totem checker records).
    case submit(node: Int, incarnation: Int, bytes: [UInt8])
}

extension Simulation {
    /// The totem channel the simulated rgmanagers talk on.
    public static let resourceChannel: UInt16 = 3

    /// Adds the rgmanager layer (needs the quorum stack). Call before `run()`. A scripted scenario that calls
    /// `quiet()` passes `fenceAfterQuiet` to keep fencing live nodes cut off from the quorate side.
    public func enableResources(_ config: ResourceSimulation, fenceAfterQuiet: Bool = false) {
        precondition(stackSettings != nil, "the rgmanager layer needs quorum (Simulation(options:stack:))")
        resourceLayer = ResourceLayer(config: config, seed: options.seed)
        resourceLayer!.fenceAfterHeal = fenceAfterQuiet
        queue.push(.resource(.tick), at: now + .milliseconds(100))
    }

    /// The rgmanager layer's recent events, oldest first.
    public var resourceLog: [String] { resourceLayer?.log ?? [] }

    /// The rgmanager checker's findings and figures.
    public var resourceChecker: ResourceChecker? { resourceLayer?.checker }

    /// Node `i`'s view of the service table.
    public func serviceTable(_ i: Int) -> [String: ResourceManager.Record]? { resourceLayer?.cores[i]?.table }

    // MARK: - Feeding the cores

    /// The node's rgmanager core, a new one if the node restarted since (its resources went with the reboot).
    func resourceCore(_ n: SimNode) -> ResourceManager.StateMachine? {
        guard let layer = resourceLayer, n.isUp else { return nil }
        if layer.incarnation[n.index] != n.incarnation {
            layer.checker.cleared(node: n.index)
            layer.incarnation[n.index] = n.incarnation
            layer.fedQuorum[n.index] = nil
            layer.cores[n.index] = ResourceManager.StateMachine(settings: .init(
                nodeID: n.id, configuredNodes: nodes.map(\.id), services: layer.config.services, rules: layer.config.rules, statusChildMax: 2, mutations: layer.config.mutations))
        }
        return layer.cores[n.index]
    }

    func resourceEvent(_ n: SimNode, _ event: ResourceManager.Event) {
        guard let layer = resourceLayer, var core = resourceCore(n) else { return }
        let out = core.handle(event, at: localTime(n))
        layer.cores[n.index] = core
        for effect in out.effects {
            switch effect {
            case .multicast(let bytes):
                if let m = try? ResourceManager.Message.decode(bytes) { layer.append("\(now) n\(n.index + 1) sends \(Self.describe(m))") } // log only
                queue.push(.resource(.submit(node: n.index, incarnation: n.incarnation, bytes: bytes)), at: now)
            case .runAgent(let call):
                let rate: Double = switch call.action {
                case .start: layer.config.startFailure
                case .stop: layer.config.stopFailure
                case .status: layer.config.statusFailure
                }
                let failure = healed ? 0 : rate
                var delay = Duration.milliseconds(Int64(layer.random.next() % UInt64(max(1, layer.config.agentDelayMax.millisecondsClamped + 1))))
                var ok = !layer.random.chance(failure)
                // On the healed cluster agents answer in time: a call that outlives its timeout is a failure, and the
                // liveness check needs agents that do not fail (a status check timing out a third of the time would
                // keep services recovering forever).
                if healed && delay >= call.timeout { delay = call.timeout / 2 }
                if delay > call.timeout {
                    // The shell would kill it at its timeout: a failure then.
                    delay = call.timeout
                    ok = false
                }
                queue.push(.resource(.agentDone(node: n.index, incarnation: n.incarnation, call: call, ok: ok)), at: now + delay)
            case .reply(let id, let result):
                layer.append("\(now) n\(n.index + 1) request \(id): \(result)")
            case .notice(let text):
                if text.hasPrefix("Taking over") { layer.checker.takeoversAfterFencing += 1 }
                layer.append("\(now) n\(n.index + 1) \(text)")
            }
        }
        if let d = layer.cores[n.index]?.nextDeadline {
            layer.deadlineGeneration[n.index, default: 0] += 1
            queue.push(.resource(.deadline(node: n.index, incarnation: n.incarnation, generation: layer.deadlineGeneration[n.index]!)),
                       at: max(globalTime(n, d), now))
        }
    }

    /// Totem's upcalls for the rgmanager layer: regular configurations are views; channel-3 messages are its own.
    func resourceUpcall(_ n: SimNode, _ u: Totem.Upcall) {
        guard resourceLayer != nil else { return }
        switch u {
        case .configurationChange(let c) where c.kind == .regular:
            resourceLayer?.append("\(now) n\(n.index + 1) view \(c.ringID.sequence) \(c.members.map { "n\($0)" })")
            resourceEvent(n, .view(.init(ring: c.ringID.sequence, number: 0), members: c.members))
        case .message(let d) where d.channel == Self.resourceChannel:
            resourceEvent(n, .delivered(from: d.sender, bytes: d.payload))
        default:
            break
        }
    }

    /// Tells the node's core about a change of its quorum (after each totem step of that node).
    func resourceQuorum(_ n: SimNode) {
        guard let layer = resourceLayer, resourceCore(n) != nil else { return }
        let q = n.isUp && (n.quorum?.isQuorate ?? false)
        if layer.fedQuorum[n.index] != q {
            layer.fedQuorum[n.index] = q
            layer.append("\(now) n\(n.index + 1) quorate \(q)")
            resourceEvent(n, .quorum(q))
        }
    }

    func resourceTimer(_ t: ResourceTimer) {
        guard let layer = resourceLayer else { return }
        switch t {
        case .agentDone(let i, let inc, let call, let ok):
            let n = nodes[i]
            guard n.isUp, n.incarnation == inc, layer.incarnation[i] == inc else { return }
            layer.append("\(now) n\(i + 1) \(call.action.rawValue) \(call.service)\(call.path) \(ok ? "ok" : "FAILED") -> holders \(layer.checker.holders(call.service).map { "n\($0 + 1)" })")
            switch call.action {
            case .start:
                // A start that failed may still have left something up: held until a stop succeeds.
                layer.checker.started(node: i, service: call.service, path: call.path, at: now)
            case .stop:
                if ok { layer.checker.stopped(node: i, service: call.service, path: call.path) }
            case .status:
                if !ok { layer.checker.statusFailures += 1 }
            }
            resourceEvent(n, .agentFinished(id: call.id, succeeded: ok))
        case .deadline(let i, let inc, let generation):
            let n = nodes[i]
            guard n.isUp, n.incarnation == inc, layer.deadlineGeneration[i] == generation else { return }
            resourceEvent(n, .deadlineReached)
        case .submit(let i, let inc, let bytes):
            let n = nodes[i]
            guard n.isUp, n.incarnation == inc, var m = n.machine else { return }
            let o = m.handle(.submit(channel: Self.resourceChannel, payload: bytes, guarantee: .agreed), at: localTime(n))
            n.machine = m
            carryOut(n, o)
        case .tick:
            fenceMissingNodes()
            if !healed { adminWorkload() }
            queue.push(.resource(.tick), at: now + .milliseconds(100))
        }
    }

    static func describe(_ m: ResourceManager.Message) -> String {
        func rec(_ r: ResourceManager.Record) -> String {
            "\(r.state)@\(r.owner.map { "n\($0)" } ?? "-") gen \(r.generation)\(r.waitingFor.isEmpty ? "" : " waiting \(r.waitingFor)")\(r.failedOn.isEmpty ? "" : " failedOn \(r.failedOn)") \(r.intent)"
        }
        switch m {
        case .quorum(let v, let q): return "quorum \(v) \(q)"
        case .about(let v, let a): return "about \(v) locked \(a.locked) version \(a.configVersion) services \(a.services)"
        case .sync(let v, let records, let active, let fenced, let q, let a):
            return "sync \(v) quorate \(q) locked \(a.locked) active \(active) fenced \(fenced) " + records.keys.sorted().map { "\($0)=\(rec(records[$0]!))" }.joined(separator: " ")
        case .change(let v, let s, let g, let r): return "change \(v) \(s) from gen \(g): \(rec(r))"
        case .admin(let v, _, let id, let r, _): return "admin \(v) \(id) \(r)"
        }
    }

    // MARK: - Fencing

    /// A node missing from a quorate partition for `fenceDelay` is fenced: powered off (its resources are gone),
    /// and every live node is told.
    func fenceMissingNodes() {
        guard let layer = resourceLayer else { return }
        let quorate = nodes.filter { $0.isUp && ($0.quorum?.isQuorate ?? false) }
        for v in nodes {
            let missing = quorate.contains { q in q.index != v.index && !(q.machine?.members.contains(v.id) ?? true) }
            guard missing, layer.fencedIncarnation[v.index] != v.incarnation else {
                layer.absentSince[v.index] = nil
                continue
            }
            // After the heal, live nodes are joining, not failed: leave them be.
            if healed && v.isUp && !layer.fenceAfterHeal { continue }
            let since = layer.absentSince[v.index] ?? now
            layer.absentSince[v.index] = since
            guard now - since >= layer.config.fenceDelay else { continue }
            layer.absentSince[v.index] = nil
            layer.fencedIncarnation[v.index] = v.incarnation
            layer.checker.fencings += 1
            if v.machine != nil { crash(v, " (fenced)") }
            layer.checker.cleared(node: v.index)
            note("n\(v.index + 1) fenced")
            layer.append("\(now) n\(v.index + 1) fenced")
            for n in nodes where n.isUp && n.index != v.index { resourceEvent(n, .fenced(v.id)) }
        }
    }

    // MARK: - Administrators

    func adminWorkload() {
        guard let layer = resourceLayer, layer.random.chance(layer.config.adminProbability) else { return }
        let up = nodes.filter { $0.isUp && layer.cores[$0.index] != nil }
        guard let n = up.randomElement(using: &layer.random), let s = layer.config.services.randomElement(using: &layer.random) else { return }
        let target = layer.random.chance(0.3) ? up.randomElement(using: &layer.random)?.id : nil
        let requests: [ResourceManager.AdminRequest] = [
            .enable(service: s.name, target: target), .disable(service: s.name), .relocate(service: s.name, target: target),
            .restart(service: s.name), .stop(service: s.name), .freeze(service: s.name), .unfreeze(service: s.name),
        ]
        let r = requests.randomElement(using: &layer.random)!
        layer.checker.adminRequests += 1
        layer.nextRequest += 1
        layer.append("\(now) n\(n.index + 1) admin request \(layer.nextRequest): \(r)")
        resourceEvent(n, .request(id: layer.nextRequest, r))
    }

    // MARK: - Liveness on the healed cluster

    /// After the heal: clear admin leftovers (unfreeze, disable failed, enable), then every service must be started
    /// on exactly one node, with every table the same, within the bound.
    func resourceLiveness() {
        guard let layer = resourceLayer else { return }
        let bound = now + .seconds(60)
        var nextNudge = now
        while now < bound {
            if now >= nextNudge, let n = nodes.first(where: { $0.isUp }), let core = layer.cores[n.index] {
                nextNudge = now + .seconds(2)
                for name in core.table.keys.sorted() {
                    let r = core.table[name]!
                    layer.nextRequest += 1
                    if r.flags.contains(.frozen) { resourceEvent(n, .request(id: layer.nextRequest, .unfreeze(service: name))) }
                    else if r.state == .failed { resourceEvent(n, .request(id: layer.nextRequest, .disable(service: name))) }
                    else if r.state == .disabled || (r.state == .stopped && r.held) {
                        resourceEvent(n, .request(id: layer.nextRequest, .enable(service: name, target: nil)))
                    }
                }
            }
            runUntil(now + .milliseconds(100))
            if resourcesSettled() { return }
        }
        // A cluster where no node is quorate after the heal (every node Disallowed by the others) may not start
        // anything: nothing to require of rgmanager then.
        if !nodes.filter(\.isUp).contains(where: { $0.quorum?.isQuorate ?? false }) {
            layer.checker.inquorateAfterHeal += 1
            return
        }
        let tables = nodes.filter(\.isUp).map { n in
            "n\(n.index + 1)\(layer.cores[n.index]?.synced == true ? "" : " (not synced)")\(layer.cores[n.index]?.coordinator == n.id ? " (coordinator)" : ""): "
                + (layer.cores[n.index]?.table.keys.sorted().map { k in
                let r = layer.cores[n.index]!.table[k]!
                return "\(k)=\(r.state)@\(r.owner.map { "n\($0)" } ?? "-")/g\(r.generation)\(r.waitingFor.isEmpty ? "" : " waiting \(r.waitingFor)")\(r.held ? " held" : "")"
            }.joined(separator: " ") ?? "no core")
        }
        layer.checker.fail("rgmanager liveness: services not each started once within 60 s of the heal: "
                           + layer.config.services.map { "\($0.name) on \(layer.checker.holders($0.name).map { "n\($0 + 1)" })" }.joined(separator: ", ")
                           + "; tables: " + tables.joined(separator: " | "))
    }

    func resourcesSettled() -> Bool {
        guard let layer = resourceLayer else { return true }
        let up = nodes.filter(\.isUp)
        guard !up.isEmpty, up.allSatisfy({ layer.cores[$0.index]?.synced == true }) else { return false }
        let tables = up.map { layer.cores[$0.index]!.table }
        guard tables.allSatisfy({ $0 == tables[0] }) else { return false }
        let core = layer.cores[up[0].index]!
        return layer.config.services.allSatisfy { s in
            guard let r = tables[0][s.name] else { return false }
            if r.state == .started, let o = r.owner { return layer.checker.holders(s.name) == [Int(o.rawValue) - 1] }
            // A service no member may run (restricted domain, exclusive, its dependency unplaceable) stays stopped.
            return r.state == .stopped && r.owner == nil && !r.held && layer.checker.holders(s.name).isEmpty
                && core.placementTarget(for: s.name) == nil
        }
    }
}
