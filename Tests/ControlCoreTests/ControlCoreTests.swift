// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
@testable import ControlCore

/// Members of one managed group joined by an in-memory agreed stream: every view and message reaches every member
/// in the same order, as the group layer delivers them.
struct GroupBus {
    var cores: [Control.Member: Control.GroupStateMachine] = [:]
    var effects: [Control.Member: [Control.GroupStateMachine.Effect]] = [:]
    var wire: [(Control.Member, [UInt8])] = []
    var viewID: UInt64 = 0
    var autoStart = true
    var now = MonotonicInstant(nanoseconds: 1)

    static func member(_ n: UInt32) -> Control.Member { Control.Member(node: NodeID(n), pid: 100 + n) }

    mutating func add(_ n: UInt32, requireQuorum: Bool = false) {
        let m = Self.member(n)
        cores[m] = Control.GroupStateMachine(name: "ls", me: m, requireQuorum: requireQuorum)
    }

    mutating func send(_ m: Control.Member, _ e: Control.GroupStateMachine.Event) {
        guard var c = cores[m] else { return }
        let out = c.handle(e, at: now)
        cores[m] = c
        effects[m, default: []] += out.effects
        for effect in out.effects {
            switch effect {
            case .multicast(let b): wire.append((m, b))
            case .start where autoStart: pendingStarts.append(m)
            default: break
            }
        }
    }
    var pendingStarts: [Control.Member] = []

    /// A view of `members` (others removed from the bus), then everything that follows from it.
    mutating func view(_ members: [UInt32], left: [(UInt32, Control.LeftReason)] = [], at wall: UInt64 = 100) {
        viewID += 1
        let list = members.map(Self.member)
        for m in cores.keys where !list.contains(m) { cores[m] = nil }
        for m in list.sorted() {
            send(m, .view(members: list, joined: [], left: left.map { (Self.member($0.0), $0.1) }, id: viewID, wallSeconds: wall))
        }
        settle()
    }

    mutating func settle() {
        while !wire.isEmpty || !pendingStarts.isEmpty {
            if !wire.isEmpty {
                let (from, bytes) = wire.removeFirst()
                for m in cores.keys.sorted() { send(m, .delivered(from: from, bytes: bytes)) }
            } else {
                let m = pendingStarts.removeFirst()
                send(m, .localStartDone)
            }
        }
    }

    mutating func toAll(_ e: Control.GroupStateMachine.Event) {
        for m in cores.keys.sorted() { send(m, e) }
        settle()
    }

    func phases() -> [Control.Phase] { cores.keys.sorted().map { cores[$0]!.phase } }
    func starts(_ m: Control.Member) -> [[NodeID]] {
        (effects[m] ?? []).compactMap { if case .start(let n) = $0 { n } else { nil } }
    }
}

