// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// Events of a stack run beyond totem: quorum disk intervals, fence operations, an administrator's actions.
enum StackEvent {
    case qdiskInterval(node: Int, incarnation: Int)
    case fence(by: Int, incarnation: Int, victim: Int, victimIncarnation: Int)
    case adminTick
    /// An upper daemon's multicast reaching its node's totem (`TotemChannel.multicast`): handled after the totem
    /// output being carried out, as totemd's loop reads it after delivering what it was delivering.
    case submit(node: Int, incarnation: Int, channel: UInt16, bytes: [UInt8])
    /// `TotemChannel`'s retry of multicasts the totem core refused ("try again").
    case retrySubmit(node: Int, incarnation: Int)
}

/// The quorum disk, fencing and administrator of a stack run.
struct StackState {
    var random = SeededRandom(seed: 0)
    var started = false
    /// The shared disk: each node's last block.
    var disk: [NodeID: QuorumDisk.Block] = [:]
    var qdisk: [Int: QuorumDisk.StateMachine] = [:]
    var fit: [Int: Bool] = [:]
    var lastMaster: NodeID?
    /// Per node: the nodes (and their incarnation when lost) its fence domain must fence before it acts.
    var victims: [Int: [Int: Int]] = [:]
    /// Nodes that did their startup fencing (fenced's: configured nodes missing when the domain first forms).
    var startupDone: Set<Int> = []
    var fenceInFlight: Set<[Int]> = []
    /// Configurations an administrator proposed, by version.
    var configs: [UInt64: Quorum.Settings] = [:]
    var nextVersion: UInt64 = 2
    var dirty: [Int: Bool] = [:]
    var wasQuorate: [Int: Bool] = [:]
    /// Per node: the members its quorum core counted after its last output (for the nodes a configuration lost).
    var quorumMembers: [Int: Set<NodeID>] = [:]
    var coverage = StackCoverage()
    /// Per node, what survives a crash on its disk: the cluster.conf version it last installed (quorumd writes an
    /// installed file before anything else; the scenario's first until then) and quorumd's state file.
    var fileVersion: [Int: UInt64] = [:]
    var quorumState: [Int: Quorum.PersistedState] = [:]
}

/// The quorum layer of a stack simulation: a quorum core per node fed by its totem core, the quorum disk on a
/// simulated shared disk, fencing (for the settings whose safety rests on it) and administrator actions; and the
/// split-brain check.
extension Simulation {
    // MARK: - Stack (quorum on totem)

    /// A node's quorum core was just created (its incarnation is counted up right after).
    func quorumStarted(_ n: SimNode) {
        if !stackState.started {
            stackState.started = true
            stackState.random = SeededRandom(seed: options.seed).fork(label: "stack")
            if quorumScenario != nil { queue.push(.stack(.adminTick), at: now + .milliseconds(100)) }
        }
        let incarnation = n.incarnation + 1
        stackState.victims[n.index] = [:]
        stackState.quorumMembers[n.index] = []
        stackState.startupDone.remove(n.index)
        stackState.dirty[n.index] = quorumScenario.map { stackState.random.chance($0.dirtyProbability) } ?? true
        guard let s = quorumScenario, case .quorumDisk(let masterWins, let heuristics) = s.mode else { return }
        var settings = QuorumDisk.Settings(votes: s.qdiskVotes ?? 1, tko: s.qdiskTKO, masterWins: masterWins, minScore: heuristics ? 1 : 0)
        settings.mutations = s.settings.mutations
        stackState.qdisk[n.index] = QuorumDisk.StateMachine(nodeID: n.id, settings: settings)
        stackState.fit[n.index] = true
        queue.push(.stack(.qdiskInterval(node: n.index, incarnation: incarnation)), at: now + s.qdiskInterval)
    }

    /// Feeds a node's quorum core through its host, the way quorumd's driver does, and carries out each output.
    @discardableResult
    func quorumEvent(_ n: SimNode, _ event: Quorum.Event) -> Quorum.RequestResult? {
        guard let host = n.quorumHost, n.machine != nil else { return nil }
        let out = host.feed(event, now: { localTime(n) }) { input, out in carryOutQuorum(n, host, input, out) }
        scheduleUpper(n)
        return out?.result
    }

