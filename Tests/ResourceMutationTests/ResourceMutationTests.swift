// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import ClusterTypes
import QuorumCore
import ResourceCore
import Testing

/// The rgmanager checker must catch a core that recovers a failed node's services without waiting for fencing:
/// otherwise "never two owners" is a check that cannot fail.
@Suite("A weakened rgmanager core is caught by the simulation")
struct ResourceMutationTests {
    @Test("recovering without fencing gives two owners within 200 seeds")
    func recoverWithoutFencing() throws {
        func run(_ seed: UInt64, _ mutations: ResourceManager.Mutations) -> Simulation.Report {
            let options = SimulationOptions(seed: seed, nodes: 3...6)
            let sim = Simulation(options: options, stack: Quorum.Settings(
                clusterName: "sim", nodes: (1...options.nodeCount).map { Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "n\($0)", votes: 1) }))
            var rm = ResourceSimulation(seed: seed, nodeCount: options.nodeCount)
            rm.mutations = mutations
            sim.enableResources(rm)
            return sim.run()
        }
        var caught: (UInt64, String)?
        for seed in UInt64(9_500)..<9_700 where caught == nil {
            guard let v = run(seed, [.recoverWithoutFencing, .keepServicesWithoutQuorum]).violations.first(where: { $0.hasPrefix("two owners") }) else { continue }
            // Only a seed the core as it is passes shows the mutation was caught.
            if run(seed, []).ok { caught = (seed, v) }
        }
        let (seed, violation) = try #require(caught, "no seed noticed services recovered without fencing")
        print("mutation 'recover without fencing' caught by seed \(seed): \(violation)")
    }
}
