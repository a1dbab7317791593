// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import GroupCore
import QuorumCore
import SimulationTestSupport
import Testing

/// Each test weakens one rule of the quorum or group core on purpose and requires the stack simulation's checkers to
/// notice it, with the violation that rule guards against, within a bounded number of seeds. A mutation no seed
/// catches means the checker (or the scenario mix) is too weak to trust.
@Suite("Weakened quorum and group cores are caught by the stack simulation")
struct StackMutationTests {
    static let quorumSeeds: [UInt64] = Array(5_000..<5_400)
    static let groupSeeds: [UInt64] = Array(7_000..<7_100)

    /// The violation each mutation must produce.
    static let expectedViolation: [String: String] = [
        "quorum check skipped": "split brain",
        "quorum not sticky": "split brain",
        "non-masters count qdisk votes": "split brain",
        "admin changes in a minority": "split brain",
        "deliver outside the view": "outside any view",
    ]

    @Test("the quorum sweep catches the mutation", arguments: Quorum.Mutations.all.map(\.name))
    func quorumMutationCaught(name: String) async throws {
        let mutation = try #require(Quorum.Mutations.all.first { $0.name == name }?.mutation)
        let expected = Self.expectedViolation[name] ?? ""
        let sweep = await SeedSweep.run(Self.quorumSeeds, replay: { "swift run stack-sim --quorum --seed \($0) --mutate '\(name)' --trace" },
                                        stopAtFirstFailure: true) { seed in
            let options = SimulationOptions(seed: seed, nodes: 2...7)
            var scenario = QuorumScenario(seed: seed, nodeCount: options.nodeCount)
            scenario.settings.mutations = mutation
            return Simulation(options: options, scenario: scenario)
        }
        let caught = try #require(sweep.failures.first { $0.violations.contains { $0.contains(expected) } },
                                  "no seed of \(sweep.seeds) noticed '\(name)' with a \(expected) violation")
        print("quorum mutation '\(name)' caught by seed \(caught.seed): \(caught.violations.first ?? "")")
    }

    @Test("the group sweep catches the mutation", arguments: ProcessGroup.Mutations.all.map(\.name))
    func groupMutationCaught(name: String) async throws {
        let mutation = try #require(ProcessGroup.Mutations.all.first { $0.name == name }?.mutation)
        let expected = Self.expectedViolation[name] ?? ""
        let sweep = await SeedSweep.run(Self.groupSeeds, replay: { "swift run stack-sim --groups --seed \($0) --mutate '\(name)' --trace" },
                                        stopAtFirstFailure: true) { seed in
            Simulation(options: SimulationOptions(seed: seed, nodes: 2...8), groups: true, groupMutations: mutation)
        }
        let caught = try #require(sweep.failures.first { $0.violations.contains { $0.contains(expected) } },
                                  "no seed of \(sweep.seeds) noticed '\(name)'")
        print("group mutation '\(name)' caught by seed \(caught.seed): \(caught.violations.first ?? "")")
    }
}