    /// quorumd's effects, simulated: multicasts through the node's totem core, config files from the scenario's
    /// table, leaving, and the local daemons marking the node dirty.
    private func carryOutQuorum(_ n: SimNode, _ host: CoreHost<Quorum.StateMachine>, _ input: Quorum.Event, _ out: Quorum.Output) {
        let before = stackState.quorumMembers[n.index] ?? []
        var pending: [[UInt8]] = []
        for e in out.effects {
            switch e {
            case .multicast(let bytes): pending.append(bytes)
            case .leaveCluster:
                n.quorum = nil
                handle(n, .leave)
                checker.record(n.index, .crashed)
                checkQuorum()
                return
            case .validateConfig(_, let version, _):
                // The shell's reading of the file: the scenario's table stands in for libxml2.
                let checked: Quorum.ProposedConfig = stackState.configs[version].map { .valid(configVersion: version, settings: $0) }
                    ?? .invalid("unknown version")
                host.feed(.configChecked(version: version, checked), now: { localTime(n) }) { _, _ in }
            case .installConfig(let version, _):
                stackState.coverage[.configInstalls] += 1
                stackState.fileVersion[n.index] = version
            case .persistState(let state):
                stackState.quorumState[n.index] = state
            default: break
            }
        }
        let q = host.core
        if verbose { traceQuorum(n, input, q) }
        stackState.quorumMembers[n.index] = Set(q.members.filter { q.nodes[$0]?.state == .member })
        if case .configuration(let c) = input, c.kind == .regular, c.members.contains(n.id) {
            if !q.dirty && stackState.dirty[n.index] == true {
                // This node's daemons hold state from its first configuration on: a rejoin without a restart is
                // Disallowed.
                host.feed(.setDirty, now: { localTime(n) }) { _, _ in }
            }
            // A member that did not come along left, even if it is back in the new ring: it went through a ring of
            // its own (where it may have acted), so it is a victim like one that is gone.
            let stayed = Set(c.members).intersection(n.cameAlong ?? Set(c.members))
            if quorumScenario?.reliesOnFencing == true { lostMembers(n, before: before, after: stayed) }
        }
        for bytes in pending { submitUpper(n, channel: Quorum.channel, bytes) }
        checkQuorum()
    }

    private func traceQuorum(_ n: SimNode, _ input: Quorum.Event, _ q: Quorum.StateMachine) {
        let what: String
        switch input {
        case .configuration(let c): what = "\(c.kind) \(c.ringID.sequence) \(c.members)"
        case .delivered(let from, let bytes):
            what = "from \(from): \((try? Quorum.Message.decode(bytes)).map { "\($0)" } ?? "?")" // tracing only
        case .qdisk(let votes, let asMaster, _, _): what = "qdisk votes \(votes) master \(asMaster)"
        default: what = "\(input)"
        }
        let s = q.summary
        let offers = q.members.map { "\($0):\(q.nodes[$0]?.qdiskVotes ?? 0)\(q.nodes[$0]?.qdiskMaster == true ? "m" : "")" }
        print("\(now) n\(n.index + 1) quorum \(what) -> quorate \(s.quorate) total \(s.totalVotes)/\(s.quorum) members \(q.members) offers \(offers)")
    }

    /// Queues an upper core's multicast for its node's totem core, at this instant but after the current step: a
    /// totem output is carried out completely (every delivery recorded in order) before a new submission is handled.
    func submitUpper(_ n: SimNode, channel: UInt16, _ bytes: [UInt8]) {
        queue.push(.stack(.submit(node: n.index, incarnation: n.incarnation, channel: channel, bytes: bytes)), at: now)
    }

    private func submitted(_ n: SimNode, incarnation: Int, channel: UInt16, _ bytes: [UInt8]) {
        guard n.incarnation == incarnation, n.machine != nil else { return }
        n.upperOutbox.append((channel, bytes))
        submitHeld(n)
    }

