// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ControlCore
import FenceCore
import GroupCore

/// How the control layer of a stack simulation behaves: one managed group (a lockspace) per node's control daemon,
/// over the fencing simulation.
public struct ControlOptions: Sendable, CustomStringConvertible {
    /// Deliberate weakenings of how the layer drives its cores (mutation tests only).
    public enum Weakening: String, Sendable, Hashable {
        /// The cores do not wait for failed nodes to be fenced (`enable_fencing=0` where fencing is needed).
        case noFencingWait
        /// The cores are told the fence domain has recovered whatever its state.
        case noLowerLevelWait
    }

    /// The longest the local subsystem takes to start (the kernel's recovery), drawn per start.
    public var localStartMillisecondsMax: Int64 = 300
    public var weakenings: Set<Weakening> = []

    public init() {}

    public var description: String {
        "control: local start<=\(localStartMillisecondsMax)ms\(weakenings.isEmpty ? "" : " WEAKENED: \(weakenings.map(\.rawValue).sorted())")"
    }
}

/// The control layer's state: a group state machine per node, its timers, and the fence times its fenced told it.
final class ControlStack {
    enum Timer {
        case localStartDone(event: UInt64)
        case rejoin
    }

    let options: ControlOptions
    var machines: [Int: Control.GroupStateMachine] = [:]
    var incarnation: [Int: Int] = [:]
    var fenceTimes: [Int: [NodeID: UInt64]] = [:]
    var fed: [Int: (quorate: Bool, lowerReady: Bool)] = [:]
    var timers: [UInt64: (node: Int, incarnation: Int, timer: Timer)] = [:]
    var nextToken: UInt64 = 1
    var random: SeededRandom
    var checker = ControlChecker()
    var undecided: [String] = []
    var log: [String] = []

    /// The managed group, as a control daemon names it in groupd (prefix and lockspace).
    static let groupName = "dlm:sim"
    /// The group handle of each node's control daemon (above the fence daemon's).
    static let handle: ProcessGroup.Handle = 1 << 41
    /// Wall-clock seconds at the simulation's instant zero (the fence cores use the same anchor).
    static let epoch: UInt64 = 1_700_000_000

    init(options: ControlOptions, seed: UInt64) {
        self.options = options
        random = SeededRandom(seed: seed).fork(label: "control")
    }

    func append(_ line: String) {
        log.append(line)
        if log.count > 4_000 { log.removeFirst(log.count - 4_000) }
    }
}

/// The control layer of a stack simulation: each node's control daemon joins one managed group when its fence
/// daemon starts, and runs `Control.GroupStateMachine` on the group's views and messages, its fenced's resolutions
/// (fence times, and whether the domain has victims left: the lower level) and quorum; the local subsystem takes a
/// random time to start. `ControlChecker` judges what the cores did against the simulated machines.
extension Simulation {
    func controlPID(_ n: SimNode) -> UInt32 { 20_000 + UInt32(n.incarnation) }

    /// The checker's name for the daemon a group member is (its pid carries the node's incarnation).
    func controlDaemon(_ m: Control.Member) -> ControlChecker.Daemon {
        ControlChecker.Daemon(node: Int(m.node.rawValue) - 1, incarnation: Int(m.pid) - 20_000)
    }

    /// Called when a node's fence daemon starts: its control daemon starts too and joins the group.
    func controlStarted(_ n: SimNode) {
        guard let c = control, n.groups != nil, n.machine != nil else { return }
        let weakened = c.options.weakenings.contains(.noFencingWait)
        c.machines[n.index] = Control.GroupStateMachine(name: ControlStack.groupName, level: 1,
                                                        me: Control.Member(node: n.id, pid: controlPID(n)),
                                                        requireQuorum: false, requireFencing: !weakened)
        c.incarnation[n.index] = n.incarnation
        c.fenceTimes[n.index] = [:]
        c.fed[n.index] = nil
        controlJoin(n)
    }

    private func controlJoin(_ n: SimNode) {
        groupEvent(n, .join(handle: ControlStack.handle, pid: controlPID(n), group: ControlStack.groupName))
    }

