// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import ClusterTypes
import ControlCore
import FenceCore
import Foundation
import QuorumCore
import Testing

/// Totem, quorum, groups, the fence domain and a control daemon's managed group (a lockspace) per simulated node:
/// the recovery protocol of ControlCore on the real lower cores, judged by `ControlChecker`.
@Suite("Stack simulation: control daemons' group recovery")
struct ControlSimulationTests {
    static func quorum(_ n: Int) -> Quorum.Settings {
        Quorum.Settings(clusterName: "sim", nodes: (1...n).map { Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "n\($0)", votes: 1) })
    }

    /// A quiet scripted run on reliable fence devices whose fenced nodes stay down, formed for 5 s.
    static func scripted(seed: UInt64, nodes: Int, agentMilliseconds: ClosedRange<Int64> = 1...800) -> Simulation {
        let sim = Simulation(options: SimulationOptions.calm(seed: seed, nodes: nodes), stack: quorum(nodes), fencing: .reliable(agentMilliseconds: agentMilliseconds),
                             control: ControlOptions())
        sim.quiet()
        sim.fencedNodesStayDown = true
        sim.advance(.seconds(5))
        return sim
    }

    static let sweepSeeds = Array(UInt64(13_000)..<13_040)

    static func sweepRun(_ seed: UInt64, weakenings: Set<ControlOptions.Weakening> = []) -> Simulation {
        var options = SimulationOptions(seed: seed, nodes: 3...6)
        options.partitionProbability = max(options.partitionProbability, 0.1)
        options.crashProbability = max(options.crashProbability, 0.05)
        var control = ControlOptions()
        control.weakenings = weakenings
        return Simulation(options: options, stack: quorum(options.nodeCount), fencing: FencingOptions(seed: seed), control: control)
    }

    /// `CONTROL_SEED=N swift test --filter ControlSimulationTests.replay` replays one sweep seed with the control and
    /// fence logs.
    @Test("replay one seed (CONTROL_SEED)")
    func replay() {
        guard let text = ProcessInfo.processInfo.environment["CONTROL_SEED"], let seed = UInt64(text) else { return }
        let sim = Self.sweepRun(seed)
        let report = sim.run()
        print("seed \(seed): \(sim.options)")
        for line in sim.fenceLog.suffix(300) { print(line) }
        for line in sim.controlLog { print(line) }
        print(report.violations.joined(separator: "\n"))
        print("counts: \(sim.controlReport!.counts) undecided: \(sim.controlReport!.undecided)")
    }

    @Test("partitions, crashes and heals: no start before the failed node is fenced, one agreed sequence, recovered after the heal",
          arguments: sweepSeeds)
    func sweep(seed: UInt64) {
        let sim = Self.sweepRun(seed)
        let report = sim.run()
        #expect(report.ok, "seed \(seed): \(sim.options)\n\(report.violations.joined(separator: "\n"))")
    }

    @Test("the sweep checks something: starts after failures, agreements and orders compared, groups settled")
    func sweepCoverage() {
        var total = ControlChecker.Counts()
        var undecided = 0
        for seed in Self.sweepSeeds.prefix(20) {
            let sim = Self.sweepRun(seed)
            _ = sim.run()
            total.add(sim.controlReport!.counts)
            undecided += sim.controlReport!.undecided.count
        }
        print("control sweep coverage over 20 seeds: \(total); undecided \(undecided)")
        #expect(total.startsAfterFailure > 10 && total.failuresSeen > 10, "\(total)")
        #expect(total.agreementsCompared > 50 && total.ordersCompared > 20, "\(total)")
        #expect(total.settledGroups >= 10, "\(total)")
    }

    @Test("a crashed member: the group stops, waits for its fence, and runs again with the survivors")
    func crashWaitsForFence() throws {
        let sim = Self.scripted(seed: 1, nodes: 3, agentMilliseconds: 2_000...2_000)
        for i in 0..<3 {
            let g = try #require(sim.controlGroup(i))
            #expect(g.phase == .running && g.memberNodes == [1, 2, 3].map { NodeID($0) })
        }
        sim.crashNode(2)
        sim.advance(.seconds(2))
        // Seen, fence under way (the device takes 2 s): stopped, waiting for the fence of node 3.
        for i in 0..<2 {
            let g = try #require(sim.controlGroup(i))
            #expect(g.phase == .stopped && g.waiting == .fencing([NodeID(3)]), "n\(i + 1): \(g.phase) \(g.waiting)")
        }
        sim.advance(.seconds(4))
        for i in 0..<2 {
            let g = try #require(sim.controlGroup(i))
            #expect(g.phase == .running && g.memberNodes == [NodeID(1), NodeID(2)], "n\(i + 1): \(g.phase) \(g.waiting)")
        }
        let r = try #require(sim.controlReport)
        #expect(r.violations.isEmpty, "\(r.violations)")
        #expect(r.counts.startsAfterFailure == 2 && r.counts.agreementsCompared >= 2)
    }

    @Test("a partition: the quorate side starts only after the other side is fenced; the inquorate side never starts")
    func partitionFencesFirst() throws {
        let sim = Self.scripted(seed: 2, nodes: 3, agentMilliseconds: 4_000...4_000)
        sim.setPartition([[0, 1], [2]])
        sim.advance(.seconds(3))
        // Both sides have seen the others fail; the fence device is still at work.
        let isolated = try #require(sim.controlGroup(2))
        #expect(isolated.phase == .stopped && isolated.waiting == .fencing([NodeID(1), NodeID(2)]), "n3: \(isolated.phase) \(isolated.waiting)")
        for i in 0..<2 {
            let g = try #require(sim.controlGroup(i))
            #expect(g.phase == .stopped && g.waiting == .fencing([NodeID(3)]), "n\(i + 1): \(g.phase) \(g.waiting)")
        }
        sim.advance(.seconds(5))
        #expect(!sim.isUp(2), "node 3 was fenced (powered off)")
        for i in 0..<2 {
            let g = try #require(sim.controlGroup(i))
            #expect(g.phase == .running && g.memberNodes == [NodeID(1), NodeID(2)], "n\(i + 1): \(g.phase) \(g.waiting)")
        }
        let r = try #require(sim.controlReport)
        #expect(r.violations.isEmpty, "\(r.violations)")
        #expect(r.counts.startsAfterFailure == 2)
    }

    // MARK: - Mutations: the checker is trusted because it catches weakened drivers of the core

    static func firstCaught(_ w: Set<ControlOptions.Weakening>, seeds: Range<UInt64>) -> (seed: UInt64, violation: String)? {
        for seed in seeds {
            let sim = sweepRun(seed, weakenings: w)
            _ = sim.run()
            if let v = sim.controlReport!.violations.first { return (seed, v) }
        }
        return nil
    }

    /// Either wait alone keeps the group safe (the fence domain has victims until their fence, and fence times
    /// settle failures): only a core that skips both starts beside a failed node that still runs.
    @Test("a group that waits neither for fencing nor for the fence domain is caught starting beside a live failed node")
    func noFencingWaitCaught() throws {
        let caught = try #require(Self.firstCaught([.noFencingWait, .noLowerLevelWait], seeds: 13_000..<13_040), "no seed caught the weakening")
        #expect(caught.violation.contains("still runs unfenced"), "seed \(caught.seed): \(caught.violation)")
    }

    @Test("a group that starts while the fence domain still has victims is caught")
    func noLowerLevelWaitCaught() throws {
        let caught = try #require(Self.firstCaught([.noLowerLevelWait], seeds: 13_000..<13_040), "no seed caught the weakening")
        #expect(caught.violation.contains("still had victims"), "seed \(caught.seed): \(caught.violation)")
    }
}