    /// Offers the held multicasts to the totem core in order, as `TotemChannel.flush` does: one refused with "try
    /// again" stays at the head (with everything behind it) and is offered again 2 ms later; one refused for good
    /// (not running, too large) is dropped, as the daemon's channel fails then.
    private func submitHeld(_ n: SimNode) {
        while let (channel, bytes) = n.upperOutbox.first, var m = n.machine {
            let out = m.handle(.submit(channel: channel, payload: bytes, guarantee: .agreed), at: localTime(n))
            n.machine = m
            carryOut(n, out)
            if out.submitted == .tryAgain {
                stackState.coverage[.upperRetries] += 1
                if !n.upperRetryScheduled {
                    n.upperRetryScheduled = true
                    queue.push(.stack(.retrySubmit(node: n.index, incarnation: n.incarnation)), at: now + .milliseconds(2))
                }
                return
            }
            n.upperOutbox.removeFirst()
        }
    }

    static func configBytes(_ version: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.write(version)
        return w.bytes
    }

    // MARK: - The split-brain check

    /// No two nodes that may act (quorate; where safety rests on fencing, also with every lost node fenced) may have
    /// disjoint memberships; record Disallowed sightings, and start fencing where it is due.
    func checkQuorum() {
        var c = stackState.coverage
        c[.quorumDecisions] += 1
        let reliant = quorumScenario?.reliesOnFencing ?? false
        let live = nodes.filter { $0.quorum != nil && $0.machine != nil }
        var actors: [(Int, Set<NodeID>)] = []
        for n in live {
            let q = n.quorum!
            if stackState.wasQuorate[n.index] != q.isQuorate {
                stackState.wasQuorate[n.index] = q.isQuorate
                c[.quorumTransitions] += 1
            }
            guard q.isQuorate else { continue }
            let members = Set(q.members.filter { q.nodes[$0]?.state == .member })
            if reliant {
                if !stackState.startupDone.contains(n.index) {
                    // fenced's startup fencing: configured nodes missing when the domain first forms quorate.
                    stackState.startupDone.insert(n.index)
                    for i in nodes.indices where !members.contains(nodes[i].id) { stackState.victims[n.index]![i] = nodes[i].incarnation }
                }
                let pending = victims(of: n, members: members)
                if !pending.isEmpty {
                    startFencing(n, members: members, victims: pending)
                    continue
                }
            }
            actors.append((n.index, members))
        }
        for (a, members) in actors {
            c[.quorumPairsCompared] += live.count - 1
            for (b, other) in actors where b > a && members.isDisjoint(with: other) {
                if quorumViolations.count < 10 {
                    quorumViolations.append("split brain at \(now): n\(a + 1) \(reliant ? "acts" : "is quorate") with \(members.sorted()) and n\(b + 1) with \(other.sorted())")
                }
            }
        }
        for n in nodes {
            guard let q = n.quorum else { continue }
            for id in q.summary.disallowed {
                let pair = (viewer: n.index, node: Int(id.rawValue) - 1)
                if !disallowedSeen.contains(where: { $0 == pair }) {
                    disallowedSeen.append(pair)
                    c[.disallowedSeen] += 1
                }
            }
        }
        stackState.coverage = c
    }

    /// What the quorum and group checks compared.
    func stackCoverage() -> StackCoverage {
        var c = stackState.coverage
        for f in StackCoverage.Figure.allCases where groupChecker.coverage[f] > 0 { c[f] += groupChecker.coverage[f] }
        return c
    }

    // MARK: - Fencing

    /// Members that left a node's configuration are its fence domain's victims until fenced or restarted.
    private func lostMembers(_ n: SimNode, before: Set<NodeID>, after: Set<NodeID>) {
        for id in before.subtracting(after) {
            let i = Int(id.rawValue) - 1
            stackState.victims[n.index]![i] = nodes[i].incarnation
        }
    }

