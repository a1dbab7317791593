// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import SimulationTestSupport
import Testing

/// Seeded swarm runs of the real Totem cores on the simulated network (STYLE.md §4): safety checks on every run,
/// liveness and stability after the faults stop. A failure prints the seed and the command that replays it with a
/// trace; a hung seed ends the run with that command. A sweep also proves it checked something: every seed compares
/// deliveries, and every protocol path the fault mix should reach is reached by some seed.
@Suite("Totem in the simulator")
struct TotemSimulationTests {
    /// Seeds that once found a bug; they stay forever.
    static let pinnedSeeds: [UInt64] = [1, 2, 8, 36, 98, 122, 170, 199, 315, 1396, 1422, 105875]

    /// Fresh seeds every `swift test` runs (500, over 2 to 16 nodes). `totem-sim --soak N` runs more.
    static let sweepSeeds: [UInt64] = Array(1_000...1_499)

    static func replay(_ seed: UInt64) -> String { "swift run totem-sim --seed \(seed) --nodes 2-16 --trace" }

    static func sweep(_ seeds: [UInt64]) async -> SeedSweep {
        await SeedSweep.run(seeds, replay: replay) { Simulation(options: SimulationOptions(seed: $0, nodes: 2...16)) }
    }

    @Test("pinned regression seeds")
    func pinned() async {
        let sweep = await Self.sweep(Self.pinnedSeeds)
        for f in sweep.failures { Issue.record("\(f)") }
        #expect(sweep.seeds == Self.pinnedSeeds.count)
    }

    @Test("500 seeds over 2 to 16 nodes: every check holds, every seed compares something, every path is taken")
    func sweep() async {
        let sweep = await Self.sweep(Self.sweepSeeds)
        print("totem sweep: \(sweep.figures)")
        for f in sweep.failures { Issue.record("\(f)") }
        #expect(sweep.seeds == Self.sweepSeeds.count)
        #expect(sweep.checkedNothing.isEmpty, "seeds that compared nothing: \(sweep.checkedNothing)")
        #expect(sweep.coverage.unreached.isEmpty, "paths no seed reached: \(sweep.coverage.unreached.map(\.rawValue))")
    }

    @Test("the same seed gives the same run, event for event")
    func deterministic() {
        let options = SimulationOptions(seed: 4242, nodes: 3...6)
        let a = Simulation(options: options)
        let b = Simulation(options: options)
        _ = a.run()
        _ = b.run()
        #expect(a.trace == b.trace)
        #expect(a.checker.observations == b.checker.observations)
        #expect(a.checker.coverage == b.checker.coverage)
    }

    @Test("after the faults stop, one ring forms within the stated bound")
    func convergenceBound() {
        for seed in UInt64(2_000)..<2_040 {
            let sim = Simulation(options: SimulationOptions(seed: seed, nodes: 2...8))
            let report = sim.run()
            #expect(report.converged, "seed \(seed)")
            #expect((report.convergenceTime ?? .seconds(1_000)) <= sim.livenessBound, "seed \(seed)")
        }
    }
}
