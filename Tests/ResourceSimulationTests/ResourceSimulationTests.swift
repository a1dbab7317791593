// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import ClusterTypes
import QuorumCore
import ResourceCore
import Foundation
import Testing

/// Totem, quorum and rgmanager cores together, with simulated agents and fencing.
enum ResourceStack {
    static func quorumSettings(_ n: Int) -> Quorum.Settings {
        Quorum.Settings(clusterName: "sim", nodes: (1...n).map { Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "n\($0)", votes: 1) })
    }

    static func simulation(seed: UInt64, nodes: ClosedRange<Int> = 3...6, mutations: ResourceManager.Mutations = []) -> (Simulation, ResourceSimulation) {
        let options = SimulationOptions(seed: seed, nodes: nodes)
        let sim = Simulation(options: options, stack: quorumSettings(options.nodeCount))
        var rm = ResourceSimulation(seed: seed, nodeCount: options.nodeCount)
        rm.mutations = mutations
        sim.enableResources(rm)
        return (sim, rm)
    }

    /// Sums of what a sweep's checkers did.
    struct Figures: CustomStringConvertible {
        var seeds = 0, holderChecks = 0, starts = 0, takeovers = 0, fencings = 0, statusFailures = 0, adminRequests = 0
        mutating func add(_ c: ResourceChecker) {
            seeds += 1
            holderChecks += c.holderChecks
            starts += c.starts
            takeovers += c.takeoversAfterFencing
            fencings += c.fencings
            statusFailures += c.statusFailures
            adminRequests += c.adminRequests
        }
        var description: String {
            "\(seeds) seeds: holder checks \(holderChecks), service starts \(starts), takeovers after fencing \(takeovers), fencings \(fencings), status failures \(statusFailures), admin requests \(adminRequests)"
        }
    }
}

@Suite("Stack simulation: rgmanager on quorum on totem")
struct ResourceSimulationTests {
    /// `RM_SEED=N swift test --filter ResourceSimulationTests.replay` replays one seed with its rgmanager log.
    @Test("replay one seed (RM_SEED)")
    func replay() {
        guard let text = ProcessInfo.processInfo.environment["RM_SEED"], let seed = UInt64(text) else { return }
        let (sim, rm) = ResourceStack.simulation(seed: seed)
        if ProcessInfo.processInfo.environment["RM_NORES"] != nil {
            let plain = Simulation(options: SimulationOptions(seed: seed, nodes: 3...6), stack: ResourceStack.quorumSettings(sim.options.nodeCount))
            print("without rgmanager: \(plain.run().violations)")
        }
        if ProcessInfo.processInfo.environment["RM_TRACE"] != nil { sim.traceLimit = 1_000_000 }
        let report = sim.run()
        print("seed \(seed): \(sim.options)\n\(rm.description)")
        for line in sim.resourceLog { print(line) }
        print(report.violations.joined(separator: "\n"))
        for i in 0..<sim.options.nodeCount { print("n\(i + 1) quorum: \(String(describing: sim.quorumView(i)))") }
        if let n = ProcessInfo.processInfo.environment["RM_TRACE"].flatMap(Int.init) { for l in sim.trace[n - 1] { print(l) } }
    }

    static let seeds = Array(UInt64(9_000)..<9_150)

    @Test("never two owners: partitions, crashes, heals, fencing delays and agent failures; every service runs once after the heal")
    func neverTwoOwners() {
        var figures = ResourceStack.Figures()
        var failures: [String] = []
        for seed in Self.seeds {
            let (sim, rm) = ResourceStack.simulation(seed: seed)
            let report = sim.run()
            figures.add(sim.resourceChecker!)
            if !report.ok { failures.append("seed \(seed): \(sim.options)\n  \(rm.description)\n  " + report.violations.joined(separator: "\n  ")) }
        }
        print("rgmanager sweep: \(figures)")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // A sweep that never failed over, fenced or restarted anything proved nothing.
        #expect(figures.holderChecks > 0 && figures.starts > figures.seeds && figures.takeovers > 0 && figures.fencings > 0
                && figures.statusFailures > 0 && figures.adminRequests > 0, "\(figures)")
    }

    @Test("a partitioned owner's service moves only after the quorate side fences it")
    func fencingGatesRecovery() throws {
        var options = SimulationOptions(seed: 42, nodes: 3...3)
        options.lossProbability = 0
        options.duplicateProbability = 0
        options.corruptProbability = 0
        options.partitionProbability = 0
        options.crashProbability = 0
        options.leaveProbability = 0
        options.clogProbability = 0
        options.stragglerProbability = 0
        options.deafProbability = 0
        options.spuriousReportProbability = 0
        options.submitProbability = 0
        let sim = Simulation(options: options, stack: ResourceStack.quorumSettings(3))
        var rm = ResourceSimulation(seed: 42, nodeCount: 3)
        rm.services = [rm.services[0]]
        rm.services[0].domain = nil
        rm.services[0].depend = nil
        rm.services[0].autostart = true
        rm.startFailure = 0
        rm.stopFailure = 0
        rm.statusFailure = 0
        rm.adminProbability = 0
        rm.fenceDelay = .seconds(3)
        rm.agentDelayMax = .milliseconds(100)
        sim.enableResources(rm, fenceAfterQuiet: true)
        sim.quiet()
        sim.advance(.seconds(5))
        let name = rm.services[0].name
        let owner = try #require(sim.resourceChecker?.holders(name).first)
        let others = (0..<3).filter { $0 != owner }
        sim.setPartition([[owner], others])
        var movedAt: Int?
        for tenth in 1...150 {
            sim.advance(.milliseconds(100))
            let holders = sim.resourceChecker?.holders(name) ?? []
            if holders.contains(where: { others.contains($0) }) {
                #expect(sim.resourceChecker?.fencings == 1, "moved before the owner was fenced")
                movedAt = movedAt ?? tenth
            }
            if tenth == 25 {
                // The others formed a quorate ring without the owner; the owner, alone and inquorate, stopped it;
                // the fence delay (3 s) has not passed: the table still names the old owner.
                #expect(holders.isEmpty, "\(holders)")
                #expect(others.allSatisfy { sim.serviceTable($0)?[name]?.owner == NodeID(UInt32(owner + 1)) })
            }
        }
        let after = try #require(sim.resourceChecker?.holders(name))
        #expect(after.count == 1 && after[0] != owner, "started elsewhere once fenced: \(after)")
        #expect(movedAt != nil && movedAt! > 30, "moved after the 3 s fence delay (at \(movedAt.map { "\($0 * 100) ms" } ?? "never"))")
        #expect(sim.resourceChecker?.fencings == 1 && sim.resourceChecker?.violations.isEmpty == true)
    }
}
