// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore
import Testing

/// The quorum disk on a simulated disk: each node's decision writes its block, the next interval reads them all.
@Suite("Quorum disk")
struct QuorumDiskTests {
    struct Disk {
        var blocks: [NodeID: QuorumDisk.Block] = [:]
        var nodes: [QuorumDisk.StateMachine]
        var lastDecision: [NodeID: QuorumDisk.Decision] = [:]

        init(_ count: Int, masterWins: Bool = true, minScore: UInt32 = 0, mutations: Quorum.Mutations = []) {
            var settings = QuorumDisk.Settings(votes: 1, tko: 3, masterWins: masterWins, minScore: minScore)
            settings.mutations = mutations
            nodes = (1...count).map { QuorumDisk.StateMachine(nodeID: NodeID(UInt32($0)), settings: settings) }
        }

        /// One interval on every node in `running`, with their scores and totem memberships; `outstanding` are the
        /// nodes whose quorum core's master offer may still be counted by others.
        mutating func interval(running: [Int], score: [Int: UInt32] = [:], members: [Int: [Int]], outstanding: Set<Int> = []) {
            let snapshot = Array(blocks.values)
            for i in running {
                let d = nodes[i - 1].interval(blocks: snapshot, score: score[i] ?? 1, members: (members[i] ?? []).map { NodeID(UInt32($0)) },
                                              offerOutstanding: outstanding.contains(i))
                blocks[NodeID(UInt32(i))] = d.block
                lastDecision[NodeID(UInt32(i))] = d
            }
        }

        func votes(_ i: Int) -> UInt32 { lastDecision[NodeID(UInt32(i))]?.votes ?? 0 }
        func master(_ i: Int) -> NodeID? { lastDecision[NodeID(UInt32(i))]?.master }
    }

    @Test("the lowest fit node becomes master; without master_wins every member in its partition offers the votes")
    func election() {
        var disk = Disk(2, masterWins: false)
        for _ in 0..<4 { disk.interval(running: [1, 2], members: [1: [1, 2], 2: [1, 2]]) }
        #expect(disk.master(1) == NodeID(1) && disk.master(2) == NodeID(1))
        #expect(disk.votes(1) == 1 && disk.votes(2) == 1)
    }

    @Test("master_wins: only the master advertises the device's votes (qdisk(5))")
    func masterWinsOnlyMasterOffers() {
        var disk = Disk(2)
        for _ in 0..<4 { disk.interval(running: [1, 2], members: [1: [1, 2], 2: [1, 2]]) }
        #expect(disk.master(2) == NodeID(1))
        #expect(disk.votes(1) == 1)
        #expect(disk.votes(2) == 0)
        #expect(disk.lastDecision[NodeID(1)]?.isMaster == true && disk.lastDecision[NodeID(2)]?.isMaster == false)
    }

    @Test("master_wins: after a link failure only the master's partition gets the votes")
    func linkFailure() {
        var disk = Disk(2)
        for _ in 0..<4 { disk.interval(running: [1, 2], members: [1: [1, 2], 2: [1, 2]]) }
        for _ in 0..<3 { disk.interval(running: [1, 2], members: [1: [1], 2: [2]]) }
        #expect(disk.votes(1) == 1)
        #expect(disk.votes(2) == 0)
    }

    @Test("a node that stops writing is dead by disk after tko intervals; the master evicts it while it is a member")
    func deadByDisk() {
        var disk = Disk(3)
        for _ in 0..<4 { disk.interval(running: [1, 2, 3], members: [1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]]) }
        for _ in 0..<4 { disk.interval(running: [1, 2], members: [1: [1, 2, 3], 2: [1, 2, 3]]) }
        #expect(disk.lastDecision[NodeID(1)]?.alive == [NodeID(1), NodeID(2)])
        #expect(disk.lastDecision[NodeID(1)]?.evict == [NodeID(3)])
    }

    @Test("an unfit master hands over to the next fit node")
    func unfitMaster() {
        var disk = Disk(2, minScore: 1)
        for _ in 0..<4 { disk.interval(running: [1, 2], members: [1: [1, 2], 2: [1, 2]]) }
        #expect(disk.master(2) == NodeID(1))
        for _ in 0..<4 { disk.interval(running: [1, 2], score: [1: 0], members: [1: [1, 2], 2: [1, 2]]) }
        #expect(disk.master(2) == NodeID(2))
        #expect(disk.votes(1) == 0)
        #expect(disk.votes(2) == 1)
    }

    @Test("master_wins: a master that loses the role keeps its claim until its retraction is delivered; nobody else claims meanwhile")
    func masterReleasesAfterRetraction() {
        var disk = Disk(3, minScore: 1)
        let all = [1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]]
        for _ in 0..<4 { disk.interval(running: [1, 2, 3], members: all) }
        #expect(disk.master(3) == NodeID(1))
        // Node 1 becomes unfit while its partition may still count its master offer (issue 9, seeds 5623 and 5752:
        // the ring was breaking up, its retraction not delivered).
        for _ in 0..<8 { disk.interval(running: [1, 2, 3], score: [1: 0], members: all, outstanding: [1]) }
        #expect(disk.lastDecision[NodeID(1)]?.isMaster == false && disk.votes(1) == 0, "it stops offering at once")
        #expect(disk.blocks[NodeID(1)]?.claimsMaster == true, "but keeps the role on the disk")
        #expect(disk.lastDecision[NodeID(2)]?.isMaster == false && disk.lastDecision[NodeID(3)]?.isMaster == false)
        #expect(disk.votes(2) == 0 && disk.votes(3) == 0)
        // The retraction is delivered: the claim goes, and node 2 takes over after its candidacy.
        for _ in 0..<4 { disk.interval(running: [1, 2, 3], score: [1: 0], members: all) }
        #expect(disk.blocks[NodeID(1)]?.claimsMaster == false)
        #expect(disk.master(3) == NodeID(2) && disk.votes(2) == 1)
    }

    @Test("the test above tells the rule apart: a master that releases at once lets another node claim while its offer is outstanding")
    func masterReleasingAtOnceIsCaught() {
        var disk = Disk(3, minScore: 1, mutations: .masterReleasesAtOnce)
        let all = [1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]]
        for _ in 0..<4 { disk.interval(running: [1, 2, 3], members: all) }
        for _ in 0..<8 { disk.interval(running: [1, 2, 3], score: [1: 0], members: all, outstanding: [1]) }
        #expect(disk.lastDecision[NodeID(2)]?.isMaster == true, "the weakened disk hands over at once")
    }

    @Test("blocks round-trip; garbage reads as no block")
    func blocks() {
        let b = QuorumDisk.Block(nodeID: NodeID(3), heartbeat: 99, fit: true, claimsMaster: true, partitionMask: 5, evictMask: 2)
        let bytes = b.encode()
        #expect(bytes.count == QuorumDisk.blockBytes)
        #expect(QuorumDisk.Block.decode(bytes[...]) == b)
        #expect(QuorumDisk.Block.decode([UInt8](repeating: 0xFF, count: 512)[...]) == nil)
    }
}