@Suite("control daemons' group recovery and topology")
struct ControlCoreTests {
    @Test("three members join: all stop, agree, start with the three, and run")
    func firstRecovery() {
        var bus = GroupBus()
        for n: UInt32 in 1...3 { bus.add(n) }
        bus.view([1, 2, 3])
        #expect(bus.phases() == [.running, .running, .running])
        for n: UInt32 in 1...3 { #expect(bus.starts(GroupBus.member(n)) == [[NodeID(1), NodeID(2), NodeID(3)]]) }
        #expect(bus.cores[GroupBus.member(1)]!.recoveries == 1)
    }

    @Test("a failed member: the others stop at once and start again only after fenced reports it fenced since it failed")
    func waitsForFencing() {
        var bus = GroupBus()
        for n: UInt32 in 1...3 { bus.add(n) }
        bus.view([1, 2, 3])
        bus.view([1, 2], left: [(3, .failed)], at: 500)
        #expect(bus.phases() == [.stopped, .stopped])
        #expect(bus.cores[GroupBus.member(1)]!.waiting == .fencing([NodeID(3)]))
        for n: UInt32 in 1...2 { #expect(bus.effects[GroupBus.member(n)]!.contains(.stop)) }
        // A fence of node 3 from before this failure does not count.
        bus.toAll(.fenceTimes([NodeID(3): 498]))
        #expect(bus.phases() == [.stopped, .stopped])
        // Node 1's fenced learns first: node 1 says it stopped, but nobody starts until node 2 knows too.
        bus.send(GroupBus.member(1), .fenceTimes([NodeID(3): 501]))
        bus.settle()
        #expect(bus.phases() == [.stopped, .stopped])
        #expect(bus.cores[GroupBus.member(1)]!.waiting == .stopped([GroupBus.member(2)]))
        bus.send(GroupBus.member(2), .fenceTimes([NodeID(3): 501]))
        bus.settle()
        #expect(bus.phases() == [.running, .running])
        #expect(bus.starts(GroupBus.member(1)).last == [NodeID(1), NodeID(2)])
    }

    @Test("a fence the second before the view counts (fenced was quicker than the group); one before the node last joined never does")
    func failureTime() {
        #expect(Control.GroupStateMachine.failureTime(seen: 500, joined: nil) == 499)
        #expect(Control.GroupStateMachine.failureTime(seen: 500, joined: 400) == 499)
        #expect(Control.GroupStateMachine.failureTime(seen: 500, joined: 500) == 500)
        var bus = GroupBus()
        for n: UInt32 in 1...3 { bus.add(n) }
        bus.view([1, 2, 3])
        bus.view([1, 2], left: [(3, .failed)], at: 300)
        bus.toAll(.fenceTimes([NodeID(3): 299]))
        #expect(bus.phases() == [.running, .running])
        // Node 3 comes back at 305 and fails again in the same second: the fence at 299 does not settle that.
        bus.add(3)
        viewJoining(&bus, [1, 2, 3], joined: 3, at: 305)
        bus.view([1, 2], left: [(3, .failed)], at: 305)
        #expect(bus.cores[GroupBus.member(1)]!.waiting == .fencing([NodeID(3)]))
        bus.toAll(.fenceTimes([NodeID(3): 305]))
        #expect(bus.phases() == [.running, .running])
    }

    private func viewJoining(_ bus: inout GroupBus, _ members: [UInt32], joined: UInt32, at wall: UInt64) {
        bus.viewID += 1
        let list = members.map(GroupBus.member)
        for m in list.sorted() {
            bus.send(m, .view(members: list, joined: [GroupBus.member(joined)], left: [], id: bus.viewID, wallSeconds: wall))
        }
        bus.settle()
    }

    @Test("a clean leave needs no fencing; quorum is waited for when required")
    func cleanLeaveAndQuorum() {
        var bus = GroupBus()
        for n: UInt32 in 1...3 { bus.add(n, requireQuorum: true) }
        bus.view([1, 2, 3])
        #expect(bus.phases() == [.stopped, .stopped, .stopped])
        #expect(bus.cores[GroupBus.member(1)]!.waiting == .quorum)
        bus.toAll(.quorum(true))
        #expect(bus.phases() == [.running, .running, .running])
        bus.view([1, 2], left: [(3, .clean)])
        #expect(bus.phases() == [.running, .running])
    }

    @Test("a view during a recovery abandons it: messages about the old recovery are ignored")
    func viewDuringRecovery() {
        var bus = GroupBus()
        for n: UInt32 in 1...4 { bus.add(n) }
        bus.view([1, 2, 3, 4])
        bus.view([1, 2, 3], left: [(4, .failed)], at: 10)
        // Node 1 alone knows 4 fenced and says it stopped; then node 3 fails too.
        bus.send(GroupBus.member(1), .fenceTimes([NodeID(4): 11]))
        bus.settle()
        bus.view([1, 2], left: [(3, .failed)], at: 20)
        #expect(bus.cores[GroupBus.member(1)]!.waiting == .fencing([NodeID(3)]))
        #expect(bus.cores[GroupBus.member(2)]!.waiting == .fencing([NodeID(3), NodeID(4)]))
        bus.toAll(.fenceTimes([NodeID(3): 21, NodeID(4): 11]))
        #expect(bus.phases() == [.running, .running])
        #expect(bus.starts(GroupBus.member(2)) == [[NodeID(1), NodeID(2), NodeID(3), NodeID(4)], [NodeID(1), NodeID(2)]])
    }

    @Test("every member goes through the same sequence of phases")
    func sameSequence() {
        var bus = GroupBus()
        for n: UInt32 in 1...3 { bus.add(n) }
        bus.view([1, 2, 3])
        bus.view([1, 2], left: [(3, .failed)], at: 7)
        bus.toAll(.fenceTimes([NodeID(3): 7]))
        func sequence(_ m: Control.Member) -> [String] {
            let phases = (bus.effects[m] ?? []).compactMap { if case .phaseChanged(let p, _) = $0 { p.rawValue } else { nil } }
            // A phase is reported again when only what it waits for changes; the sequence of phases is what must agree.
            return phases.enumerated().filter { $0.offset == 0 || phases[$0.offset - 1] != $0.element }.map(\.element)
        }
        #expect(sequence(GroupBus.member(1)) == sequence(GroupBus.member(2)))
        #expect(sequence(GroupBus.member(1)).filter { $0 == "run" }.count == 2)
    }

    @Test("a lower level still recovering holds the start back")
    func levels() {
        var bus = GroupBus()
        for n: UInt32 in 1...2 { bus.add(n) }
        bus.toAll(.lowerLevels(ready: false))
        bus.view([1, 2])
        #expect(bus.cores[GroupBus.member(1)]!.waiting == .lowerLevels)
        bus.toAll(.lowerLevels(ready: true))
        #expect(bus.phases() == [.running, .running])
    }

    @Test("leaving stops the subsystem, then leaves the group")
    func leave() {
        var bus = GroupBus()
        bus.add(1)
        bus.view([1])
        bus.send(GroupBus.member(1), .leave)
        #expect(bus.effects[GroupBus.member(1)]!.suffix(3).prefix(2) == [.stop, .leaveGroup])
    }

    @Test("messages round-trip; every truncation and unknown kind is refused")
    func codec() throws {
        for m: Control.Message in [.stopped(event: 7), .started(event: UInt64.max)] {
            #expect(try Control.Message.decode(m.encode()) == m)
            let b = m.encode()
            for n in 0..<b.count { #expect(throws: (any Error).self) { try Control.Message.decode(Array(b[0..<n])) } }
        }
        #expect(throws: (any Error).self) { try Control.Message.decode([1, 9, 0, 0, 0, 0, 0, 0, 0, 1]) }
    }

    @Test("topology: adds and removals as the members change; a pinned node stays until released")
    func topology() {
        var t = Control.Topology()
        let a = Control.Topology.Node(id: NodeID(1), name: "a", address: "10.0.0.1")
        let b = Control.Topology.Node(id: NodeID(2), name: "b", address: "10.0.0.2")
        #expect(t.update(members: [b, a]) == [.add(a), .add(b)])
        #expect(t.update(members: [a, b]) == [])
        t.pin(NodeID(2), by: "ocfs2_controld")
        #expect(t.update(members: [a]) == [.removalDeferred(NodeID(2), pinnedBy: ["ocfs2_controld"])])
        #expect(t.nodes[NodeID(2)] != nil)
        #expect(t.update(members: [a]) == [])
        #expect(t.unpin(NodeID(2), by: "ocfs2_controld") == [.remove(NodeID(2))])
        #expect(t.nodes[NodeID(2)] == nil)
        // A node back before its pin was released is simply kept.
        t.pin(NodeID(1), by: "x")
        _ = t.update(members: [])
        #expect(t.update(members: [a]) == [])
        #expect(t.unpin(NodeID(1), by: "x") == [])
        #expect(t.nodes[NodeID(1)] == a)
    }
}