    /// groupd answered the control daemon's join: "try again" (not synchronised yet) is asked again after a while.
    func controlJoinAnswered(_ n: SimNode, handle: ProcessGroup.Handle, _ result: ProcessGroup.RequestResult) {
        guard let c = control, handle == ControlStack.handle else { return }
        c.append("\(now) n\(n.index + 1) join: \(result)")
        if result == .tryAgain { pushControlTimer(n.index, .rejoin, at: now + .milliseconds(100)) }
    }

    /// Routes a group event for the control daemon's handle; false if it is not the control daemon's.
    func controlGroupEvent(_ n: SimNode, handle h: ProcessGroup.Handle, _ e: ProcessGroup.ClientEvent) -> Bool {
        guard control != nil, h == ControlStack.handle else { return false }
        let member = { (a: ProcessGroup.Address) in Control.Member(node: a.node, pid: a.pid) }
        switch e {
        case .configurationChange(let v) where v.group == ControlStack.groupName:
            let left = v.left.map { (a, reason) -> (Control.Member, Control.LeftReason) in (member(a), reason == .leave ? .clean : .failed) }
            // The id every member gets alike: the view's position in the group's stream, with its ring and members.
            var id = v.ringSequence &* 1_000_003 &+ v.viewNumber
            for m in v.members { id = id &* 31 &+ UInt64(m.node.rawValue) &* 65_537 &+ UInt64(m.pid) }
            if let c = control, c.incarnation[n.index] == n.incarnation {
                let me = ControlChecker.Daemon(node: n.index, incarnation: n.incarnation)
                for (m, reason) in left where reason == .failed && m.node != n.id { c.checker.failureSeen(by: me, of: controlDaemon(m)) }
            }
            controlApply(n, .view(members: v.members.map(member), joined: v.joined.map { member($0.0) }, left: left, id: id,
                                  wallSeconds: controlWallSeconds(n)))
        case .delivery(let group, let sender, let payload) where group == ControlStack.groupName:
            controlApply(n, .delivered(from: member(sender), bytes: payload))
        default:
            break
        }
        return true
    }

    func controlWallSeconds(_ n: SimNode) -> UInt64 { ControlStack.epoch + localTime(n).nanoseconds / 1_000_000_000 }

    /// fenced told this node's control daemon that a victim is settled (fenced's event to its subscribers).
    func controlFenced(_ n: SimNode, _ r: Fence.Resolution) {
        guard let c = control, c.machines[n.index] != nil else { return }
        c.fenceTimes[n.index, default: [:]][r.victim] = max(c.fenceTimes[n.index]?[r.victim] ?? 0, r.wallClockSeconds)
        controlApply(n, .fenceTimes(c.fenceTimes[n.index] ?? [:]))
    }

    /// Feeds quorum and the fence domain's state when they changed (called after every totem output and fence step).
    func controlSync(_ n: SimNode) {
        guard let c = control, c.machines[n.index] != nil, c.incarnation[n.index] == n.incarnation, let q = n.quorum else { return }
        let ready = c.options.weakenings.contains(.noLowerLevelWait) || controlVictims(n).isEmpty
        if let last = c.fed[n.index], last.quorate == q.isQuorate, last.lowerReady == ready { return }
        c.fed[n.index] = (q.isQuorate, ready)
        controlApply(n, .quorum(q.isQuorate))
        controlApply(n, .lowerLevels(ready: ready))
    }

    /// The victims this node's fence domain has left (none without a fence daemon of this incarnation).
    func controlVictims(_ n: SimNode) -> [NodeID] {
        guard let f = fencing, f.incarnation[n.index] == n.incarnation, let core = f.cores[n.index] else { return [] }
        return core.victims.map(\.node)
    }

