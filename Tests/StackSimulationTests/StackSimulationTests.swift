// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import ClusterTypes
import QuorumCore
import Testing

/// Totem and quorum cores together on the simulated network.
@Suite("Stack simulation: quorum on totem")
struct StackSimulationTests {
    static func quorumSettings(_ n: Int) -> Quorum.Settings {
        Quorum.Settings(clusterName: "sim", nodes: (1...n).map { Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "n\($0)", votes: 1) })
    }

    @Test("partitions, crashes and heals never leave two quorate sides", arguments: Array(UInt64(5_000)..<5_150))
    func noSplitBrain(seed: UInt64) {
        let options = SimulationOptions(seed: seed, nodes: 3...9)
        let sim = Simulation(options: options, stack: Self.quorumSettings(options.nodeCount))
        let report = sim.run()
        #expect(report.ok, "seed \(seed): \(options)\n\(report.violations.joined(separator: "\n"))")
    }

    @Test("a 3/2 split of a dirty 5-node cluster: after the heal the 2-side is Disallowed and told to leave")
    func disallowedAfterHeal() throws {
        var options = SimulationOptions(seed: 77, nodes: 5...5)
        options.lossProbability = 0
        options.duplicateProbability = 0
        options.corruptProbability = 0
        options.partitionProbability = 0
        options.crashProbability = 0
        options.leaveProbability = 0
        options.delayTailProbability = 0
        options.submitProbability = 0
        let sim = Simulation(options: options, stack: Self.quorumSettings(5))
        sim.quiet()
        sim.advance(.seconds(3))
        #expect((0..<5).allSatisfy { sim.quorumView($0)?.quorate == true })
        sim.setPartition([[0, 3, 4], [1, 2]])
        sim.advance(.seconds(8))
        #expect(sim.quorumView(0)?.quorate == true)
        #expect(sim.quorumView(1)?.quorate == false)
        sim.setPartition([[0, 1, 2, 3, 4]])
        sim.advance(.seconds(8))
        // Nodes 1 and 4 (indices 0 and 3) saw 2 and 3 come back without restarting: Disallowed.
        #expect(sim.disallowedSeen.contains { $0.viewer == 0 && $0.node == 1 })
        #expect(sim.disallowedSeen.contains { $0.viewer == 3 && $0.node == 2 })
        // The quorate side told them to leave; the survivors stay quorate.
        #expect(sim.quorumView(1) == nil && sim.quorumView(2) == nil)
        #expect(sim.quorumView(0)?.quorate == true)
    }
}

@Suite("Stack simulation: process groups on totem")
struct GroupSimulationTests {
    @Test("virtual synchrony of process groups under loss, partitions, merges and crashes of nodes and processes",
          arguments: Array(UInt64(7_000)..<7_150))
    func virtualSynchrony(seed: UInt64) {
        let options = SimulationOptions(seed: seed, nodes: 2...8)
        let report = Simulation(options: options, groups: true).run()
        #expect(report.ok, "seed \(seed): \(options)\n\(report.violations.joined(separator: "\n"))")
    }
}
