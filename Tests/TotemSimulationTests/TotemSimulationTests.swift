// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import Testing

/// Seeded swarm runs of the real Totem cores on the simulated network (STYLE.md §4): safety checks on every run,
/// liveness after the faults stop. A failure prints the seed and the command that replays it with a trace.
@Suite("Totem in the simulator")
struct TotemSimulationTests {
    /// Seeds that once found a bug; they stay forever.
    static let pinnedSeeds: [UInt64] = [1, 2, 8, 36, 98, 122, 170, 199, 315]

    /// Fresh seeds every `swift test` runs (500, over 2 to 16 nodes). `totem-sim --soak N` runs more.
    static let sweepSeeds: [UInt64] = Array(1_000...1_499)

    static func check(_ seed: UInt64) {
        let options = SimulationOptions(seed: seed, nodes: 2...16)
        let report = Simulation(options: options).run()
        #expect(report.ok, """
            seed \(seed) failed: \(options)
            \(report.violations.joined(separator: "\n"))
            replay: swift run totem-sim --seed \(seed) --nodes 2-16 --trace
            """)
    }

    @Test("pinned regression seeds", arguments: pinnedSeeds)
    func pinned(seed: UInt64) { Self.check(seed) }

    @Test("500 seeds over 2 to 16 nodes", arguments: sweepSeeds)
    func sweep(seed: UInt64) { Self.check(seed) }

    @Test("the same seed gives the same run, event for event")
    func deterministic() {
        let options = SimulationOptions(seed: 4242, nodes: 3...6)
        let a = Simulation(options: options)
        let b = Simulation(options: options)
        _ = a.run()
        _ = b.run()
        #expect(a.trace == b.trace)
        #expect(a.checker.observations == b.checker.observations)
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
