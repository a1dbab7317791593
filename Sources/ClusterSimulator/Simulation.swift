// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// Runs N nodes' real Totem cores on a simulated network and clock from one seed: a fault phase (loss,
/// duplication, reordering, corruption, partitions, crashes, restarts, departures) checked for safety, then a
/// healed phase checked for liveness.
public final class Simulation {
    public let options: SimulationOptions
    public internal(set) var checker: InvariantChecker
    public internal(set) var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    /// Every node's last events, for failure reports.
    public internal(set) var trace: [[String]]
    public var verbose = false
    public var traceLimit = 300

    var queue = EventQueue<Scheduled>()
    var nodes: [SimNode]
    var netRandom: SeededRandom
    var faultRandom: SeededRandom
    var workRandom: SeededRandom
    var blocked = Set<Link>()
    var healed = false
    var workloadOn = true
    var stats = Stats()
    /// Loss on a healed network (the stability check's light loss).
    var ambientLoss = 0.0
    /// Nodes that drop incoming multicasts until the given instant.
    var deafUntil: [Int: MonotonicInstant] = [:]
    /// Links that, until the given instant, hold each packet for up to `delayMax`.
    var clogged: [Link: (until: MonotonicInstant, delayMax: Duration)] = [:]
    /// A node whose multicasts, until the given instant, reach only `to`, and that one only in its recovery.
    var straggler: (from: Int, to: Int, until: MonotonicInstant)?
    var heldForRecovery: [Int: [(from: Int, bytes: [UInt8])]] = [:]
    /// The frames (ring, seq) each node has received or sent, when the run has safe traffic to check against.
    var received: [Set<FrameKey>]
    let tracksFrames: Bool
    /// A run that takes more steps than this is stuck in an event storm: it fails with its replay command.
    public var stepLimit = 40_000_000
    var watchdogFired = false

    struct FrameKey: Hashable {
        var ring: Totem.RingID
        var seq: UInt32
    }

    struct Link: Hashable { var from: Int; var to: Int }

    public struct Stats: Sendable {
        public var packets = 0
        public var dropped = 0
        public var corruptedRejected = 0
        public var submitted = 0
        public var crashes = 0
        public var partitions = 0
        public var steps = 0
    }

    enum Scheduled {
        case packet(to: Int, from: Int, bytes: [UInt8])
        case deadline(node: Int, generation: UInt64)
        case unreachable(to: Int, about: Int)
        case workloadTick
        case faultTick
        case startGroups(node: Int, incarnation: Int)
        /// A crash planned earlier (only if the node has not restarted since).
        case crash(node: Int, incarnation: Int)
        /// A deadline of a node's quorum or group core (stack runs).
        case upperDeadline(node: Int, incarnation: Int)
        /// A stack-run event (quorum disk interval, fencing, administrator action).
        case stack(StackEvent)
        /// The rgmanager layer's agents, deadlines and fencing.
        case resource(ResourceTimer)
        /// A timer of the fence layer (Simulation+Fencing).
        case fencing(token: UInt64)
        /// A timer of the control layer (Simulation+Control).
        case control(token: UInt64)
    }

    final class SimNode {
        let index: Int
        var machine: Totem.StateMachine?
        /// With `stackSettings`: the node's quorum core, fed by its totem core.
        var quorumHost: CoreHost<Quorum.StateMachine>?
        /// With `groups`: the node's group core and its local processes (handle -> pid, groups joined).
        var groupsHost: CoreHost<ProcessGroup.StateMachine>?
        var processes: [UInt64: (pid: UInt32, joined: Set<String>)] = [:]
        var groupsPending = false
        /// The latest totem configuration (for a group core that connects mid-ring).
        var lastRegular: Totem.ConfigurationChange?
        /// The members that came along from the previous ring (the last transitional configuration).
        var cameAlong: Set<NodeID>?
        var nextHandle: UInt64 = 1
        /// When the node's upper cores' earliest deadline is queued for.
        var upperScheduled: MonotonicInstant?
        /// Upper cores' multicasts the totem core refused ("try again") and those behind them, in order, as
        /// `TotemChannel` holds them; retried every 2 ms.
        var upperOutbox: [(channel: UInt16, bytes: [UInt8])] = []
        var upperRetryScheduled = false

