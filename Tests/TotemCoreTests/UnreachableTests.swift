// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
@testable import TotemCore

/// ICMP port-unreachable reports: fast when a process really died, never wrong about a live one. A report is only a
/// hint (a firewall REJECT rule, a firewall reload and forged ICMP look the same as a dead process), so it is acted on
/// only while the peer stays silent, and a peer that answers is never failed because of reports.
@Suite("Totem: port-unreachable reports")
struct UnreachableTests {
    static let slowToken = Totem.Settings(token: .seconds(5))

    static func formed(_ count: Int) -> Lockstep {
        var net = Lockstep(count: count, settings: slowToken)
        net.startAll()
        net.run(for: .seconds(20))
        return net
    }

    @Test("a dead process (its port closed) is out of the ring in a fraction of the token timeout")
    func deadProcessFailsFast() {
        var net = Self.formed(3)
        #expect(net.isOneRing([0, 1, 2]))
        let start = net.now
        net.nodes[2] = nil
        net.closedPorts = [2]
        // Node 2 notices when it next sends to node 3 (the token, a probe or a join) and the kernel answers.
        net.handle(1, .peerUnreachable(NodeID(3)))
        let reformed = net.run(for: .seconds(2), until: { $0.isOneRing([0, 1]) })
        #expect(reformed)
        #expect(net.now - start < .milliseconds(250), "took \(net.now - start) with a 5 s token")
        #expect((net.nodes[1]?.counters.unreachableFailures ?? 0) >= 1)
    }

    @Test("a flood of forged reports about a live node changes nothing: the node answers the probes")
    func forgedFlood() throws {
        var net = Self.formed(3)
        let ring = try #require(net.nodes[0]?.ringID)
        let configurations = net.configurations(0).count
        for _ in 0..<50 {
            net.handle(0, .peerUnreachable(NodeID(3)))
            net.handle(1, .peerUnreachable(NodeID(3)))
            net.handle(2, .peerUnreachable(NodeID(1)))
            net.run(for: .milliseconds(20))
        }
        net.run(for: .seconds(2))
        #expect(net.nodes.allSatisfy { $0?.ringID == ring && $0?.state == .operational }, "the ring changed")
        #expect(net.configurations(0).count == configurations)
        #expect(net.nodes.allSatisfy { ($0?.counters.unreachableFailures ?? 1) == 0 })
        #expect((net.nodes[0]?.counters.unreachableRefuted ?? 0) > 0)
    }

    @Test("a firewall rejecting one node's packets to another starts a membership round, but the rejected node, which answers joins, is not failed by the reports")
    func oneWayReject() {
        var net = Self.formed(3)
        // Node 3 rejects everything from node 1 (an iptables REJECT rule): node 1 gets port-unreachable reports about
        // node 3, whose own packets to node 1 still arrive.
        net.rejected = [[0, 2]]
        net.handle(0, .peerUnreachable(NodeID(3)))
        net.run(for: .seconds(30))
        #expect(net.nodes[0]?.counters.unreachableFailures == 0, "node 3 answered joins; the reports must not fail it")
        #expect((net.nodes[0]?.counters.unreachableRefuted ?? 0) > 0)
    }

    @Test("reports about a node that is not in the ring, or about this node, are ignored")
    func irrelevantReports() throws {
        var net = Self.formed(2)
        let ring = try #require(net.nodes[0]?.ringID)
        net.handle(0, .peerUnreachable(NodeID(9)))
        net.handle(0, .peerUnreachable(NodeID(1)))
        net.run(for: .seconds(1))
        #expect(net.nodes[0]?.ringID == ring)
        #expect(net.sent[0].filter { if case .probe = $0 { true } else { false } }.isEmpty)
    }

    @Test("a process that restarts at once (a report, then it answers as a new process) rejoins without being failed")
    func quickRestart() {
        var net = Self.formed(3)
        net.nodes[2] = nil
        net.closedPorts = [2]
        net.handle(0, .peerUnreachable(NodeID(3)))
        net.run(for: .milliseconds(10))
        net.closedPorts = []
        net.nodes[2] = Totem.StateMachine(nodeID: NodeID(3), clusterID: 1, settings: Self.slowToken, persistedRingSequence: 1000)
        net.handle(2, .start)
        net.run(for: .seconds(10))
        #expect(net.isOneRing([0, 1, 2]))
    }
}