    private func controlApply(_ n: SimNode, _ event: Control.GroupStateMachine.Event) {
        guard let c = control, var m = c.machines[n.index], c.incarnation[n.index] == n.incarnation, n.isUp else { return }
        let out = m.handle(event, at: localTime(n))
        c.machines[n.index] = m
        let me = ControlChecker.Daemon(node: n.index, incarnation: n.incarnation)
        var requests: [ProcessGroup.Event] = []
        for e in out.effects {
            switch e {
            case .stop:
                c.append("\(now) n\(n.index + 1) stop")
            case .start(let members):
                c.append("\(now) n\(n.index + 1) start \(m.event) with \(members)")
                c.checker.started(me, event: m.event, members: members, victimsLeft: controlVictims(n), at: now) { x in
                    x.node < self.nodes.count && self.nodes[x.node].isUp && self.nodes[x.node].incarnation == x.incarnation
                }
                let after = Int64.random(in: 0...max(0, c.options.localStartMillisecondsMax), using: &c.random)
                pushControlTimer(n.index, .localStartDone(event: m.event), at: now + .milliseconds(after))
            case .multicast(let bytes):
                requests.append(.mcast(handle: ControlStack.handle, group: ControlStack.groupName, payload: bytes))
            case .recovered(let members):
                c.append("\(now) n\(n.index + 1) recovered \(m.event) with \(members)")
                c.checker.recovered(me, event: m.event, members: members)
            case .leaveGroup:
                requests.append(.leave(handle: ControlStack.handle, group: ControlStack.groupName))
            case .phaseChanged(let phase, let waiting):
                c.append("\(now) n\(n.index + 1) \(phase.rawValue), waiting for \(waiting)")
            }
        }
        for r in requests { groupEvent(n, r) }
    }

    private func pushControlTimer(_ node: Int, _ t: ControlStack.Timer, at: MonotonicInstant) {
        guard let c = control else { return }
        let token = c.nextToken
        c.nextToken += 1
        c.timers[token] = (node, nodes[node].incarnation, t)
        queue.push(.control(token: token), at: at)
    }

    func controlStep(token: UInt64) {
        guard let c = control, let (node, inc, timer) = c.timers.removeValue(forKey: token) else { return }
        let n = nodes[node]
        guard n.incarnation == inc, n.machine != nil, c.incarnation[node] == inc else { return }
        switch timer {
        case .localStartDone(let event):
            // A start of an abandoned recovery is answered too: the core ignores it unless it is still starting.
            guard c.machines[node]?.event == event else { return }
            controlApply(n, .localStartDone)
        case .rejoin:
            controlJoin(n)
        }
    }

    /// After the fence domain settled on the healed cluster: runs until every node's control daemon runs the group
    /// with every node, then compares the order of recoveries.
    func settleControl() {
        guard let c = control else { return }
        defer { c.checker.checkOrder() }
        // The group can only recover once fencing has: judge liveness only where the fence domain settled.
        if let f = fencing, f.checker.counts.settledDomains == 0 {
            c.undecided.append("the fence domain did not settle\(f.undecided.isEmpty ? "" : ": " + f.undecided.joined(separator: "; "))")
            return
        }
        let everyone = nodes.map(\.id)
        let end = now + .seconds(30)
        while now < end {
            runUntil(now + .milliseconds(100))
            let settled = nodes.allSatisfy { n in
                guard n.isUp, let m = c.machines[n.index], c.incarnation[n.index] == n.incarnation else { return false }
                return m.phase == .running && m.memberNodes == everyone
            }
            if settled {
                c.checker.groupSettled()
                return
            }
        }
        let states = nodes.map { n -> String in
            guard n.isUp else { return "n\(n.index + 1):down" }
            guard let m = c.machines[n.index], c.incarnation[n.index] == n.incarnation else { return "n\(n.index + 1):no control daemon" }
            return "n\(n.index + 1):\(m.phase.rawValue)/\(m.waiting)/members \(m.memberNodes.map(\.description).joined(separator: ","))"
        }
        c.checker.failLiveness("the group did not run with every node within 30 s of the fence domain settling: \(states.joined(separator: " "))")
    }

    /// The control layer's recent events, oldest first.
    public var controlLog: [String] { control?.log ?? [] }

    /// The control checker's findings and counts, and why liveness could not be judged (nil without the layer).
    public var controlReport: (violations: [String], counts: ControlChecker.Counts, undecided: [String])? {
        control.map { ($0.checker.violations, $0.checker.counts, $0.undecided) }
    }

    /// Node i's control daemon's group (nil where the node or its daemon is down).
    public func controlGroup(_ i: Int) -> Control.GroupStateMachine? {
        guard let c = control, nodes[i].isUp, c.incarnation[i] == nodes[i].incarnation else { return nil }
        return c.machines[i]
    }
}
