// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import FenceCore
import GroupCore
import QuorumCore
import TotemCore

/// How the fence layer of a stack simulation behaves: the domain's delays, and simulated fence devices that
/// succeed, fail or hang by seed.
public struct FencingOptions: Sendable, CustomStringConvertible {
    public var postJoinDelay: Duration? = .milliseconds(500)
    public var postFailDelay: Duration? = .zero
    public var cleanStart = false
    public var agentTimeout: Duration = .seconds(2)
    /// Fence methods per node (each with one device); a pass fails only when all fail.
    public var methods = 2
    /// Per agent run: the chance it succeeds, and that it hangs until its timeout.
    public var successProbability = 0.7
    public var hangProbability = 0.05
    /// How long a run takes when it does not hang.
    public var agentMillisecondsMin: Int64 = 1
    public var agentMillisecondsMax: Int64 = 800
    /// Deliberate weakenings of the fence core (mutation tests only).
    public var mutations: Fence.Mutations = []

    public init() {}

    /// Devices that always work, in `agentMilliseconds` (scripted scenarios).
    public static func reliable(agentMilliseconds: ClosedRange<Int64> = 1...800) -> FencingOptions {
        var f = FencingOptions()
        f.successProbability = 1
        f.hangProbability = 0
        f.agentMillisecondsMin = agentMilliseconds.lowerBound
        f.agentMillisecondsMax = agentMilliseconds.upperBound
        return f
    }

    /// Options drawn from `seed` (delays, device behaviour).
    public init(seed: UInt64) {
        var r = SeededRandom(seed: seed).fork(label: "fencing-options")
        postJoinDelay = [.zero, .milliseconds(300), .seconds(1)].randomElement(using: &r)!
        postFailDelay = [.zero, .zero, .milliseconds(500)].randomElement(using: &r)!
        methods = Int.random(in: 1...2, using: &r)
        successProbability = [0.5, 0.8, 1.0].randomElement(using: &r)!
        hangProbability = [0, 0.05, 0.1].randomElement(using: &r)!
        agentMillisecondsMax = [50, 400, 1_500].randomElement(using: &r)!
    }

    public var description: String {
        "fencing: post_join=\(postJoinDelay.map { "\($0.millisecondsClamped)ms" } ?? "-1") post_fail=\(postFailDelay.map { "\($0.millisecondsClamped)ms" } ?? "-1") methods=\(methods) success=\(successProbability) hang=\(hangProbability) agent<=\(agentMillisecondsMax)ms\(mutations.isEmpty ? "" : " MUTATIONS: \(mutations)")"
    }

    /// The fence settings every node runs with: node k is fenced by devices `pdu<m>` with port k.
    func settings(nodes: Int) -> Fence.Settings {
        let plans = (1...max(nodes, 1)).map { k in
            Fence.NodePlan(id: NodeID(UInt32(k)), name: "n\(k)", methods: (1...methods).map { m in
                Fence.MethodPlan(name: "\(m)", devices: [Fence.DevicePlan(name: "pdu\(m)", agent: "fence_sim", nodeArguments: [.init("port", "\(k)")])])
            })
        }
        var s = Fence.Settings(nodes: plans, postJoinDelay: postJoinDelay, postFailDelay: postFailDelay, cleanStart: cleanStart,
                               agentTimeout: agentTimeout, retryBackoffInitial: .milliseconds(500), retryBackoffMax: .seconds(4))
        s.mutations = mutations
        return s
    }
}

/// The fence layer's state in a stack simulation: a fence core per node, its timers and simulated agent runs.
final class FenceStack {
    enum Timer {
        case deadline(MonotonicInstant)
        case agent(Fence.AgentRun, Fence.AgentOutcome)
        case powerOn(victim: Int)
        /// groupd answered the join "try again" (it has not synchronised yet): ask again, as fenced would.
        case rejoin
    }

