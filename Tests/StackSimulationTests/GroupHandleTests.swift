// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import GroupCore
import Testing

/// One groupd core on a one-node ring: every multicast comes straight back in order, as totem would deliver it.
private struct Loopback {
    var core = ProcessGroup.StateMachine(nodeID: NodeID(1))
    var events: [(ProcessGroup.Handle, ProcessGroup.ClientEvent)] = []
    var wire: [[UInt8]] = []

    init() {
        apply(core.handle(.configuration(kind: .regular, ringSequence: 4, ringRepresentative: NodeID(1), members: [NodeID(1)])))
        settle()
    }

    /// Takes a request's effects; its multicasts stay on the wire until `settle`.
    @discardableResult
    mutating func request(_ e: ProcessGroup.Event) -> ProcessGroup.RequestResult? {
        let out = core.handle(e)
        apply(out)
        return out.result
    }

    mutating func apply(_ out: ProcessGroup.Output) {
        for effect in out.effects {
            switch effect {
            case .multicast(let bytes): wire.append(bytes)
            case .event(let h, let ev): events.append((h, ev))
            }
        }
    }

    /// Delivers everything on the wire, in order.
    mutating func settle() {
        while !wire.isEmpty { apply(core.handle(.delivered(from: NodeID(1), bytes: wire.removeFirst()))) }
    }

    func deliveries(_ h: ProcessGroup.Handle) -> [[UInt8]] {
        events.compactMap { if $0.0 == h, case .delivery(_, _, let p) = $0.1 { p } else { nil } }
    }

    func views(_ h: ProcessGroup.Handle) -> [[ProcessGroup.Address]] {
        events.compactMap { if $0.0 == h, case .configurationChange(let c) = $0.1 { c.members } else { nil } }
    }
}

@Suite("groupd handles")
struct GroupHandleTests {
    let me = ProcessGroup.Address(node: NodeID(1), pid: 500)

    @Test("a process that closes its handle and joins again at once keeps its new membership")
    func reconnectWithSamePid() {
        var net = Loopback()
        #expect(net.request(.join(handle: 1, pid: 500, group: "g")) == .ok)
        net.settle()
        // The old connection goes; the same process joins on a new one before the old leave is delivered.
        net.request(.processGone(handle: 1))
        #expect(net.request(.join(handle: 2, pid: 500, group: "g")) == .ok)
        net.settle()
        #expect(net.core.members(of: "g") == [me])
        #expect(net.views(2) == [[me]], "the new handle must see its own join")
        #expect(net.request(.mcast(handle: 2, group: "g", payload: [42])) == .ok)
        net.settle()
        #expect(net.deliveries(2) == [[42]], "the new handle's message must reach it")
    }

    @Test("an explicit leave takes out only the handle that asked, and only once")
    func explicitLeave() {
        var net = Loopback()
        net.request(.join(handle: 1, pid: 500, group: "g"))
        net.settle()
        #expect(net.request(.leave(handle: 1, group: "g")) == .ok)
        #expect(net.request(.leave(handle: 1, group: "g")) == .notMember, "a second leave while the first is pending")
        #expect(net.request(.join(handle: 1, pid: 500, group: "g")) == .exists, "rejoining before the leave is delivered")
        // The handle closes while its leave is pending, and the process joins again on a new handle.
        net.request(.processGone(handle: 1))
        #expect(net.request(.join(handle: 2, pid: 500, group: "g")) == .ok)
        net.settle()
        #expect(net.views(1) == [[me]], "a handle that is gone gets nothing more")
        #expect(net.core.members(of: "g") == [me])
        #expect(net.views(2) == [[me]])
    }
}
