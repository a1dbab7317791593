// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
@testable import TotemCore

/// Membership rounds that must end in one ring of every live node: no node is failed for being slower than a timer
/// restarted too late, and two sides whose fail sets name each other do not keep breaking each other's rings
/// (stack-sim seeds quorum 14662 and groups 16952).
@Suite("Totem: membership liveness")
struct MembershipLivenessTests {
    /// The regular configurations `node` installed after `index` of its upcalls.
    static func regulars(_ net: Lockstep, _ node: Int, after index: Int) -> [Totem.ConfigurationChange] {
        net.upcalls[node][index...].compactMap { u -> Totem.ConfigurationChange? in
            if case .configurationChange(let c) = u, c.kind == .regular { c } else { nil }
        }
    }

    @Test("a failure learnt just before the consensus timeout does not fail the members that had no time to agree")
    func consensusClockRestartsOnChange() throws {
        var net = Lockstep(count: 4)
        net.startAll()
        net.run(for: .seconds(3))
        try #require(net.isOneRing([0, 1, 2, 3]))
        let marks = (0..<3).map { net.upcalls[$0].count }
        net.nodes[3] = nil
        net.filter = { _, to, _ in to != 3 }
        net.run(for: .seconds(4))
        #expect(net.isOneRing([0, 1, 2]))
        // The survivors go from the ring of four to one of three, without a ring that leaves a live node out on the way.
        for i in 0..<3 {
            let partial = Self.regulars(net, i, after: marks[i]).filter { $0.members.count < 3 }
            #expect(partial.isEmpty, "n\(i + 1) installed \(partial.map { "\($0.ringID) \($0.members)" })")
        }
    }

    @Test("an operational node ignores a join that lists it as failed; the sender's ring merges with it afterwards")
    func joinListingUsFailedIgnored() throws {
        var net = Lockstep(count: 3)
        net.startAll()
        net.run(for: .seconds(3))
        try #require(net.isOneRing([0, 1, 2]))
        let ring = try #require(net.nodes[0]?.ringID)
        // Node 3, still in a gather that has failed nodes 1 and 2 (crossed fail sets after a heal), announces it.
        let stale = Totem.Join(procSet: [NodeID(1), NodeID(2), NodeID(3)], failSet: [NodeID(1), NodeID(2)],
                               ringSeq: ring.sequence)
        let bytes = Totem.Packet(clusterID: 1, sender: NodeID(3), message: .join(stale)).encode()
        net.handle(0, .datagram(bytes))
        #expect(net.nodes[0]?.state == .operational)
        #expect(net.nodes[0]?.ringID == ring)
        #expect(net.nodes[0]?.counters.joinsListingUsFailedIgnored == 1)
        net.run(for: .seconds(2))
        #expect(net.isOneRing([0, 1, 2]))
    }
}
