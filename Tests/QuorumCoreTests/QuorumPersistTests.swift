// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore
import Testing

/// quorumd's persisted state (issue 9's seed 16490): expected votes and votes changed at runtime are in no
/// cluster.conf; a restarted quorumd starts from them when they go with its file's version.
@Suite("Quorum: state persisted across a quorumd restart")
struct QuorumPersistTests {
    /// The last state node `n`'s core asked its shell to persist.
    func persisted(_ bus: QuorumBus, _ n: Int) -> Quorum.PersistedState? {
        bus.effects[n]?.compactMap { e -> Quorum.PersistedState? in
            if case .persistState(let s) = e { return s }
            return nil
        }.last
    }

    /// qdisk (1 vote, master_wins), 2 nodes, expected 3: node 2 raised to 3 votes while both were present (quorate
    /// on their own votes: allowed), expected 5. Node 1, the master, crashes and restarts alone, master on the disk
    /// again; node 2 alone holds 3 of 5.
    func restartedMaster(_ mutations: Quorum.Mutations) -> QuorumBus {
        var s = settings(2, expected: 3, qdisk: 1)
        s.mutations = mutations
        var bus = QuorumBus(settings: s, nodes: [1, 2])
        bus.partition([[1, 2]])
        bus.send(1, .qdisk(votes: 1, asMaster: true))
        #expect(bus.request(1, .setVotes(node: NodeID(2), votes: 3)) == .accepted)
        #expect(bus.summary(1)?.expectedVotes == 5)
        let state = persisted(bus, 1)
        #expect(state == Quorum.PersistedState(configVersion: 1, expectedVotes: 5, votes: 1))
        bus.crash(1)
        bus.partition([[2]])
        #expect(bus.quorate(2), "3 of 5 votes")
        bus.cores[1] = Quorum.StateMachine(nodeID: NodeID(1), settings: s, configVersion: 1, joinTime: 9_000, persisted: state)
        bus.partition([[1], [2]])
        bus.send(1, .qdisk(votes: 1, asMaster: true))
        return bus
    }

    @Test("qdisk: a restarted master starts from the persisted expected votes and stays inquorate on 2 of 5")
    func restartedMasterKeepsExpected() {
        let bus = restartedMaster([])
        #expect(bus.quorate(2))
        #expect(!bus.quorate(1), "\(String(describing: bus.summary(1)))")
        #expect(bus.summary(1)?.expectedVotes == 5)
    }

    @Test("with the persisted state ignored, the restarted master counts 2 of its file's 3 beside node 2 (seed 16490)")
    func restartedMasterIgnoringStateCaught() {
        let bus = restartedMaster(.persistedStateIgnored)
        #expect(bus.quorate(1) && bus.quorate(2))
    }

    @Test("a node's own runtime votes survive a restart on the same file version, and a newer file discards them")
    func ownVotesKept() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        #expect(bus.request(1, .setVotes(node: NodeID(1), votes: 3)) == .accepted)
        let state = try! #require(persisted(bus, 1))
        #expect(state == Quorum.PersistedState(configVersion: 1, expectedVotes: 5, votes: 3))
        let same = Quorum.StateMachine(nodeID: NodeID(1), settings: settings(3), configVersion: 1, joinTime: 9_000, persisted: state)
        #expect(same.me.votes == 3 && same.expectedVotes == 5)
        let newer = Quorum.StateMachine(nodeID: NodeID(1), settings: settings(3), configVersion: 2, joinTime: 9_000, persisted: state)
        #expect(newer.me.votes == 1 && newer.expectedVotes == 3)
        // The file's expected votes win when higher.
        let higher = Quorum.StateMachine(nodeID: NodeID(1), settings: settings(3, expected: 7), configVersion: 1, joinTime: 9_000, persisted: state)
        #expect(higher.expectedVotes == 7)
    }

    @Test("the core asks to persist only when the state changes, and an install carries the new version")
    func persistOnChange() {
        var bus = QuorumBus(settings: settings(2), nodes: [1, 2])
        bus.partition([[1, 2]])
        #expect(persisted(bus, 1) == nil, "nothing changed since start")
        #expect(bus.request(1, .setExpected(3)) == .accepted)
        #expect(persisted(bus, 1) == Quorum.PersistedState(configVersion: 1, expectedVotes: 3, votes: 1))
        let count = bus.effects[1]!.count { if case .persistState = $0 { true } else { false } }
        bus.partition([[1, 2]])
        #expect(bus.effects[1]!.count { if case .persistState = $0 { true } else { false } } == count)
        #expect(bus.request(1, .proposeConfig(version: 2, bytes: [2])) == .accepted)
        #expect(persisted(bus, 1)?.configVersion == 2)
    }

    @Test("the state file's text reads back; anything else is garbled")
    func text() {
        let s = Quorum.PersistedState(configVersion: 4, expectedVotes: 9, votes: 2)
        #expect(Quorum.PersistedState(text: s.text) == s)
        #expect(Quorum.PersistedState(text: "") == nil)
        #expect(Quorum.PersistedState(text: "config_version 4\nexpected_votes 9\n") == nil)
        #expect(Quorum.PersistedState(text: "config_version 4\nexpected_votes x\nvotes 2\n") == nil)
        #expect(Quorum.PersistedState(text: "config_version 4\nexpected_votes 99999999999\nvotes 2\n") == nil)
        #expect(Quorum.PersistedState(text: s.text + "votes 3\n") == nil)
    }
}