    let options: FencingOptions
    let settings: Fence.Settings
    var cores: [Int: Fence.StateMachine] = [:]
    /// The node incarnation each core belongs to.
    var incarnation: [Int: Int] = [:]
    var quorumFed: [Int: Fence.Event] = [:]
    var lastQuorum: [Int: (Bool, UInt64, [Fence.QuorumMember])] = [:]
    var timers: [UInt64: (node: Int, incarnation: Int, timer: Timer)] = [:]
    var scheduledDeadline: [Int: MonotonicInstant] = [:]
    var nextToken: UInt64 = 1
    var random: SeededRandom
    var checker = FenceChecker()
    /// Why the end-of-run liveness check could not be decided (the layers below never agreed).
    var undecided: [String] = []
    /// Whether a node fenced after the heal is powered on again (as an operator or a reboot action would); scripted
    /// scenarios that want to see who survived turn it off.
    var powerOnAfterHeal = true
    /// The fence layer's recent events (every core's inputs and effects, agents, power), for failure reports and
    /// replays.
    var log: [String] = []
    static let logLimit = 4_000

    func append(_ line: String) {
        log.append(line)
        if log.count > Self.logLimit { log.removeFirst(log.count - Self.logLimit) }
    }

    /// The group handle of each node's fence daemon (far above the workload's handles).
    static let handle: ProcessGroup.Handle = 1 << 40

    init(options: FencingOptions, nodes: Int, seed: UInt64) {
        self.options = options
        settings = options.settings(nodes: nodes)
        random = SeededRandom(seed: seed).fork(label: "fencing")
    }
}

/// The fence layer of a stack simulation: every node's fence daemon joins the domain's process group when its group
/// core starts; its core gets the group's views and messages, quorum from the node's quorum core, and simulated
/// agents whose successful `off` crashes the victim (a power switch), unless the node that ran it died first.
extension Simulation {
    // MARK: - Stack (fencing on groups and quorum)

    /// Called when a node's group core exists (at start, or when groupd comes up later): its fence daemon starts
    /// and joins the domain.
    func fencingStarted(_ n: SimNode) {
        guard let f = fencing, n.groups != nil, n.machine != nil else { return }
        f.cores[n.index] = Fence.StateMachine(nodeID: n.id, pid: fencePID(n), settings: f.settings,
                                              clock: Fence.WallClockAnchor(instant: .zero, secondsSinceEpoch: 1_700_000_000))
        f.incarnation[n.index] = n.incarnation
        f.lastQuorum[n.index] = nil
        f.scheduledDeadline[n.index] = nil
        fenceEvent(n, .request(.join))
        controlStarted(n)
    }

    func fencePID(_ n: SimNode) -> UInt32 { 10_000 + UInt32(n.incarnation) }

    /// Routes a group event for the fence daemon's handle; false if it is not the fence daemon's.
    func fenceGroupEvent(_ n: SimNode, handle h: ProcessGroup.Handle, _ e: ProcessGroup.ClientEvent) -> Bool {
        guard fencing != nil, h == FenceStack.handle else { return false }
        switch e {
        case .configurationChange(let c) where c.group == Fence.groupName:
            let left = c.left.map { (a, reason) -> Fence.Departure in
                switch reason {
                case .leave: return Fence.Departure(a, .clean)
                case .processDown: return Fence.Departure(a, .processDown)
                case .nodeDown, .join, .nodeUp: return Fence.Departure(a, .nodeDown)
                }
            }
            fenceEvent(n, .domainView(Fence.DomainView(members: c.members, joined: c.joined.map(\.0), left: left, ringSequence: c.ringSequence)))
        case .delivery(let group, let sender, let payload) where group == Fence.groupName:
            fenceEvent(n, .delivered(from: sender, bytes: payload))
        default:
            break
        }
        return true
    }

    /// Feeds the node's quorum view to its fence core when it changed (called after every totem output).
    func fencingSync(_ n: SimNode) {
        guard let f = fencing, f.cores[n.index] != nil, let q = n.quorum else { return }
        let members = q.members.filter { q.nodes[$0]?.state == .member }.map { Fence.QuorumMember(node: $0, incarnation: q.nodes[$0]!.incarnation) }
        if let last = f.lastQuorum[n.index], last.0 == q.isQuorate, last.1 == q.generation, last.2 == members { return }
        f.lastQuorum[n.index] = (q.isQuorate, q.generation, members)
        fenceApply(n, .quorum(quorate: q.isQuorate, ringSequence: q.generation, members: members))
    }

    func fenceEvent(_ n: SimNode, _ event: Fence.Event) {
        fencingSync(n)
        fenceApply(n, event)
    }

