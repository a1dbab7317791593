// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
@testable import TotemCore

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
        let (early, net, large) = try Self.overstatedAru()
        #expect(!early, "node 1 delivered the safe message while node 2 misses a frame of it")
        for i in 0..<3 {
            #expect(net.deliveries(i).map(\.payload) == [[1], large, [3]], "node \(i + 1)")
        }
    }

    @Test("with the reuse counted as a visit (mutation 'held token reuse counts as a visit') the holder delivers the safe message early")
    func heldTokenReuseCaught() throws {
        let (early, _, _) = try Self.overstatedAru(mutations: .heldTokenReuseIsAVisit)
        #expect(early, "the mutation went unnoticed")
    }

    /// Node 1 (the holder) sends one safe message of two frames, s0+1 and s0+2. Node 2 never gets s0+2; node 3 misses
    /// both the first time, so it lowers the token's aru below node 2's and becomes the aru setter. When node 3 has
    /// both again it raises the aru to the token's seq, and node 1 sees an idle-looking token (aru = seq, twice the
    /// same seq) although node 2, which the token has not visited since, still misses s0+2. Then node 1 submits a
    /// message of its own, using the held token again. Returns whether node 1 delivered the safe message at that
    /// moment (it must not), and the network after node 2 got its frame and everything settled.
    static func overstatedAru(mutations: Totem.Mutations = []) throws -> (deliveredEarly: Bool, net: Lockstep, large: [UInt8]) {
        var net = try HolderProbeTests.idleRing(mutations: mutations)
        let s0 = try #require(net.nodes[0]?.heldToken?.seq)
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
        net.handle(0, .submit(channel: 1, payload: [3], guarantee: .agreed))
        let early = net.deliveries(0).contains { $0.payload == large }
        // Once node 2 gets its frame, everyone delivers everything, in the same order.
        net.filter = { _, _, _ in true }
        net.run(for: .seconds(2))
        return (early, net, large)
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
