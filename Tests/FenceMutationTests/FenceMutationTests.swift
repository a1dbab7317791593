// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import ClusterTypes
import FenceCore
import QuorumCore
import Testing

/// The fence checker is trusted because it catches weakened fence cores: each `Fence.Mutations` case must make a
/// seed of the stack simulation fail within a bounded number of seeds.
@Suite("Fence checker catches weakened cores")
struct FenceMutationTests {
    /// The fence checker's violations for one seed's run with `mutation`.
    static func violations(_ seed: UInt64, _ mutation: Fence.Mutations) -> [String] {
        var options = SimulationOptions(seed: seed, nodes: 3...7)
        options.partitionProbability = max(options.partitionProbability, 0.3)
        options.crashProbability = max(options.crashProbability, 0.05)
        var fencing = FencingOptions(seed: seed)
        fencing.agentMillisecondsMin = 200
        fencing.agentMillisecondsMax = max(fencing.agentMillisecondsMax, 400)
        fencing.mutations = mutation
        let quorum = Quorum.Settings(clusterName: "sim", nodes: (1...options.nodeCount).map {
            Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "n\($0)", votes: 1)
        })
        let sim = Simulation(options: options, stack: quorum, fencing: fencing)
        _ = sim.run()
        return sim.fenceReport!.violations
    }

    /// The first seed whose weakened run the checker fails while the unweakened run of the same seed passes (a seed
    /// that fails either way proves nothing about the mutation).
    static func firstCaught(_ mutation: Fence.Mutations, seeds: Range<UInt64>) -> (seed: UInt64, violation: String)? {
        for seed in seeds {
            guard let v = violations(seed, mutation).first else { continue }
            if mutation.isEmpty || violations(seed, []).isEmpty { return (seed, v) }
        }
        return nil
    }

    @Test("control: the unweakened core passes the seeds the mutations are looked for in")
    func control() {
        let caught = Self.firstCaught([], seeds: 9_100..<9_160)
        #expect(caught == nil, "seed \(caught?.seed ?? 0): \(caught?.violation ?? "")")
    }

    @Test("fencing while inquorate is caught")
    func ignoreQuorum() throws {
        let caught = try #require(Self.firstCaught(.ignoreQuorum, seeds: 9_100..<9_160), "no seed caught the mutation")
        #expect(caught.violation.contains("while its partition was inquorate"), "seed \(caught.seed): \(caught.violation)")
    }

    @Test("releasing a victim before its fence took effect is caught")
    func announceAtStart() throws {
        let caught = try #require(Self.firstCaught(.announceAtStart, seeds: 9_100..<9_160), "no seed caught the mutation")
        #expect(caught.violation.contains("but no fence of it took effect") || caught.violation.contains("still runs"),
                "seed \(caught.seed): \(caught.violation)")
    }
}
