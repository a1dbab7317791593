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
    public private(set) var checker: InvariantChecker
    public private(set) var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    /// Every node's last events, for failure reports.
    public private(set) var trace: [[String]]
    public var verbose = false
    public var traceLimit = 300

    private var queue = EventQueue<Scheduled>()
    private var nodes: [SimNode]
    private var netRandom: SeededRandom
    private var faultRandom: SeededRandom
    private var workRandom: SeededRandom
    private var blocked = Set<Link>()
    private var healed = false
    private var workloadOn = true
    private(set) var stats = Stats()

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
    }

    final class SimNode {
        let index: Int
        var machine: Totem.StateMachine?
        /// With `stackSettings`: the node's quorum core, fed by its totem core.
        var quorum: Quorum.StateMachine?
        /// With `groups`: the node's group core and its local processes (handle -> pid, groups joined).
        var groups: ProcessGroup.StateMachine?
        var processes: [UInt64: (pid: UInt32, joined: Set<String>)] = [:]
        var groupsPending = false
        /// The latest totem configuration (for a group core that connects mid-ring).
        var lastRegular: Totem.ConfigurationChange?
        var nextHandle: UInt64 = 1

        var persisted: UInt64 = 0
        var generation: UInt64 = 0
        var scheduled: MonotonicInstant?
        var incarnation = 0
        var nextCounter: UInt32 = 0
        let skewPerMille: Int
        init(index: Int, skew: Int) {
            self.index = index
            self.skewPerMille = skew
        }
        var id: NodeID { NodeID(UInt32(index + 1)) }
        var isUp: Bool { machine != nil && machine?.state != .left }
    }

    /// When set, every node also runs a quorum core on top of totem (a stack simulation), and the run checks that
    /// no two quorate nodes have disjoint memberships.
    public let stackSettings: Quorum.Settings?
    /// Quorum violations seen (kept separate from the totem checks).
    public private(set) var quorumViolations: [String] = []
    /// Every Disallowed sighting: (viewer, node).
    public private(set) var disallowedSeen: [(viewer: Int, node: Int)] = []

    /// When true, every node also runs a group core with simulated local processes joining, multicasting, leaving
    /// and dying, and the run checks closed-process-group semantics.
    public let groupStack: Bool
    public private(set) var groupChecker = GroupChecker()
    private var groupRandom: SeededRandom
    private var groupMessageCounter: UInt32 = 0

    public init(options: SimulationOptions, stack: Quorum.Settings? = nil, groups: Bool = false) {
        self.options = options
        self.stackSettings = stack
        self.groupStack = groups
        groupRandom = SeededRandom(seed: options.seed).fork(label: "groups")
        let root = SeededRandom(seed: options.seed)
        netRandom = root.fork(label: "network")
        faultRandom = root.fork(label: "faults")
        workRandom = root.fork(label: "workload")
        nodes = (0..<options.nodeCount).map { SimNode(index: $0, skew: options.clockSkewPerMille[$0]) }
        checker = InvariantChecker(nodeCount: options.nodeCount)
        trace = Array(repeating: [], count: options.nodeCount)
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
        if convergedAt == nil { checker.fail("liveness: no single ring of all \(options.nodeCount) nodes within \(bound.millisecondsClamped) ms of healing; states: \(stateSummary())") }
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
        if convergedAt != nil {
            var alive: [Int: Int] = [:]
            for n in nodes where n.isUp { alive[n.index] = n.incarnation }
            checker.checkDelivered(alive: alive, finalMembers: nodes.filter(\.isUp).map(\.index), stableSince: stableSince)
        }
        if groupStack {
            groupChecker.check()
        }
        return Report(violations: checker.violations + quorumViolations + groupChecker.violations, converged: convergedAt != nil,
                      convergenceTime: convergedAt.map { $0 - healedAt }, stats: stats)
    }

    /// The bound on forming one ring after faults stop: the last gather can need a token timeout to notice a lost
    /// ring, consensus timeouts to fail dead members and re-agree, and a merge-detect interval.
    public var livenessBound: Duration {
        let s = options.totemSettings
        return (s.token + s.consensus) * 6 + s.merge * 4
    }

    func runUntil(_ end: MonotonicInstant) {
        while let next = queue.nextInstant, next <= end {
            let (at, item) = queue.pop()!
            now = at
            stats.steps += 1
            step(item)
        }
        now = max(now, end)
    }

    private func step(_ item: Scheduled) {
        switch item {
        case .packet(let to, _, let bytes):
            let n = nodes[to]
            guard n.machine != nil else { return }
            guard let payload = Integrity.open(bytes) else {
                stats.corruptedRejected += 1
                return
            }
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
        case .startGroups(let node, let incarnation):
            let n = nodes[node]
            guard n.incarnation == incarnation, n.groupsPending, n.machine != nil else { return }
            n.groupsPending = false
            n.groups = ProcessGroup.StateMachine(nodeID: n.id, incarnation: UInt32(n.incarnation))
            // Like groupd opening its channel: it learns the current configuration, if there is one.
            if let c = n.lastRegular, n.machine?.state == .operational {
                groupEvent(n, .configuration(kind: .regular, ringSequence: c.ringID.sequence, ringRepresentative: c.ringID.representative, members: c.members))
            }
        }
    }

    // MARK: - Nodes

    private func localTime(_ n: SimNode, at global: MonotonicInstant? = nil) -> MonotonicInstant {
        let g = global ?? now
        return MonotonicInstant(nanoseconds: g.nanoseconds &+ UInt64(bitPattern: Int64(g.nanoseconds / 1000) * Int64(n.skewPerMille)))
    }

    /// The earliest global instant at which the node's clock reads at least `local`.
    private func globalTime(_ n: SimNode, _ local: MonotonicInstant) -> MonotonicInstant {
        var g = MonotonicInstant(nanoseconds: UInt64((Double(local.nanoseconds) / (1 + Double(n.skewPerMille) / 1000)).rounded(.down)))
        while localTime(n, at: g) < local { g.nanoseconds += 1 }
        return g
    }

    private func start(_ n: SimNode) {
        n.machine = Totem.StateMachine(nodeID: n.id, clusterID: 7, settings: options.totemSettings,
                                       persistedRingSequence: n.persisted, allowedNodes: Set(nodes.map(\.id)))
        if let s = stackSettings {
            n.quorum = Quorum.StateMachine(nodeID: n.id, settings: s, configVersion: 1, joinTime: UInt64(n.incarnation))
        }
        if groupStack {
            n.processes = [:]
            n.lastRegular = nil
            n.groups = nil
            n.groupsPending = true
            // Half the time groupd starts with totemd; otherwise it connects later, in the middle of a ring.
            if groupRandom.chance(0.5) {
                n.groups = ProcessGroup.StateMachine(nodeID: n.id, incarnation: UInt32(n.incarnation))
                n.groupsPending = false
            } else {
                queue.push(.startGroups(node: n.index, incarnation: n.incarnation), at: now + .milliseconds(Int64(groupRandom.next() % 1500)))
            }
        }
        n.incarnation += 1
        handle(n, .start)
    }

    private func handle(_ n: SimNode, _ event: Totem.Event) {
        guard var m = n.machine else { return }
        let local = localTime(n)
        let out = m.handle(event, at: local)
        n.machine = m
        record(n, event, out)
        carryOut(n, out)
    }

    private func carryOut(_ n: SimNode, _ out: Totem.Output) {
        if let seq = out.ringSequenceToPersist {
            if seq <= n.persisted && n.persisted != 0 {
                checker.fail("n\(n.index + 1): persisted ring sequence \(seq) after \(n.persisted) does not grow")
            }
            n.persisted = seq
        }
        for d in out.datagrams { transmit(from: n, d) }
        for u in out.upcalls {
            switch u {
            case .configurationChange(let c):
                checker.record(n.index, .configuration(c))
                if c.kind == .regular { n.lastRegular = c }
                quorumEvent(n, .configuration(kind: c.kind == .regular ? .regular : .transitional, ringSequence: c.ringID.sequence, members: c.members))
                groupEvent(n, .configuration(kind: c.kind == .regular ? .regular : .transitional, ringSequence: c.ringID.sequence,
                                             ringRepresentative: c.ringID.representative, members: c.members))
            case .message(let d) where d.channel == ProcessGroup.channel:
                groupEvent(n, .delivered(from: d.sender, bytes: d.payload))
            case .message(let d) where d.channel == Quorum.channel:
                quorumEvent(n, .delivered(from: d.sender, bytes: d.payload))
            case .message(let d):
                guard let id = Workload.decode(d.payload) else {
                    checker.fail("n\(n.index + 1): delivered a payload that is not a workload message (\(d.payload.count) bytes)")
                    continue
                }
                checker.record(n.index, .message(id))
            }
        }
        schedule(n)
    }

    private func schedule(_ n: SimNode) {
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

    // MARK: - Stack (groups on totem)

    private func groupEvent(_ n: SimNode, _ event: ProcessGroup.Event) {
        guard var g = n.groups, n.machine != nil else { return }
        let out = g.handle(event)
        n.groups = g
        var pending: [[UInt8]] = []
        for e in out.effects {
            switch e {
            case .multicast(let bytes): pending.append(bytes)
            case .event(let h, let ev):
                guard let proc = n.processes[h] else { continue }
                let p = GroupChecker.Process(node: n.index, incarnation: n.incarnation, handle: h)
                let address = ProcessGroup.Address(node: n.id, pid: proc.pid)
                switch ev {
                case .configurationChange(let c):
                    let id = GroupChecker.ViewID(group: c.group, ring: c.ringSequence, ordinal: c.viewNumber, members: c.members)
                    groupChecker.record(p, address: address, .view(id, c.members, joined: c.joined.map(\.0)))
                case .delivery(let group, let sender, let payload):
                    groupChecker.record(p, address: address, .delivery(group: group, sender: sender, id: payload))
                case .totemConfiguration:
                    break
                }
            }
        }
        for bytes in pending {
            guard var m = n.machine else { return }
            let out = m.handle(.submit(channel: ProcessGroup.channel, payload: bytes, guarantee: .agreed), at: localTime(n))
            n.machine = m
            carryOut(n, out)
        }
    }

    /// Simulated processes: join, multicast, leave, or die.
    private func groupWorkload() {
        let names = ["alpha", "beta", "gamma"]
        for n in nodes where n.isUp && n.groups != nil {
            guard groupRandom.chance(0.3) else { continue }
            let roll = groupRandom.next() % 100
            if n.processes.count < 3 && roll < 25 {
                let h = n.nextHandle
                n.nextHandle += 1
                n.processes[h] = (UInt32(1000 + h), [])
                let group = names[Int(groupRandom.next() % 3)]
                n.processes[h]!.joined.insert(group)
                groupEvent(n, .join(handle: h, pid: UInt32(1000 + h), group: group))
            } else if let (h, proc) = n.processes.sorted(by: { $0.key < $1.key }).randomElement(using: &groupRandom) {
                if roll < 80, let group = proc.joined.sorted().randomElement(using: &groupRandom) {
                    groupMessageCounter += 1
                    var w = ByteWriter()
                    w.write(UInt32(n.index))
                    w.write(groupMessageCounter)
                    groupEvent(n, .mcast(handle: h, group: group, payload: w.bytes))
                } else if roll < 90, let group = proc.joined.sorted().randomElement(using: &groupRandom) {
                    n.processes[h]!.joined.remove(group)
                    groupEvent(n, .leave(handle: h, group: group))
                } else {
                    n.processes[h] = nil
                    groupEvent(n, .processGone(handle: h))
                }
            }
        }
    }

    // MARK: - Stack (quorum on totem)

    private func quorumEvent(_ n: SimNode, _ event: Quorum.Event) {
        guard var q = n.quorum, n.machine != nil else { return }
        let out = q.handle(event, at: localTime(n))
        n.quorum = q
        var pending: [[UInt8]] = []
        for e in out.effects {
            switch e {
            case .multicast(let bytes): pending.append(bytes)
            case .leaveCluster:
                n.quorum = nil
                handle(n, .leave)
                checker.record(n.index, .crashed)
                return
            case .validateConfig(_, let version, _):
                quorumEvent(n, .configValidated(version: version, refusal: nil))
            default: break
            }
        }
        if case .configuration(.regular, _, let members) = event, members.contains(n.id), !q.dirty {
            // Every node holds state from its first configuration on, so rejoins without a restart are Disallowed.
            quorumEvent(n, .setDirty)
        }
        for bytes in pending {
            guard var m = n.machine else { return }
            let out = m.handle(.submit(channel: Quorum.channel, payload: bytes, guarantee: .agreed), at: localTime(n))
            n.machine = m
            carryOut(n, out)
        }
        checkQuorum()
    }

    /// No two quorate nodes may have disjoint memberships (a split brain); record Disallowed sightings.
    private func checkQuorum() {
        let quorate = nodes.compactMap { n -> (Int, Set<NodeID>)? in
            guard let q = n.quorum, n.machine != nil, q.isQuorate else { return nil }
            return (n.index, Set(q.members.filter { q.nodes[$0]?.state == .member }))
        }
        for (i, a) in quorate.enumerated() {
            for b in quorate[(i + 1)...] where a.1.isDisjoint(with: b.1) {
                if quorumViolations.count < 10 {
                    quorumViolations.append("split brain at \(now): n\(a.0 + 1) quorate with \(a.1.sorted()) and n\(b.0 + 1) with \(b.1.sorted())")
                }
            }
        }
        for n in nodes {
            guard let q = n.quorum else { continue }
            for id in q.summary.disallowed {
                let pair = (viewer: n.index, node: Int(id.rawValue) - 1)
                if !disallowedSeen.contains(where: { $0 == pair }) { disallowedSeen.append(pair) }
            }
        }
    }

    /// Runs until `end` without faults (for scripted stack scenarios).
    public func advance(_ d: Duration) { runUntil(now + d) }

    /// Scripted fault: split the nodes into groups (indices), or heal with one group.
    public func setPartition(_ groups: [[Int]]) {
        blocked = []
        for a in nodes.indices {
            for b in nodes.indices where a != b {
                let ga = groups.firstIndex { $0.contains(a) }, gb = groups.firstIndex { $0.contains(b) }
                if ga != gb { blocked.insert(Link(from: a, to: b)) }
            }
        }
    }

    /// Stops random faults and workload, for scripted scenarios.
    public func quiet() {
        healed = true
        workloadOn = false
    }

    /// Each node's quorum view: quorate, and its members.
    public func quorumView(_ i: Int) -> (quorate: Bool, members: [NodeID], up: Bool)? {
        guard let q = nodes[i].quorum else { return nil }
        return (q.isQuorate, q.members, nodes[i].machine != nil)
    }

    // MARK: - Network

    private func transmit(from n: SimNode, _ d: Totem.Datagram) {
        let targets: [Int]
        switch d.destination {
        case .all: targets = nodes.indices.filter { $0 != n.index }
        case .node(let id): targets = [Int(id.rawValue) - 1]
        }
        let sealed = Integrity.seal(d.bytes)
        for t in targets {
            stats.packets += 1
            if nodes[t].machine == nil {
                // The process is gone but its host answers: port unreachable (the fast path under test).
                if options.unreachableReports && !blocked.contains(Link(from: n.index, to: t)) {
                    queue.push(.unreachable(to: n.index, about: t), at: now + options.delayBase * 2)
                }
                continue
            }
            if blocked.contains(Link(from: n.index, to: t)) || (!healed && netRandom.chance(options.lossProbability)) {
                stats.dropped += 1
                continue
            }
            var bytes = sealed
            if !healed && netRandom.chance(options.corruptProbability) && !bytes.isEmpty {
                let i = Int(netRandom.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(1 << (netRandom.next() % 8))
            }
            queue.push(.packet(to: t, from: n.index, bytes: bytes), at: now + delay())
            if !healed && netRandom.chance(options.duplicateProbability) {
                queue.push(.packet(to: t, from: n.index, bytes: bytes), at: now + delay())
            }
        }
    }

    private func delay() -> Duration {
        var d = options.delayBase + .nanoseconds(Int64(netRandom.next() % 50_000))
        if !healed && netRandom.chance(options.delayTailProbability) {
            d += .nanoseconds(Int64(netRandom.next() % UInt64(options.delayTail.nanosecondsClamped)))
        }
        return d
    }

    // MARK: - Faults

    private func injectFaults() {
        var r = faultRandom
        defer { faultRandom = r }
        if r.chance(options.partitionProbability / 10) {
            blocked = []
            let groups = Int.random(in: 2...3, using: &r)
            let assignment = nodes.map { _ in Int.random(in: 0..<groups, using: &r) }
            for a in nodes.indices {
                for b in nodes.indices where a != b && assignment[a] != assignment[b] {
                    if options.asymmetricPartitions && r.chance(0.5) && a < b { continue }
                    blocked.insert(Link(from: a, to: b))
                }
            }
            stats.partitions += 1
            note("partition \(assignment.map { String($0) }.joined())")
        } else if !blocked.isEmpty && r.chance(0.1) {
            blocked = []
            note("partition healed")
        }
        if r.chance(options.crashProbability / 10), let victim = nodes.filter({ $0.machine != nil }).randomElement(using: &r) {
            victim.machine = nil
            victim.generation += 1
            checker.record(victim.index, .crashed)
            stats.crashes += 1
            note("crash n\(victim.index + 1)")
        }
        if r.chance(options.leaveProbability / 10), let leaver = nodes.filter(\.isUp).randomElement(using: &r) {
            handle(leaver, .leave)
            checker.record(leaver.index, .crashed)
            note("leave n\(leaver.index + 1)")
        }
        for n in nodes where !n.isUp && r.chance(0.2) {
            checker.record(n.index, .restarted)
            note("restart n\(n.index + 1)")
            start(n)
        }
    }

    private func heal() {
        healed = true
        blocked = []
        for n in nodes where !n.isUp {
            if n.machine != nil { checker.record(n.index, .crashed) }
            checker.record(n.index, .restarted)
            start(n)
        }
        note("healed")
    }

    private func isWhole() -> Bool {
        let all = nodes.map(\.id)
        return nodes.allSatisfy { n in
            guard let m = n.machine else { return false }
            return m.state == .operational && m.members == all && m.ringID == nodes[0].machine?.ringID
        }
    }

    private func stateSummary() -> String {
        nodes.map { n in
            guard let m = n.machine else { return "n\(n.index + 1):down" }
            return "n\(n.index + 1):\(m.state.rawValue)@\(m.ringID)[\(m.members.map(\.description).joined(separator: ","))]"
        }.joined(separator: " ")
    }

    // MARK: - Workload

    private func workload() {
        guard workloadOn else { return }
        for n in nodes where n.isUp && workRandom.chance(options.submitProbability) {
            let large = workRandom.chance(options.largeMessageProbability)
            let size = large ? Int(workRandom.next() % 200_000) + 2_000 : Int(workRandom.next() % 300)
            let safe = workRandom.chance(options.safeProbability)
            let id = MessageID(origin: n.index, counter: n.nextCounter)
            let payload = Workload.encode(id, size: size)
            guard var m = n.machine else { continue }
            let out = m.handle(.submit(channel: 100, payload: payload, guarantee: safe ? .safe : .agreed), at: localTime(n))
            n.machine = m
            if out.submitted == .accepted {
                n.nextCounter += 1
                checker.submittedMessage(id, incarnation: n.incarnation, at: now)
                stats.submitted += 1
            }
            carryOut(n, out)
        }
    }

    // MARK: - Tracing

    private func record(_ n: SimNode, _ event: Totem.Event, _ out: Totem.Output) {
        let line = "\(now) n\(n.index + 1) \(Self.describe(event)) -> \(Self.describe(out)) [\(n.machine.map { "\($0.state.rawValue) \($0.ringID)" } ?? "down")]"
        if verbose { print(line) }
        trace[n.index].append(line)
        if trace[n.index].count > traceLimit { trace[n.index].removeFirst(trace[n.index].count - traceLimit) }
    }

    private func note(_ text: String) {
        if verbose { print("\(now) -- \(text)") }
        for i in trace.indices { trace[i].append("\(now) -- \(text)") }
    }

    static func describe(_ e: Totem.Event) -> String {
        switch e {
        case .start: return "start"
        case .deadlineReached: return "deadline"
        case .leave: return "leave"
        case .peerUnreachable(let n): return "unreachable(\(n))"
        case .submit(_, let p, let g): return "submit(\(p.count)B \(g))"
        case .datagram(let b):
            guard let p = try? Totem.Packet.decode(b) else { return "datagram(undecodable)" } // tracing only
            return "recv \(describe(p.message)) from \(p.sender)"
        }
    }

    static func describe(_ m: Totem.Message) -> String {
        switch m {
        case .mcast(let m): return "mcast(\(m.ringID) #\(m.seq)\(m.encapsulated != nil ? " enc" : ""))"
        case .token(let t): return "token(\(t.ringID) ts\(t.tokenSeq) seq\(t.seq) aru\(t.aru)@\(t.aruAddress) rtr\(t.retransmitRequests.count)\(t.recoveryComplete ? " done" : "") pend\(t.recoveryPending))"
        case .join(let j): return "join(p\(j.procSet) f\(j.failSet) r\(j.ringSeq))"
        case .commitToken(let c): return "commit(\(c.ringID) rot\(c.rotation) \(c.members))"
        case .mergeDetect(let r): return "merge(\(r))"
        case .tokenHoldCancel(let r): return "holdcancel(\(r))"
        }
    }

    static func describe(_ o: Totem.Output) -> String {
        var parts: [String] = []
        if let p = o.ringSequenceToPersist { parts.append("persist \(p)") }
        for d in o.datagrams {
            let dest: String
            switch d.destination {
            case .all: dest = "all"
            case .node(let n): dest = "\(n)"
            }
            let what = (try? Totem.Packet.decode(d.bytes)).map { describe($0.message) } ?? "?" // tracing only
            parts.append("send \(what)->\(dest)")
        }
        for u in o.upcalls {
            switch u {
            case .configurationChange(let c): parts.append("CONF \(c)")
            case .message(let d): parts.append("deliver \(Workload.decode(d.payload)?.description ?? "?")")
            }
        }
        if let s = o.stateChanged { parts.append("state \(s.rawValue)") }
        return parts.isEmpty ? "-" : parts.joined(separator: "; ")
    }
}

/// The workload's payloads: origin and counter, then filler, so deliveries can be identified and checked.
enum Workload {
    static func encode(_ id: MessageID, size: Int) -> [UInt8] {
        var w = ByteWriter(capacity: size + 8)
        w.write(UInt32(id.origin))
        w.write(id.counter)
        let filler = max(0, size - 8)
        var x = UInt32(truncatingIfNeeded: id.origin * 7919) &+ id.counter
        for _ in 0..<filler {
            x = x &* 1_103_515_245 &+ 12345
            w.write(UInt8(truncatingIfNeeded: x >> 16))
        }
        return w.bytes
    }

    /// The id, if the payload is intact (filler included).
    static func decode(_ payload: [UInt8]) -> MessageID? {
        var r = ByteReader(payload)
        guard let origin = try? r.readUInt32(), let counter = try? r.readUInt32() else { return nil } // not ours
        let id = MessageID(origin: Int(origin), counter: counter)
        return encode(id, size: payload.count) == payload ? id : nil
    }
}

/// Stands in for the transport's authentication: a checksum sealed onto every datagram, so corrupted packets are
/// rejected before the protocol sees them, as HMAC-failing packets are in production.
enum Integrity {
    static func seal(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var w = ByteWriter()
        w.write(hash(bytes))
        out += w.bytes
        return out
    }

    static func open(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 8 else { return nil }
        let body = Array(bytes[0..<(bytes.count - 8)])
        var r = ByteReader(Array(bytes[(bytes.count - 8)...]))
        guard let h = try? r.readUInt64(), h == hash(body) else { return nil } // corrupted: dropped
        return body
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x100_0000_01B3
        }
        return h
    }
}