    /// The victims of a node's fence domain: its own and its members' (the domain's state is shared), less the
    /// nodes fenced or restarted since.
    private func victims(of n: SimNode, members: Set<NodeID>) -> [Int: Int] {
        var all: [Int: Int] = [:]
        for m in members.sorted() {
            let i = Int(m.rawValue) - 1
            for (v, inc) in stackState.victims[i] ?? [:] where nodes[v].incarnation == inc && !members.contains(nodes[v].id) { all[v] = inc }
        }
        return all
    }

    /// The lowest member of a quorate partition fences each victim after a delay (the fence agent's time).
    private func startFencing(_ n: SimNode, members: Set<NodeID>, victims: [Int: Int]) {
        guard members.min() == n.id else { return }
        for (v, inc) in victims.sorted(by: { $0.key < $1.key }) {
            let key = [n.index, n.incarnation, v, inc]
            guard !stackState.fenceInFlight.contains(key) else { continue }
            stackState.fenceInFlight.insert(key)
            let delay = Duration.milliseconds(Int64(50 + stackState.random.next() % 500))
            queue.push(.stack(.fence(by: n.index, incarnation: n.incarnation, victim: v, victimIncarnation: inc)), at: now + delay)
        }
    }

    private func fence(by f: Int, incarnation: Int, victim v: Int, victimIncarnation: Int) {
        let fencer = nodes[f], victim = nodes[v]
        // A fencer that died or lost quorum meanwhile does nothing: the race's loser.
        // After the heal nobody is fenced any more (the liveness phase restarts every node that is down).
        guard fencer.incarnation == incarnation, fencer.machine != nil, fencer.quorum?.isQuorate == true, !healed else { return }
        if victim.incarnation == victimIncarnation {
            if victim.machine != nil {
                note("n\(f + 1) fences n\(v + 1)")
                retire(victim)
                victim.machine = nil
                victim.quorum = nil
                victim.generation += 1
                checker.record(v, .crashed)
                stats.crashes += 1
            }
            stackState.coverage[.fencingDone] += 1
            for i in stackState.victims.keys.sorted() { stackState.victims[i]![v] = nil }
        }
        checkQuorum()
    }

    // MARK: - Quorum disk

    private func qdiskInterval(_ n: SimNode, incarnation: Int) {
        guard n.incarnation == incarnation, n.machine != nil, let q = n.quorum, var disk = stackState.qdisk[n.index],
              let s = quorumScenario, case .quorumDisk(_, let heuristics) = s.mode else { return }
        if heuristics && !healed && stackState.random.chance(0.05) { stackState.fit[n.index]!.toggle() }
        if healed { stackState.fit[n.index] = true }
        let blocks = stackState.disk.keys.sorted().map { stackState.disk[$0]! }
        let d = disk.interval(blocks: blocks, score: stackState.fit[n.index]! ? 1 : 0, members: q.members,
                              offerOutstanding: q.masterOfferOutstanding)
        stackState.qdisk[n.index] = disk
        stackState.disk[n.id] = d.block
        if d.isMaster && stackState.lastMaster != n.id {
            stackState.lastMaster = n.id
            stackState.coverage[.qdiskMasters] += 1
        }
        queue.push(.stack(.qdiskInterval(node: n.index, incarnation: incarnation)), at: now + s.qdiskInterval)
        if d.evicted { note("n\(n.index + 1) evicted by the quorum disk master") }
        if verbose {
            note("n\(n.index + 1) qdisk: master \(d.master.map { "\($0)" } ?? "none")\(d.isMaster ? " (self)" : "") votes \(d.votes) alive \(d.alive) claims \(d.block.claimsMaster)\(disk.isReleasing ? " (releasing)" : "")")
        }
        // The core decides: leave if evicted, tell the members dead by disk to leave if quorate.
        quorumEvent(n, .quorumDisk(d))
    }

    // MARK: - Administrator

