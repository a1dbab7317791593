// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore
import Testing

@Suite("Quorum rules")
struct QuorumRulesTests {
    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var settings: Quorum.Settings
        var present: [Int]
        var quorate: Bool
        var quorum: UInt32
        var total: UInt32
        var expected: UInt32
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "3 nodes, all present", settings: settings(3), present: [1, 2, 3], quorate: true, quorum: 2, total: 3, expected: 3),
        Scenario(name: "3 nodes, 2 present", settings: settings(3), present: [1, 2], quorate: true, quorum: 2, total: 2, expected: 3),
        Scenario(name: "3 nodes, 1 present", settings: settings(3), present: [1], quorate: false, quorum: 2, total: 1, expected: 3),
        Scenario(name: "4 nodes, half present", settings: settings(4), present: [1, 2], quorate: false, quorum: 3, total: 2, expected: 4),
        Scenario(name: "5 nodes, 3 present", settings: settings(5), present: [1, 2, 3], quorate: true, quorum: 3, total: 3, expected: 5),
        Scenario(name: "weighted votes 3,1,1: the heavy node alone", settings: settings(3, votes: [3, 1, 1]), present: [1], quorate: true, quorum: 3, total: 3, expected: 5),
        Scenario(name: "weighted votes 3,1,1: the light nodes", settings: settings(3, votes: [3, 1, 1]), present: [2, 3], quorate: false, quorum: 3, total: 2, expected: 5),
        Scenario(name: "two_node: one node", settings: settings(2, expected: 1, twoNode: true), present: [1], quorate: true, quorum: 1, total: 1, expected: 1),
        Scenario(name: "two_node: both", settings: settings(2, expected: 1, twoNode: true), present: [1, 2], quorate: true, quorum: 1, total: 2, expected: 2),
        Scenario(name: "expected_votes above the node total", settings: settings(3, expected: 5), present: [1, 2], quorate: false, quorum: 3, total: 2, expected: 5),
        Scenario(name: "zero-vote node does not count", settings: settings(3, votes: [1, 1, 0]), present: [1, 3], quorate: false, quorum: 2, total: 1, expected: 2),
        Scenario(name: "wait_for_all: 2 of 3 at start", settings: settings(3, waitForAll: true), present: [1, 2], quorate: false, quorum: 2, total: 2, expected: 3),
        // Nobody has seen the whole cluster yet: a fresh quorumd breaks no tie (QuorumPowerTests: once it has, it does).
        Scenario(name: "auto_tie_breaker: half with node 1, before the cluster was seen whole", settings: settings(4, autoTieBreaker: true), present: [1, 2],
                 quorate: false, quorum: 3, total: 2, expected: 4),
        Scenario(name: "auto_tie_breaker: half without node 1", settings: settings(4, autoTieBreaker: true), present: [3, 4], quorate: false, quorum: 3, total: 2, expected: 4),
        // Half of an expected_votes below the configured votes is a minority: nodes 2 and 3 are quorate on their own.
        Scenario(name: "auto_tie_breaker: no tie below the configured votes", settings: settings(3, expected: 2, autoTieBreaker: true), present: [1],
                 quorate: false, quorum: 2, total: 1, expected: 2),
    ]

    @Test("quorum, total and expected votes", arguments: scenarios)
    func scenario(_ s: Scenario) throws {
        var bus = QuorumBus(settings: s.settings, nodes: s.present)
        bus.partition([s.present])
        let summary = try #require(bus.summary(s.present[0]))
        #expect(summary.quorate == s.quorate)
        #expect(summary.quorum == s.quorum)
        #expect(summary.totalVotes == s.total)
        #expect(summary.expectedVotes == s.expected)
        for n in s.present { #expect(bus.summary(n) == summary, "every member computes the same") }
    }

    @Test("quorum never drops on its own: losing nodes keeps expected votes")
    func stickyExpected() {
        var bus = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        bus.partition([[1, 2]])
        #expect(bus.summary(1)?.quorum == 3)
        #expect(bus.summary(1)?.quorate == false)
    }

    @Test("cman_tool expected -e lowers expected votes everywhere, but not below the votes present")
    func setExpected() {
        var bus = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        bus.partition([[1, 2, 3]])
        #expect(bus.request(1, .setExpected(1)) == .refused("expected votes 1 is below the 3 votes present; quorum is never computed from fewer votes than are present"))
        #expect(bus.request(1, .setExpected(3)) == .accepted)
        #expect(bus.summary(1)?.quorum == 2)
        #expect(bus.summary(2)?.expectedVotes == 3)
    }

    @Test("leave remove lowers expected votes by the leaver's votes")
    func leaveRemove() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.request(3, .leave(remove: true))
        #expect(bus.cores[3] == nil)
        bus.partition([[1, 2]])
        #expect(bus.summary(1)?.expectedVotes == 2)
        bus.partition([[1]])
        #expect(bus.summary(1)?.quorum == 2)
    }

    @Test("votes -v changes a node's votes cluster-wide")
    func setVotes() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.request(2, .setVotes(node: NodeID(1), votes: 3))
        #expect(bus.summary(3)?.totalVotes == 5)
        #expect(bus.summary(3)?.expectedVotes == 5)
    }

    @Test("quorum disk: the master's partition gets the device votes and survives alone")
    func qdiskVotes() {
        var bus = QuorumBus(settings: settings(2, qdisk: 1), nodes: [1, 2])
        bus.partition([[1, 2]])
        #expect(bus.summary(1)?.expectedVotes == 3)
        bus.partition([[1], [2]])
        bus.send(1, .qdisk(votes: 1, asMaster: true))
        bus.send(2, .qdisk(votes: 0, asMaster: false))
        #expect(bus.quorate(1))
        #expect(!bus.quorate(2))
    }

    @Test("wait_for_all: quorate only after every node was present once, then ordinary rules")
    func waitForAll() {
        var bus = QuorumBus(settings: settings(3, waitForAll: true), nodes: [1, 2, 3])
        bus.partition([[1, 2], [3]])
        #expect(!bus.quorate(1))
        bus.partition([[1, 2, 3]])
        #expect(bus.quorate(1))
        bus.partition([[1, 2], [3]])
        #expect(bus.quorate(1))
    }

    @Test("last_man_standing: after the window, expected votes follow the survivors down")
    func lastManStanding() {
        var bus = QuorumBus(settings: settings(5, lastManStanding: true), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        bus.partition([[1, 2, 3], [4], [5]])
        #expect(bus.quorate(1))
        bus.advance(.seconds(11))
        #expect(bus.summary(1)?.expectedVotes == 3)
        bus.partition([[1, 2], [3], [4], [5]])
        #expect(bus.quorate(1))
        #expect(!bus.quorate(3))
    }

    @Test("Disallowed: a node that returns without restarting while both sides are dirty; the quorate side kills it")
    func disallowed() {
        var bus = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        bus.partition([[1, 2, 3, 4, 5]])
        for n in 1...5 { bus.send(n, .setDirty) }
        bus.partition([[1, 4, 5], [2, 3]])
        #expect(bus.quorate(1) && !bus.quorate(2))
        bus.partition([[1, 2, 3, 4, 5]])
        // The seed's example: each side sees the other as Disallowed.
        #expect(bus.state(1, of: 2) == .disallowed && bus.state(1, of: 3) == .disallowed)
        #expect(bus.state(1, of: 4) == .member)
        #expect(bus.summary(1)?.disallowed == [NodeID(2), NodeID(3)])
        // The quorate side (1, 4, 5) told 2 and 3 to leave, and they did.
        #expect(bus.cores[2] == nil && bus.cores[3] == nil)
        #expect(bus.quorate(1))
    }

    @Test("Disallowed both ways when a node went through a ring of its own that the others never saw as a ring change")
    func disallowedAfterUnseenRing() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        for n in 1...3 { bus.send(n, .setDirty) }
        // Node 1 forms a ring alone; 2 and 3 go on in theirs (their totem has not noticed yet).
        bus.partition([[1], [2, 3]], seenBy: [1], cameAlong: [1: [1]])
        #expect(!bus.quorate(1) && bus.quorate(2))
        // One ring again: 1 came along alone, 2 and 3 together; for them 1 left the old ring and is back.
        bus.partition([[1, 2, 3]], seenBy: [1, 2, 3], cameAlong: [1: [1], 2: [2, 3], 3: [2, 3]])
        // Both sides judge the other Disallowed (before, only node 1 did, and the quorate side counted it and
        // waited for it); the quorate side tells node 1 to leave.
        #expect(bus.cores[1] == nil, "the quorate side killed the node that went its own way")
        #expect(bus.summary(2)?.disallowed == [NodeID(1)] && bus.quorate(2) && bus.quorate(3))
    }

    @Test("no Disallowed without state, or after a restart")
    func allowedRejoins() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.partition([[1, 2], [3]])
        bus.partition([[1, 2, 3]])
        #expect(bus.state(1, of: 3) == .member)
        for n in 1...3 { bus.send(n, .setDirty) }
        bus.partition([[1, 2], [3]])
        bus.crash(3)
        bus.cores[3] = Quorum.StateMachine(nodeID: NodeID(3), settings: settings(3), configVersion: 1, joinTime: 9_999)
        bus.partition([[1, 2, 3]])
        #expect(bus.state(1, of: 3) == .member)
    }

    @Test("an inquorate side waits for an administrator: nobody is killed")
    func disallowedInquorate() {
        var bus = QuorumBus(settings: settings(4), nodes: [1, 2, 3, 4])
        bus.partition([[1, 2, 3, 4]])
        for n in 1...4 { bus.send(n, .setDirty) }
        bus.partition([[1, 2], [3, 4]])
        bus.partition([[1, 2, 3, 4]])
        #expect(bus.state(1, of: 3) == .disallowed && bus.state(3, of: 1) == .disallowed)
        #expect(!bus.quorate(1) && !bus.quorate(3))
        #expect(bus.cores.count == 4)
    }

    @Test("kill: the named node stops; others stay")
    func kill() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        #expect(bus.request(1, .kill(NodeID(2))) == .accepted)
        #expect(bus.cores[2] == nil && bus.cores[1] != nil)
        #expect(bus.request(1, .kill(NodeID(1))) != .accepted)
    }

    @Test("config versions: a valid proposal is installed everywhere; a refused one nowhere, with the reason")
    func configVersions() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.request(1, .proposeConfig(version: 2, bytes: [1, 2, 3]))
        for n in 1...3 {
            #expect(bus.effects[n]?.contains(.installConfig(version: 2, bytes: [1, 2, 3])) == true)
            #expect(bus.cores[n]?.configVersion == 2)
        }
        #expect(bus.effects[1]?.contains(.configDistributed(version: 2, failure: nil)) == true)
        bus.request(2, .proposeConfig(version: 666, bytes: [9]))
        #expect(bus.cores[1]?.configVersion == 2)
        #expect(bus.effects[2]?.contains { if case .configDistributed(666, let f?) = $0 { f.contains("bad config") } else { false } } == true)
        #expect(bus.request(1, .proposeConfig(version: 1, bytes: [0])) != .accepted)
    }

    @Test("port messages reach only listeners; islistening follows the announcements")
    func ports() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.send(2, .localPorts([42]))
        #expect(Quorum.isListening(bus.cores[1]!.nodes, node: NodeID(2), port: 42))
        #expect(!Quorum.isListening(bus.cores[1]!.nodes, node: NodeID(3), port: 42))
        bus.request(1, .sendData(port: 42, to: NodeID(0), bytes: [7]))
        #expect(bus.effects[2]?.contains(.portData(from: NodeID(1), port: 42, bytes: [7])) == true)
        #expect(bus.effects[3]?.contains { if case .portData = $0 { true } else { false } } != true)
    }

    @Test("a barrier opens when the expected nodes arrive, and fails if one leaves first")
    func barriers() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.request(1, .barrierWait(name: "b", expected: 2))
        #expect(bus.effects[1]?.contains(.barrierReleased("b")) != true)
        bus.request(3, .barrierWait(name: "b", expected: 2))
        #expect(bus.effects[1]?.contains(.barrierReleased("b")) == true)
        #expect(bus.effects[3]?.contains(.barrierReleased("b")) == true)
        bus.request(1, .barrierWait(name: "all", expected: 0))
        bus.request(2, .barrierWait(name: "all", expected: 0))
        bus.partition([[1, 2]])
        #expect(bus.effects[1]?.contains(.barrierFailed("all", reason: "the membership changed while waiting")) == true)
    }

    @Test("a new configuration adds nodes and changes expected votes")
    func reconfigure() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        for n in 1...3 { bus.send(n, .reconfigure(settings(4, expected: 4))) }
        #expect(bus.summary(1)?.expectedVotes == 4 && bus.summary(1)?.quorum == 3)
        #expect(bus.cores[1]?.nodes[NodeID(4)]?.state == .dead)
    }

    @Test("a node joining with an older config is brought up to date by the newest node, with its file")
    func staleConfigJoin() {
        var bus = QuorumBus(settings: settings(2), nodes: [1, 2])
        bus.cores[2] = Quorum.StateMachine(nodeID: NodeID(2), settings: settings(2), configVersion: 5, joinTime: 2, configBytes: [5, 5])
        bus.partition([[1, 2]])
        func proposals(_ n: Int) -> [Quorum.Message] {
            (bus.effects[n] ?? []).compactMap { e in
                guard case .multicast(let b) = e, let m = try? Quorum.Message.decode(b), case .configPropose = m else { return nil }
                return m
            }
        }
        #expect(proposals(2) == [.configPropose(origin: NodeID(2), version: 5, bytes: [5, 5])])
        #expect(proposals(1).isEmpty)
        #expect(bus.cores[1]?.configVersion == 5 && bus.cores[1]?.configBytes == [5, 5])
        #expect(bus.effects[1]?.contains(.installConfig(version: 5, bytes: [5, 5])) == true)
    }
}