    private func fenceApply(_ n: SimNode, _ event: Fence.Event) {
        // A node told to leave the cluster (Disallowed, evicted) has no quorumd any more: fenced exits with it, as it
        // does when its cman connection closes; it must not go on acting on the last quorum it was told.
        guard let f = fencing, var core = f.cores[n.index], f.incarnation[n.index] == n.incarnation, n.isUp, n.quorum != nil else { return }
        let before = Set(core.victims.map { "\($0.node)/\($0.incident)" })
        let out = core.handle(event, at: localTime(n))
        f.cores[n.index] = core
        f.append("\(now) n\(n.index + 1) \(Self.describe(event)) -> \(out.effects.compactMap(Self.describe).joined(separator: "; "))\(out.result.map { " result \($0)" } ?? "") [\(core.phase.rawValue)/\(core.waitState.rawValue) master \(core.master.map(\.description) ?? "-") victims \(core.victims.map { "\($0.node)@\($0.incident)" })]")
        for v in core.victims where !before.contains("\(v.node)/\(v.incident)") {
            f.checker.victimSeen(viewer: n.index, victim: v.node, incident: v.incident, at: now)
        }
        var requests: [ProcessGroup.Event] = []
        for e in out.effects {
            switch e {
            case .joinGroup:
                requests.append(.join(handle: FenceStack.handle, pid: fencePID(n), group: Fence.groupName))
            case .leaveGroup:
                requests.append(.leave(handle: FenceStack.handle, group: Fence.groupName))
            case .multicast(let bytes):
                requests.append(.mcast(handle: FenceStack.handle, group: Fence.groupName, payload: bytes))
            case .runAgent(let run):
                startSimulatedAgent(n, run, incident: core.victims.first { $0.node == run.target }?.incident)
            case .removeFromCluster(let node, _):
                quorumEvent(n, .request(.kill(node)))
            case .victimResolved(let r):
                let victim = Int(r.victim.rawValue) - 1
                let failedRunning = r.incident.pid != 0 && victim < nodes.count && nodes[victim].machine != nil
                    && fencePID(nodes[victim]) == r.incident.pid
                let view = core.view.map { v in "\(v.ringSequence):\(v.members.map(\.description).joined(separator: ","))" } ?? "-"
                f.checker.resolved(viewer: n.index, incarnation: n.incarnation, view: view, r, failedRunning: failedRunning, at: now)
                note("n\(n.index + 1) fence: \(r)")
                controlFenced(n, r)
            case .log(let line) where line.level == .notice || line.level == .warning || line.level == .error:
                note("n\(n.index + 1) fenced: \(line.text)")
            case .joinFailed, .log, .stateChanged:
                break
            }
        }
        scheduleFenceDeadline(n)
        controlSync(n)
        // Through groupd's host: a request made while groupd's own output is being carried out (this core fed from
        // one of its events) is queued and answered after it, as a daemon's IPC call would be.
        for r in requests { groupEvent(n, r) }
    }

    /// groupd answered a join: the fence daemon's, "try again" (groupd has not synchronised yet), is asked again
    /// after a while, as fenced would.
    func fenceJoinAnswered(_ n: SimNode, handle: ProcessGroup.Handle, _ result: ProcessGroup.RequestResult) {
        guard let f = fencing, handle == FenceStack.handle else { return }
        f.append("\(now) n\(n.index + 1) join: \(result)")
        if result == .tryAgain { pushFenceTimer(n.index, .rejoin, at: now + .milliseconds(100)) }
    }

    private func scheduleFenceDeadline(_ n: SimNode) {
        guard let f = fencing, let core = f.cores[n.index], let d = core.nextDeadline else { return }
        if f.scheduledDeadline[n.index] == d { return }
        f.scheduledDeadline[n.index] = d
        pushFenceTimer(n.index, .deadline(d), at: max(globalTime(n, d), now))
    }

    private func pushFenceTimer(_ node: Int, _ t: FenceStack.Timer, at: MonotonicInstant) {
        guard let f = fencing else { return }
        let token = f.nextToken
        f.nextToken += 1
        f.timers[token] = (node, nodes[node].incarnation, t)
        queue.push(.fencing(token: token), at: at)
    }

