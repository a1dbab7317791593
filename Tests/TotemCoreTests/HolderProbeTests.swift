// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
@testable import TotemCore

/// The member that passes an idle token to the representative (which holds such a token) sends it again after
/// `Settings.holderProbe` if it has not come back: a representative killed while holding answers with ICMP port
/// unreachable and is failed by the unreachable path, instead of nothing reaching it until token_retransmit; a live one
/// drops the duplicate.
@Suite("Totem holder probe: a representative killed while holding the idle token is noticed within a hold")
struct HolderProbeTests {
    /// The timers of a 3-node cluster with cluster.conf's defaults: token 1000 ms + 650 ms coefficient, token_retransmit
    /// 393 ms, the idle token held at most 50 ms.
    static func settings(_ mutations: Totem.Mutations = []) -> Totem.Settings {
        var s = Totem.Settings(token: .milliseconds(1650), hold: Totem.Settings.idleHoldMax)
        s.mutations = mutations
        return s
    }

    /// A settled three-node ring that carried one message from node 2 and where the representative (node 1) now holds
    /// the idle token.
    static func idleRing(mutations: Totem.Mutations = []) throws -> Lockstep {
        var net = Lockstep(count: 3, settings: settings(mutations))
        net.startAll()
        net.run(for: .seconds(5))
        try #require(net.isOneRing([0, 1, 2]))
        net.handle(1, .submit(channel: 1, payload: [1], guarantee: .agreed))
        net.run(for: .milliseconds(200))
        let held = net.run(for: .seconds(1), until: { $0.nodes[0]?.heldToken != nil })
        try #require(held, "the representative never held the idle token")
        return net
    }

    /// Kills the representative while it holds and returns how long the survivors took to form their ring, and the ring.
    static func killHolder(mutations: Totem.Mutations = []) throws -> (elapsed: Duration, net: Lockstep) {
        var net = try idleRing(mutations: mutations)
        let killedAt = net.now
        net.nodes[0] = nil
        net.closedPorts = [0]
        let formed = net.run(for: .seconds(5), until: { $0.isOneRing([1, 2]) })
        try #require(formed, "the survivors never formed a ring")
        return (net.now - killedAt, net)
    }

    @Test("a representative killed while holding the idle token: its predecessor probes it within a hold and the survivors re-form in a fraction of token_retransmit")
    func deadHolderProbed() throws {
        let (elapsed, net) = try Self.killHolder()
        let s = Self.settings()
        #expect((net.nodes[2]?.counters.holderProbes ?? 0) >= 1)
        #expect((net.nodes[2]?.counters.unreachableFailures ?? 0) >= 1)
        // Noticed at the probe (hold + margin after the token was passed), then the unreachable confirmations and the
        // ring formation; without the probe nothing reaches the holder before token_retransmit.
        #expect(elapsed < s.holderProbe + s.unreachableConfirm * 3, "took \(elapsed)")
        #expect(elapsed < s.tokenRetransmit, "took \(elapsed)")
        #expect([1, 2].allSatisfy { net.nodes[$0]?.counters.tokenLosses ?? 0 == 0 })
        #expect(net.deliveries(1).map(\.payload) == [[1]] && net.deliveries(2).map(\.payload) == [[1]])
    }

    @Test("with the probe off (mutation 'no holder probe') nothing reaches the killed representative before token_retransmit")
    func noHolderProbeCaught() throws {
        let (elapsed, net) = try Self.killHolder(mutations: .noHolderProbe)
        #expect(net.nodes[2]?.counters.holderProbes == 0)
        #expect(elapsed >= Self.settings().tokenRetransmit - Self.settings().hold, "took \(elapsed)")
    }

    @Test("an idle ring sends no probe: the token comes back before the probe is due")
    func idleRingNoProbes() throws {
        var net = try Self.idleRing()
        let ring = net.nodes[0]?.ringID
        net.run(for: .seconds(5))
        #expect(net.isOneRing([0, 1, 2]) && net.nodes[0]?.ringID == ring)
        for i in 0..<3 {
            #expect(net.nodes[i]?.counters.holderProbes == 0 && net.nodes[i]?.counters.duplicateTokens == 0)
            #expect(net.nodes[i]?.counters.tokenRetransmits == 0)
        }
    }

    @Test("a live representative that is probed drops the duplicate: no membership change, the token goes on, messages flow")
    func liveHolderUndisturbed() throws {
        var net = try Self.idleRing()
        let ring = net.nodes[0]?.ringID
        let configurations = net.configurations(0).count
        // The representative's token to node 2 is lost once: node 3, which passed the token to it, does not see it
        // come back and probes the live representative.
        final class Drop: @unchecked Sendable { var once = true }
        let drop = Drop()
        net.filter = { from, to, message in
            guard case .token = message, from == 0, to == 1, drop.once else { return true }
            drop.once = false
            return false
        }
        net.run(for: .seconds(2))
        #expect(!drop.once, "the representative's token was never dropped")
        #expect((net.nodes[2]?.counters.holderProbes ?? 0) >= 1)
        #expect((net.nodes[0]?.counters.duplicateTokens ?? 0) >= 1, "the representative did not see the probe")
        net.handle(2, .submit(channel: 1, payload: [2], guarantee: .safe))
        net.run(for: .seconds(2))
        #expect(net.isOneRing([0, 1, 2]) && net.nodes.allSatisfy { $0?.ringID == ring })
        #expect(net.configurations(0).count == configurations)
        for i in 0..<3 {
            #expect(net.deliveries(i).map(\.payload) == [[1], [2]])
            #expect(net.nodes[i]?.counters.tokenLosses == 0 && net.nodes[i]?.counters.unreachableReports == 0)
        }
    }
}