    private func adminTick() {
        guard let s = quorumScenario else { return }
        queue.push(.stack(.adminTick), at: now + .milliseconds(100))
        if healed {
            repairVotes()
            return
        }
        var r = stackState.random
        defer { stackState.random = r }
        let live = nodes.filter { $0.quorum != nil && $0.machine != nil }
        guard let n = live.randomElement(using: &r), let q = n.quorum else { return }
        var request: Quorum.Request?
        if r.chance(s.adminProbability) {
            let total = q.summary.totalVotes
            if r.chance(0.5) {
                let target = s.settings.nodes.randomElement(using: &r)!.id
                request = .setVotes(node: target, votes: UInt32.random(in: 0...3, using: &r))
            } else if s.adminLowersExpected {
                request = .setExpected(UInt32.random(in: max(total, 1)...(q.summary.expectedVotes + 2), using: &r))
            } else {
                request = .setExpected(q.summary.expectedVotes + UInt32.random(in: 0...2, using: &r))
            }
        } else if r.chance(s.reloadProbability) {
            var next = s.settings
            let i = Int.random(in: 0..<next.nodes.count, using: &r)
            if s.settings.nodes.allSatisfy({ $0.votes == 1 }) == false || r.chance(0.5) {
                next.nodes[i].votes = UInt32.random(in: 1...3, using: &r)
                if next.twoNode || next.lastManStanding || next.qdiskVotes != nil { next.nodes[i].votes = 1 }
            }
            let sum = next.nodes.reduce(0) { $0 + $1.votes } + (next.qdiskVotes ?? 0)
            next.expectedVotes = next.twoNode ? 1 : sum
            let version = stackState.nextVersion
            stackState.nextVersion += 1
            stackState.configs[version] = next
            request = .proposeConfig(version: version, bytes: Self.configBytes(version))
        }
        guard let request else { return }
        stackState.random = r
        // Through the core's entry point, as quorumd does for cman_tool.
        let result = quorumEvent(n, .request(request))
        if case .refused = result { stackState.coverage[.adminRefused] += 1 } else { stackState.coverage[.adminAccepted] += 1 }
        note("admin on n\(n.index + 1): \(request) -> \(String(describing: result))")
        r = stackState.random
    }

    /// After the heal, the administrator undoes what their own changes did to a whole cluster that cannot reach
    /// quorum (votes set to 0 while the other nodes were away, as in issue 9's seed 13692): on a node that is
    /// inquorate with every configured node present, each node whose votes are below its configured ones gets them
    /// back, one request per tick. Without it such a run never has a quorate node, and the split-brain check could
    /// compare nothing; with it the healed cluster is quorate again and compared like any other.
    private func repairVotes() {
        let live = nodes.filter { $0.quorum != nil && $0.machine != nil }
        for n in live {
            guard let q = n.quorum, !q.isQuorate, q.everyonePresent else { continue }
            guard let low = q.settings.nodes.first(where: { c in q.nodes[c.id].map { $0.votes < c.votes } ?? false }) else { continue }
            let request = Quorum.Request.setVotes(node: low.id, votes: low.votes)
            let result = quorumEvent(n, .request(request))
            if case .refused = result { stackState.coverage[.adminRefused] += 1 } else { stackState.coverage[.adminRepairs] += 1 }
            note("admin repairs on n\(n.index + 1): \(request) -> \(String(describing: result))")
            return
        }
    }

    func stackEvent(_ e: StackEvent) {
        switch e {
        case .qdiskInterval(let node, let incarnation): qdiskInterval(nodes[node], incarnation: incarnation)
        case .fence(let by, let incarnation, let victim, let victimIncarnation):
            fence(by: by, incarnation: incarnation, victim: victim, victimIncarnation: victimIncarnation)
        case .adminTick: adminTick()
        case .submit(let node, let incarnation, let channel, let bytes):
            submitted(nodes[node], incarnation: incarnation, channel: channel, bytes)
        case .retrySubmit(let node, let incarnation):
            let n = nodes[node]
            guard n.incarnation == incarnation else { return }
            n.upperRetryScheduled = false
            submitHeld(n)
        }
    }
}