        var persisted: UInt64 = 0
        var generation: UInt64 = 0
        var scheduled: MonotonicInstant?
        var incarnation = 0
        var nextCounter: UInt32 = 0
        /// The configuration the node's upper layer is in (regular or transitional), for the safe-delivery check.
        var configuration: Totem.ConfigurationChange?
        let skewPerMille: Int
        init(index: Int, skew: Int) {
            self.index = index
            self.skewPerMille = skew
        }
        var id: NodeID { NodeID(UInt32(index + 1)) }
        var isUp: Bool { machine != nil && machine?.state != .left }

        /// The quorum core as it is now; setting it starts (or, with nil, stops) the node's quorumd.
        var quorum: Quorum.StateMachine? {
            get { quorumHost?.core }
            set {
                quorumHost?.retire()
                quorumHost = newValue.map { CoreHost($0) }
            }
        }

        /// The group core as it is now; setting it starts (or, with nil, stops) the node's groupd.
        var groups: ProcessGroup.StateMachine? {
            get { groupsHost?.core }
            set {
                groupsHost?.retire()
                groupsHost = newValue.map { CoreHost($0) }
            }
        }
    }

    /// When set, every node also runs a quorum core on top of totem (a stack simulation), and the run checks that
    /// no two quorate nodes have disjoint memberships.
    public let stackSettings: Quorum.Settings?
    /// Quorum violations seen (kept separate from the totem checks).
    public internal(set) var quorumViolations: [String] = []
    /// Every Disallowed sighting: (viewer, node).
    public internal(set) var disallowedSeen: [(viewer: Int, node: Int)] = []

    /// When true, every node also runs a group core with simulated local processes joining, multicasting, leaving
    /// and dying, and the run checks closed-process-group semantics.
    public let groupStack: Bool
    public internal(set) var groupChecker = GroupChecker()
    /// With `enableResources`: the rgmanager layer (Simulation+Resources.swift).
    var resourceLayer: ResourceLayer?
    var groupRandom: SeededRandom
    var groupMessageCounter: UInt32 = 0
    /// With `fencing` (which needs `stack` and turns groups on): every node also runs a fence daemon's core.
    var fencing: FenceStack?
    /// With `control` (which needs `fencing`): every node also runs a control daemon's managed group.
    var control: ControlStack?

    /// With a scenario, the quorum settings, administrator actions, quorum disk and fencing of the stack run.
    public let quorumScenario: QuorumScenario?
    /// Deliberate weakenings of the group cores (mutation tests only).
    public let groupMutations: ProcessGroup.Mutations
    /// The state of the stack run's quorum disk, fencing and administrator (see `Simulation+Quorum.swift`).
    var stackState = StackState()

    public init(options: SimulationOptions, stack: Quorum.Settings? = nil, groups: Bool = false, scenario: QuorumScenario? = nil,
                groupMutations: ProcessGroup.Mutations = [], fencing: FencingOptions? = nil,
                control: ControlOptions? = nil) {
        self.options = options
        self.stackSettings = scenario?.settings ?? stack
        self.quorumScenario = scenario
        self.groupMutations = groupMutations
        self.groupStack = groups || fencing != nil
        groupRandom = SeededRandom(seed: options.seed).fork(label: "groups")
        let root = SeededRandom(seed: options.seed)
        netRandom = root.fork(label: "network")
        faultRandom = root.fork(label: "faults")
        workRandom = root.fork(label: "workload")
        nodes = (0..<options.nodeCount).map { SimNode(index: $0, skew: options.clockSkewPerMille[$0]) }
        checker = InvariantChecker(nodeCount: options.nodeCount)
        trace = Array(repeating: [], count: options.nodeCount)
        tracksFrames = options.safeProbability > 0
        received = Array(repeating: [], count: options.nodeCount)
        if let f = fencing {
            self.fencing = FenceStack(options: f, nodes: options.nodeCount, seed: options.seed)
            workloadOn = false  // fencing runs carry only the stack's own traffic
            if let c = control { self.control = ControlStack(options: c, seed: options.seed) }
        }
        var startRandom = root.fork(label: "start")
        for n in nodes {
            n.persisted = startRandom.chance(0.3) ? UInt64.random(in: 0...1000, using: &startRandom) * 4 : 0
            start(n)
        }
        queue.push(.workloadTick, at: now + .milliseconds(10))
        queue.push(.faultTick, at: now + .milliseconds(100))
    }

    // MARK: - Running