    /// A simulated fence device: the run succeeds, fails or hangs by seed, after a random time.
    private func startSimulatedAgent(_ n: SimNode, _ run: Fence.AgentRun, incident: Fence.Incident?) {
        guard let f = fencing else { return }
        f.checker.agentStarted(runner: n.index, run: run, incident: incident, quorate: n.quorum?.isQuorate ?? false, at: now)
        let outcome: Fence.AgentOutcome
        let after: Duration
        if f.random.chance(f.options.hangProbability) {
            outcome = .timedOut
            after = run.timeout
        } else {
            outcome = f.random.chance(f.options.successProbability) ? .success : .failed(exitCode: 1)
            after = .milliseconds(Int64.random(in: f.options.agentMillisecondsMin...max(f.options.agentMillisecondsMin, f.options.agentMillisecondsMax),
                                                using: &f.random))
        }
        f.append("\(now) n\(n.index + 1) agent \(run.id) (\(run)) will end \(outcome) after \(after.millisecondsClamped) ms")
        pushFenceTimer(n.index, .agent(run, outcome), at: now + after)
    }

    /// A fence timer fired: a core's deadline, an agent's end, or a fenced node powered on again.
    func fencingStep(token: UInt64) {
        guard let f = fencing, let (node, inc, timer) = f.timers.removeValue(forKey: token) else { return }
        let n = nodes[node]
        switch timer {
        case .deadline(let d):
            guard n.incarnation == inc, f.scheduledDeadline[node] == d else { return }
            f.scheduledDeadline[node] = nil
            fenceEvent(n, .deadlineReached)
        case .agent(let run, let outcome):
            // The node that ran the agent died meanwhile: its command never reached the device (the race's loser).
            guard n.incarnation == inc, n.machine != nil, f.cores[node] != nil else { return }
            if outcome == .success && run.purpose == .fence {
                let v = Int(run.target.rawValue) - 1
                if v >= 0 && v < nodes.count {
                    f.checker.poweredOff(run.target, at: now)
                    if nodes[v].machine != nil {
                        crash(nodes[v], " (fenced by n\(node + 1))")
                        if healed && f.powerOnAfterHeal { pushFenceTimer(v, .powerOn(victim: v), at: now + .milliseconds(500)) }
                    }
                }
            }
            fenceEvent(n, .agentFinished(Fence.AgentResult(runID: run.id, outcome: outcome, stderr: outcome == .success ? "" : "simulated device error")))
        case .rejoin:
            guard n.incarnation == inc, n.machine != nil, f.cores[node] != nil else { return }
            groupEvent(n, .join(handle: FenceStack.handle, pid: fencePID(n), group: Fence.groupName))
        case .powerOn(let v):
            guard nodes[v].machine == nil else { return }
            checker.record(v, .restarted)
            note("n\(v + 1) powered on again after its fence")
            start(nodes[v])
        }
    }

    /// After the heal: runs until every live node's fence domain has settled every victim (fenced nodes are
    /// powered on again), then checks that nothing is left.
    func settleFencing() {
        guard let f = fencing else { return }
        let end = now + .seconds(60)
        while now < end {
            runUntil(now + .milliseconds(100))
            for n in nodes where n.machine?.state == .left || (n.machine != nil && n.quorum == nil) {
                checker.record(n.index, .restarted)
                start(n)
            }
            // Settled: every node's fence daemon is a member of one and the same view, holding every node's daemon,
            // with its cycle complete and no victim left.
            let everyone = nodes.map { Fence.Member(node: $0.id, pid: fencePID($0)) }.sorted()
            let settled = isWhole() && nodes.allSatisfy { n in
                guard let c = f.cores[n.index], f.incarnation[n.index] == n.incarnation else { return false }
                return c.phase == .member && c.victims.isEmpty && c.settled && c.view?.members == everyone
            }
            if settled {
                f.checker.domainSettled()
                return
            }
        }
        // The domain can only settle on what quorum agrees on: a quorum standoff after a merge (Disallowed nodes and
        // no quorate side) needs an administrator, as in cman. (The group layer's views agree since the group core
        // applies membership changes at the end of its sync rounds: differing views fail here like any other stall.)
        // Members wait for quorum before they take part in a cycle (fenced's rule), so the domain cannot settle while
        // a live node is inquorate. That is a standoff of the quorum layer (cman's Disallowed nodes on a side that
        // cannot tell them to leave; an operator's business) only when no quorate node judges anyone Disallowed: a
        // quorate node that does tells it to leave, and it restarts here, so anything else must settle.
        let live = nodes.filter(\.isUp)
        let inquorate = live.filter { $0.quorum?.isQuorate != true }
        let killing = live.contains { $0.quorum?.isQuorate == true && !($0.quorum?.summary.disallowed.isEmpty ?? true) }
        if !inquorate.isEmpty && !killing {
            let views = live.compactMap { n in
                n.quorum.map { "n\(n.index + 1) \($0.isQuorate ? "quorate" : "inquorate")\($0.summary.disallowed.isEmpty ? "" : " Disallowed \($0.summary.disallowed.map(\.description).joined(separator: ","))")" }
            }
            f.undecided.append("quorum standoff: \(views.joined(separator: "; "))")
            return
        }
        let states = nodes.map { n -> String in
            guard let m = n.machine else { return "n\(n.index + 1):down" }
            guard let c = f.cores[n.index], f.incarnation[n.index] == n.incarnation else {
                return "n\(n.index + 1):\(m.state.rawValue)(no fence daemon\(n.groupsPending ? ", groupd pending" : n.groups == nil ? ", no groupd" : ""))"
            }
            let q = n.quorum.map { " (quorum: \($0.isQuorate ? "quorate" : "inquorate") members \($0.members.map(\.description).joined(separator: ","))\($0.summary.disallowed.isEmpty ? "" : " Disallowed \($0.summary.disallowed.map(\.description).joined(separator: ","))"))" } ?? " (no quorumd)"
            return "n\(n.index + 1)\(q):\(c.phase.rawValue)/\(c.waitState.rawValue)/master \(c.master.map(\.description) ?? "-")/view \(c.view?.members.map(\.description).joined(separator: ",") ?? "-")/victims \(c.victims.map(\.node.description).joined(separator: ","))"
        }
        f.checker.failLiveness("the fence domain did not settle within 60 s of the heal: \(states.joined(separator: " "))")
    }

