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

/// A representative holding the idle token that gets a message of its own sends it with that token at once, instead of
/// passing the token on and waiting a whole rotation for it to come back (the light-load latency of a sending
/// representative).
@Suite("Totem held token: the holder's own message goes out with the held token")
struct HeldTokenUseTests {
    @Test("a message submitted at the holding representative is multicast before the token leaves, and delivered in order everywhere")
    func holderSendsAtOnce() throws {
        var net = try HolderProbeTests.idleRing()
        let before = net.sent[0].count
        net.handle(0, .submit(channel: 1, payload: [7], guarantee: .agreed))
        let out = net.sent[0].dropFirst(before)
        let kinds = out.map { m -> String in
            switch m {
            case .mcast: "mcast"
            case .token: "token"
            default: "other"
            }
        }
        #expect(kinds == ["mcast", "token"], "the holder sent \(kinds)")
        #expect(net.nodes[0]?.heldToken == nil)
        net.run(for: .milliseconds(100))
        for i in 0..<3 {
            #expect(net.deliveries(i).map(\.payload) == [[1], [7]])
        }
        // The ring goes on idle again, with no duplicate or lost token.
        net.run(for: .seconds(2))
        #expect(net.isOneRing([0, 1, 2]))
        for i in 0..<3 {
            #expect(net.nodes[i]?.counters.tokenLosses == 0 && net.nodes[i]?.counters.tokenRetransmits == 0)
        }
    }

    @Test("a held token used again does not advance safe delivery: its aru may overstate a member between the holder and the aru setter")
    func reuseIsNotASecondVisit() throws {
        var net = try HolderProbeTests.idleRing()
        let s0 = try #require(net.nodes[0]?.heldToken?.seq)
        // Node 1 (the holder) sends one safe message of two frames, s0+1 and s0+2. Node 2 never gets s0+2; node 3
        // misses both the first time, so it lowers the token's aru below node 2's and becomes the aru setter. When node
        // 3 has both again it raises the aru to the token's seq, and node 1 sees an idle-looking token (aru = seq,
        // twice the same seq) although node 2, which the token has not visited since, still misses s0+2.
        final class Drops: @unchecked Sendable { var firstToThree: Set<UInt32> = [] }
        let drops = Drops()
        drops.firstToThree = [s0 &+ 1, s0 &+ 2]
        net.filter = { _, to, message in
            guard case .mcast(let m) = message else { return true }
            if to == 1 && m.seq == s0 &+ 2 { return false }
            if to == 2 && drops.firstToThree.remove(m.seq) != nil { return false }
            return true
        }
        let large = [UInt8](repeating: 0x5A, count: 2_000)
        net.handle(0, .submit(channel: 1, payload: large, guarantee: .safe))
        let held = net.run(for: .seconds(1), until: { $0.nodes[0]?.heldToken != nil })
        try #require(held, "the holder never held the token again")
        try #require(net.nodes[0]?.heldToken?.seq == s0 &+ 2 && net.nodes[0]?.heldToken?.aru == s0 &+ 2)
        try #require(net.nodes[1]?.buffer[s0 &+ 2] == nil, "node 2 got the frame it must miss")
        // A message of the holder's own: it uses the held token again, and must not take that token's aru for a
        // second visit's.
        net.handle(0, .submit(channel: 1, payload: [3], guarantee: .agreed))
        #expect(!net.deliveries(0).contains { $0.payload == large }, "node 1 delivered the safe message while node 2 misses a frame of it")
        // Once node 2 gets its frame, everyone delivers everything, in the same order.
        net.filter = { _, _, _ in true }
        net.run(for: .seconds(2))
        for i in 0..<3 {
            #expect(net.deliveries(i).map(\.payload) == [[1], large, [3]], "node \(i + 1)")
        }
    }

    @Test("a token-hold-cancel from another member still passes the held token on unused")
    func cancelPassesOn() throws {
        var net = try HolderProbeTests.idleRing()
        let before = net.sent[0].count
        net.handle(1, .submit(channel: 1, payload: [8], guarantee: .agreed))
        net.run(for: .milliseconds(100))
        let first = net.sent[0].dropFirst(before).first
        if case .token = first {} else { Issue.record("the holder's first send after the cancel was \(String(describing: first))") }
        for i in 0..<3 {
            #expect(net.deliveries(i).map(\.payload) == [[1], [8]])
        }
    }
}