    /// The outcome of a run.
    public struct Report: Sendable {
        public var violations: [String]
        public var converged: Bool
        public var convergenceTime: Duration?
        public var stats: Stats
        /// What the run's checks compared and which protocol paths it took.
        public var coverage: Coverage
        /// What the quorum and group checks of a stack run compared.
        public var stack = StackCoverage()
        public var ok: Bool { violations.isEmpty && converged }
    }

    /// Runs the fault phase, heals everything, and checks that one ring forms within `livenessBound` and that
    /// messages submitted afterwards are delivered.
    public func run() -> Report {
        let faultEnd = now + options.faultPhase
        runUntil(faultEnd)
        heal()
        let healedAt = now
        let bound = livenessBound
        var convergedAt: MonotonicInstant?
        var restartedLeavers = 0
        while now < healedAt + bound + .milliseconds(Int64(restartedLeavers) * 2_000) {
            runUntil(now + .milliseconds(50))
            if stackSettings != nil {
                // Disallowed nodes are told to leave; like systemd or an administrator, restart them.
                for n in nodes where n.machine?.state == .left || (n.machine != nil && n.quorum == nil) {
                    checker.record(n.index, .restarted)
                    note("restart n\(n.index + 1) after it left")
                    start(n)
                    restartedLeavers += 1
                }
            }
            if isWhole() {
                convergedAt = now
                break
            }
        }
        if fencing != nil && convergedAt != nil && !watchdogFired {
            settleFencing()
            settleControl()
        }
        if convergedAt == nil && !watchdogFired {
            checker.fail("liveness: no single ring of all \(options.nodeCount) nodes within \(bound.millisecondsClamped) ms of healing; states: \(stateSummary())")
        }
        // With quorum on top, a Disallowed node is told to leave after the heal: a membership change on purpose.
        if convergedAt != nil && stackSettings == nil {
            settle()
            checkStability()
        }
        let stableSince = now
        runUntil(now + .seconds(1))
        workloadOn = false
        // Drain: every queued message goes out within a few rotations on a healed network.
        var drainEnd = now + .seconds(5)
        while now < drainEnd {
            runUntil(now + .milliseconds(100))
            if nodes.allSatisfy({ ($0.machine?.queuedMessages ?? 0) == 0 }) {
                drainEnd = min(drainEnd, now + .milliseconds(500))
            }
        }
        checker.checkSafety()
        if convergedAt != nil && resourceLayer != nil { resourceLiveness() }
        if convergedAt != nil {
            var alive: [Int: Int] = [:]
            for n in nodes where n.isUp { alive[n.index] = n.incarnation }
            checker.checkDelivered(alive: alive, finalMembers: nodes.filter(\.isUp).map(\.index), stableSince: stableSince)
        }
        if groupStack {
            groupChecker.check(alive: liveProcesses(), stableSince: stableSince, bound: groupLivenessBound)
        }
        for n in nodes { retire(n) }
        var report = Report(violations: checker.violations + quorumViolations + groupChecker.violations
                                + (resourceLayer?.checker.violations ?? []) + (fenceReport?.violations ?? [])
                                + (controlReport?.violations ?? []),
                            converged: convergedAt != nil,
                            convergenceTime: convergedAt.map { $0 - healedAt }, stats: stats, coverage: checker.coverage)
        report.stack = stackCoverage()
        // A fencing run turns groups on only to carry the fence domain: its own checker proves what it compared.
        report.violations += report.stack.emptyChecks(quorum: stackSettings != nil, groups: groupStack && fencing == nil)
        return report
    }

    /// The bound on forming one ring after faults stop: the last gather can need a token timeout to notice a lost
    /// ring, consensus timeouts to fail dead members and re-agree, and a merge-detect interval.
    public var livenessBound: Duration {
        let s = options.totemSettings
        return (s.token + s.consensus) * 6 + s.merge * 4
    }

    func runUntil(_ end: MonotonicInstant) {
        while let next = queue.nextInstant, next <= end {
            guard stats.steps < stepLimit else {
                if !watchdogFired {
                    watchdogFired = true
                    checker.fail("watchdog: more than \(stepLimit) events by \(now); states: \(stateSummary())")
                }
                queue = EventQueue()
                break
            }
            let (at, item) = queue.pop()!
            now = at
            stats.steps += 1
            step(item)
        }
        now = max(now, end)
    }