    static func describe(_ e: Fence.Event) -> String {
        switch e {
        case .request(let r): return "request \(r)"
        case .domainView(let v):
            return "view ring \(v.ringSequence) \(v.members.map(\.description)) +\(v.joined.map(\.description)) -\(v.left.map { "\($0.member)(\($0.reason))" })"
        case .delivered(let from, let bytes):
            return "from \(from): \((try? Fence.Message.decode(bytes)).map { "\($0)" } ?? "?")" // tracing only
        case .quorum(let q, let ring, let members): return "quorum \(q) ring \(ring) \(members.map { "\($0.node)#\($0.incarnation)" })"
        case .agentFinished(let r): return "agent \(r.runID) \(r.outcome)"
        case .reconfigure: return "reconfigure"
        case .deadlineReached: return "deadline"
        }
    }

    static func describe(_ e: Fence.Effect) -> String? {
        switch e {
        case .joinGroup: return "join"
        case .leaveGroup: return "leave"
        case .multicast(let bytes): return "send \((try? Fence.Message.decode(bytes)).map { "\($0)" } ?? "?")" // tracing only
        case .runAgent(let run): return "run \(run)"
        case .removeFromCluster(let node, _): return "kill \(node)"
        case .victimResolved(let r): return "resolved \(r.victim) \(r.incident) \(r.how)"
        case .joinFailed(let t): return "join failed: \(t)"
        case .log(let l) where l.level != .debug: return l.description
        case .log, .stateChanged: return nil
        }
    }

    /// The fence layer's recent events, oldest first.
    public var fenceLog: [String] { fencing?.log ?? [] }

    /// The fence checker's findings and counts, and why liveness could not be judged (nil without fencing).
    public var fenceReport: (violations: [String], counts: FenceChecker.Counts, undecided: [String])? {
        fencing.map { ($0.checker.violations, $0.checker.counts, $0.undecided) }
    }

    /// Each node's fence domain status (nil where the node or its fence daemon is down).
    public func fenceStatus(_ i: Int) -> Fence.DomainStatus? {
        guard let f = fencing, nodes[i].machine != nil, f.incarnation[i] == nodes[i].incarnation else { return nil }
        return f.cores[i]?.status
    }

    /// Whether nodes fenced after the heal (or in a scripted, quiet run) stay down instead of being powered on again.
    public var fencedNodesStayDown: Bool {
        get { !(fencing?.powerOnAfterHeal ?? true) }
        set { fencing?.powerOnAfterHeal = !newValue }
    }

    /// Whether node i is running.
    public func isUp(_ i: Int) -> Bool { nodes[i].machine != nil }

    /// Scripted fault: node i's process dies now.
    public func crashNode(_ i: Int) { if nodes[i].machine != nil { crash(nodes[i], " (scripted)") } }
}
