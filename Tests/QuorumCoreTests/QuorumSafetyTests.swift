// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore
import Testing

/// The holes of issue 9: each test reproduces one way two disjoint partitions could both be quorate, or one way
/// quorum could stall, and fails without its fix.
@Suite("Quorum safety: no two quorate partitions")
struct QuorumSafetyTests {
    @Test("votes -v 3 on node 1 of a whole 3-node cluster, then {1}|{2,3}: only node 1 is quorate (sticky quorum)")
    func stickyAfterVotesChange() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        #expect(bus.request(1, .setVotes(node: NodeID(1), votes: 3)) == .accepted)
        #expect(bus.summary(2)?.totalVotes == 5)
        bus.partition([[1], [2, 3]])
        #expect(bus.quorate(1))
        #expect(!bus.quorate(2) && !bus.quorate(3), "\(String(describing: bus.summary(2)))")
    }

    @Test("five 1-vote nodes with expected_votes=3, whole once, then {1,2,3}|{4,5}: only the 3-side is quorate")
    func stickyWithLowExpected() {
        var bus = QuorumBus(settings: settings(5, expected: 3), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        bus.partition([[1, 2, 3], [4, 5]])
        #expect(bus.quorate(1))
        #expect(!bus.quorate(4) && !bus.quorate(5), "\(String(describing: bus.summary(4)))")
    }

    @Test("version -r in an inquorate partition is refused; a configuration with expected_votes=1 does not make it quorate")
    func configOnlyWhenQuorate() {
        var bus = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        bus.partition([[1, 2], [3, 4, 5]])
        let r = bus.request(1, .proposeConfig(version: 2, bytes: [1]))
        #expect(r != .accepted)
        if case .refused(let why) = r { #expect(why.contains("quorate partition")) }
        #expect(bus.cores[1]?.configVersion == 1 && bus.cores[2]?.configVersion == 1)
        // Even if such a file reached the minority's nodes, it may not lower the quorum they run with.
        for n in [1, 2] { bus.send(n, .reconfigure(settings(5, expected: 1))) }
        #expect(!bus.quorate(1) && !bus.quorate(2), "\(String(describing: bus.summary(1)))")
        #expect(bus.quorate(3))
    }

    @Test("qdisk: a non-master's device votes do not survive a membership change")
    func qdiskOfferDroppedOnMembershipChange() {
        var bus = QuorumBus(settings: settings(2, qdisk: 1), nodes: [1, 2])
        bus.partition([[1, 2]])
        bus.send(1, .qdisk(votes: 1, asMaster: true))
        bus.send(2, .qdisk(votes: 1, asMaster: false))
        #expect(bus.quorate(1) && bus.quorate(2))
        bus.partition([[1], [2]])
        #expect(bus.quorate(1))
        #expect(!bus.quorate(2), "node 2 kept the device's vote it was given for the old membership")
    }

    @Test("qdisk: a master's offer is outstanding until its own retraction is delivered; it stops counting the votes at once")
    func qdiskMasterOfferOutstanding() throws {
        var core = Quorum.StateMachine(nodeID: NodeID(1), settings: settings(3, qdisk: 2), configVersion: 1, joinTime: 1)
        var wire: [[UInt8]] = []
        func take(_ out: Quorum.Output) { for case .multicast(let b) in out.effects { wire.append(b) } }
        func deliverAll() { while !wire.isEmpty { take(core.handle(.delivered(from: NodeID(1), bytes: wire.removeFirst()), at: .zero)) } }
        let ring = RingID(representative: NodeID(1), sequence: 4)
        take(core.handle(.configuration(ConfigurationChange(kind: .transitional, ringID: ring, members: [NodeID(1)])), at: .zero))
        take(core.handle(.configuration(ConfigurationChange(kind: .regular, ringID: ring, members: [NodeID(1), NodeID(2)])), at: .zero))
        deliverAll()
        take(core.handle(.qdisk(votes: 2, asMaster: true), at: .zero))
        #expect(core.masterOfferOutstanding)
        deliverAll()
        #expect(core.summary.qdiskVotes == 2 && core.masterOfferOutstanding)
        // The disk says this node is master no longer: it stops counting at once; its peers count the offer until
        // its announcement lands, so it stays outstanding until then.
        take(core.handle(.qdisk(votes: 0, asMaster: false), at: .zero))
        #expect(core.summary.qdiskVotes == 0)
        #expect(core.masterOfferOutstanding, "the retraction is not delivered yet")
        deliverAll()
        #expect(!core.masterOfferOutstanding)
    }

    @Test("Disallowed: a returning node that holds state is Disallowed even by a side without state")
    func disallowedWhenOnlyTheReturningNodeIsDirty() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.partition([[1, 2], [3]])
        bus.send(3, .setDirty)
        bus.partition([[1, 2, 3]])
        #expect(bus.state(1, of: 3) == .disallowed)
        #expect(bus.state(2, of: 3) == .disallowed)
    }

    @Test("a quorumd restarted while the ring stays the same learns its peers and becomes quorate")
    func restartWithoutRingChange() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.restartInPlace(3, settings: settings(3))
        #expect(bus.quorate(3), "\(String(describing: bus.summary(3)))")
        #expect(bus.summary(3)?.memberCount == 3)
    }

    @Test("expected -e above the votes present is refused (cman's EINVAL)")
    func expectedTooHigh() {
        var bus = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        let r = bus.request(1, .setExpected(10))
        #expect(r != .accepted)
        if case .refused(let why) = r { #expect(why.contains("inquorate")) }
        #expect(bus.quorate(1) && bus.summary(1)?.expectedVotes == 5)
    }

    @Test("expected and votes changes that would make a minority quorate are refused, saying why")
    func minorityAdminRefused() {
        var bus = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        bus.partition([[1, 2], [3, 4, 5]])
        for r in [bus.request(1, .setExpected(2)), bus.request(1, .setVotes(node: NodeID(1), votes: 3))] {
            guard case .refused(let why)? = r else {
                Issue.record("accepted: \(String(describing: r))")
                continue
            }
            #expect(why.contains("inquorate") && why.contains("split brain") && why.contains("n3, n4, n5"), "\(why)")
        }
        #expect(!bus.quorate(1) && !bus.quorate(2))
        #expect(bus.quorate(3))
    }

    @Test("a quorate partition may lower expected votes to what is present")
    func majorityMayLowerExpected() {
        var bus = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        bus.partition([[1, 2, 3], [4, 5]])
        #expect(bus.request(1, .setExpected(2)) != .accepted, "below the votes present")
        #expect(bus.request(1, .setExpected(3)) == .accepted)
        #expect(bus.summary(2)?.expectedVotes == 3 && bus.summary(2)?.quorum == 2)
    }
}