    func step(_ item: Scheduled) {
        switch item {
        case .packet(let to, _, let bytes):
            let n = nodes[to]
            guard n.machine != nil else { return }
            guard let payload = Integrity.open(bytes) else {
                stats.corruptedRejected += 1
                return
            }
            if let until = deafUntil[to], now < until, Self.isMcast(payload) {
                stats.dropped += 1
                return
            }
            if tracksFrames { recordFrames(payload, at: to) }
            handle(n, .datagram(payload))
        case .deadline(let node, let generation):
            let n = nodes[node]
            guard n.generation == generation, n.machine != nil else { return }
            n.scheduled = nil
            handle(n, .deadlineReached)
        case .unreachable(let to, let about):
            guard nodes[to].machine != nil else { return }
            handle(nodes[to], .peerUnreachable(nodes[about].id))
        case .workloadTick:
            workload()
            if groupStack && workloadOn { groupWorkload() }
            queue.push(.workloadTick, at: now + .milliseconds(10))
        case .faultTick:
            if !healed { injectFaults() }
            queue.push(.faultTick, at: now + .milliseconds(100))
        case .crash(let node, let incarnation):
            let n = nodes[node]
            guard n.incarnation == incarnation, n.machine != nil, !healed else { return }
            crash(n, " as planned")
        case .upperDeadline(let node, let incarnation):
            let n = nodes[node]
            guard n.incarnation == incarnation, n.machine != nil else { return }
            n.upperScheduled = nil
            upperDeadlineReached(n)
        case .stack(let e):
            stackEvent(e)
        case .resource(let t):
            resourceTimer(t)
        case .startGroups(let node, let incarnation):
            let n = nodes[node]
            guard n.incarnation == incarnation, n.groupsPending, n.machine != nil else { return }
            n.groupsPending = false
            n.groups = makeGroupCore(n)
            // Like groupd opening its channel: it learns the current configuration, if there is one.
            if let c = n.lastRegular, n.machine?.state == .operational {
                groupEvent(n, .configuration(c))
            }
            fencingStarted(n)
        case .fencing(let token):
            fencingStep(token: token)
        case .control(let token):
            controlStep(token: token)
        }
    }

    // MARK: - Nodes

    func localTime(_ n: SimNode, at global: MonotonicInstant? = nil) -> MonotonicInstant {
        let g = global ?? now
        return MonotonicInstant(nanoseconds: g.nanoseconds &+ UInt64(bitPattern: Int64(g.nanoseconds / 1000) * Int64(n.skewPerMille)))
    }

    /// The earliest global instant at which the node's clock reads at least `local`.
    func globalTime(_ n: SimNode, _ local: MonotonicInstant) -> MonotonicInstant {
        var g = MonotonicInstant(nanoseconds: UInt64((Double(local.nanoseconds) / (1 + Double(n.skewPerMille) / 1000)).rounded(.down)))
        while localTime(n, at: g) < local { g.nanoseconds += 1 }
        return g
    }

    /// Adds a node's core counters to the run's coverage before its core is replaced or dropped.
    func retire(_ n: SimNode) {
        if let m = n.machine { checker.coverage.add(m.counters) }
    }

    func start(_ n: SimNode) {
        retire(n)
        n.configuration = nil
        n.cameAlong = nil
        n.machine = Totem.StateMachine(nodeID: n.id, clusterID: 7, settings: options.totemSettings,
                                       persistedRingSequence: n.persisted, allowedNodes: Set(nodes.map(\.id)))
        if let s = stackSettings {
            // quorumd starts on the cluster.conf on the node's disk (the last it installed) and the state file its
            // previous incarnation left there.
            let version = stackState.fileVersion[n.index] ?? 1
            let file = version == 1 ? s : stackState.configs[version] ?? s
            n.quorum = Quorum.StateMachine(nodeID: n.id, settings: file, configVersion: version, joinTime: UInt64(n.incarnation),
                                           configBytes: version == 1 ? [] : Self.configBytes(version),
                                           persisted: stackState.quorumState[n.index])
            quorumStarted(n)
        }
        if groupStack {
            n.processes = [:]
            n.lastRegular = nil
            n.groups = nil
            n.groupsPending = true
            // Half the time groupd starts with totemd; otherwise it connects later, in the middle of a ring. With
            // fencing it always starts with totemd, as the fence daemon's unit requires it.
            if fencing != nil || groupRandom.chance(0.5) {
                n.groups = makeGroupCore(n)
                n.groupsPending = false
            } else {
                // The incarnation this start is about to take (it is counted up below).
                queue.push(.startGroups(node: n.index, incarnation: n.incarnation + 1), at: now + .milliseconds(Int64(groupRandom.next() % 1500)))
            }
        }
        n.upperOutbox = []
        n.upperRetryScheduled = false
        n.incarnation += 1
        handle(n, .start)
        fencingStarted(n)
    }

    func handle(_ n: SimNode, _ event: Totem.Event) {
        guard var m = n.machine else { return }
        let local = localTime(n)
        let out = m.handle(event, at: local)
        n.machine = m
        record(n, event, out)
        carryOut(n, out)
    }

    func carryOut(_ n: SimNode, _ out: Totem.Output) {
        if let seq = out.ringSequenceToPersist {
            if seq <= n.persisted && n.persisted != 0 {
                checker.fail("n\(n.index + 1): persisted ring sequence \(seq) after \(n.persisted) does not grow")
            }
            n.persisted = seq
        }
        for d in out.datagrams {
            if tracksFrames { recordFrames(d.bytes, at: n.index) }
            transmit(from: n, d)
        }
        if out.stateChanged == .recovery, let held = heldForRecovery.removeValue(forKey: n.index) {
            for h in held { queue.push(.packet(to: n.index, from: h.from, bytes: h.bytes), at: now + .microseconds(50)) }
            note("n\(n.index + 1) entered recovery: \(held.count) held packets of n\(held[0].from + 1) arrive now")
        }
        for u in out.upcalls {
            // A node told to leave while these upcalls were being handed out (quorum's Disallowed rule) delivers
            // nothing more of them.
            if n.machine?.state == .left { break }
            switch u {
            case .configurationChange(let c):
                n.configuration = c
                checker.record(n.index, .configuration(c))
                if c.kind == .regular { n.lastRegular = c } else { n.cameAlong = Set(c.members) }
                quorumEvent(n, .configuration(c))
                groupEvent(n, .configuration(c))
                resourceUpcall(n, u)
            case .message(let d) where d.channel == ProcessGroup.channel:
                groupEvent(n, .delivered(from: d.sender, bytes: d.payload, position: d.position))
            case .message(let d) where d.channel == Quorum.channel:
                quorumEvent(n, .delivered(from: d.sender, bytes: d.payload))
            case .message(let d) where d.channel == Simulation.resourceChannel:
                resourceUpcall(n, .message(d))
            case .message(let d):
                if d.guarantee == .safe, let c = n.configuration {
                    let key = FrameKey(ring: d.ringID, seq: d.seq)
                    checker.checkSafeDelivery(node: n.index, d, in: c, holders: { self.received[$0].contains(key) })
                }
                guard let id = Workload.decode(d.payload) else {
                    checker.fail("n\(n.index + 1): delivered a payload that is not a workload message (\(d.payload.count) bytes)")
                    continue
                }
                checker.record(n.index, .message(id))
            }
        }
        schedule(n)
        resourceQuorum(n)
        fencingSync(n)
        controlSync(n)
    }

    func schedule(_ n: SimNode) {
        guard let m = n.machine, let local = m.nextDeadline else {
            n.generation += 1
            n.scheduled = nil
            return
        }
        let at = max(globalTime(n, local), now)
        if n.scheduled == at { return }
        n.generation += 1
        n.scheduled = at
        queue.push(.deadline(node: n.index, generation: n.generation), at: at)
    }

    // MARK: - Frames held, for the safe-delivery check

    static func isMcast(_ payload: [UInt8]) -> Bool { payload.count > 3 && payload[3] == 1 }

    /// Notes the frames a datagram gives `node`: a multicast's own (ring, seq), and in recovery the old-ring frame
    /// it carries.
    func recordFrames(_ payload: [UInt8], at node: Int) {
        guard Self.isMcast(payload), let p = try? Totem.Packet.decode(payload) else { return } // not a frame: nothing held
        guard case .mcast(let m) = p.message else { return }
        received[node].insert(FrameKey(ring: m.ringID, seq: m.seq))
        if let e = m.encapsulated { received[node].insert(FrameKey(ring: e.ringID, seq: e.seq)) }
    }
}
