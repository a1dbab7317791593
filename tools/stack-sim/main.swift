// SPDX-License-Identifier: Apache-2.0
// stack-sim: runs totem with quorum and process groups on top in the deterministic simulator.
//
//   stack-sim --quorum|--groups|--totem --seed N [--trace]   replay one seed of one layer
//   stack-sim --soak COUNT [--from N]                       COUNT seeds of each layer (totem, quorum, groups)
//   options: --mutate NAME (a quorum or group mutation), --nodes MIN-MAX
import ClusterSimulator
import Foundation
import GroupCore
import QuorumCore

enum Layer: String, CaseIterable { case totem, quorum, groups }

var layers: [Layer] = []
var seed: UInt64?
var soak: Int?
var from: UInt64 = 1
var trace = false
var nodes: ClosedRange<Int>?
var quorumMutations: Quorum.Mutations = []
var groupMutations: ProcessGroup.Mutations = []
var args = Array(CommandLine.arguments.dropFirst())
func parseSeed(_ s: String) -> UInt64? { s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s) }
func usage() -> Never {
    FileHandle.standardError.write(Data("usage: stack-sim --quorum|--groups|--totem --seed N [--trace] | --soak COUNT [--from N] [--nodes MIN-MAX] [--mutate NAME]\n".utf8))
    exit(64)
}
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--quorum": layers.append(.quorum)
    case "--groups": layers.append(.groups)
    case "--totem": layers.append(.totem)
    case "--seed": seed = args.isEmpty ? nil : parseSeed(args.removeFirst())
    case "--soak": soak = args.isEmpty ? nil : Int(args.removeFirst())
    case "--from": from = args.isEmpty ? 1 : parseSeed(args.removeFirst()) ?? 1
    case "--trace": trace = true
    case "--nodes":
        let parts = (args.isEmpty ? "" : args.removeFirst()).split(separator: "-").compactMap { Int($0) }
        if parts.count == 2, parts[0] >= 1, parts[0] <= parts[1] { nodes = parts[0]...parts[1] }
    case "--mutate":
        let name = args.isEmpty ? "" : args.removeFirst()
        if let m = Quorum.Mutations.all.first(where: { $0.name == name }) {
            quorumMutations.insert(m.mutation)
        } else if let m = ProcessGroup.Mutations.all.first(where: { $0.name == name }) {
            groupMutations.insert(m.mutation)
        } else {
            let known = Quorum.Mutations.all.map(\.name) + ProcessGroup.Mutations.all.map(\.name)
            FileHandle.standardError.write(Data("stack-sim: unknown mutation '\(name)'; known: \(known.joined(separator: "; "))\n".utf8))
            exit(64)
        }
    default: usage()
    }
}

/// What the command line chose, for the workers.
struct Knobs: Sendable {
    var nodes: ClosedRange<Int>?
    var quorumMutations: Quorum.Mutations
    var groupMutations: ProcessGroup.Mutations
}
let knobs = Knobs(nodes: nodes, quorumMutations: quorumMutations, groupMutations: groupMutations)

/// The run of one seed of one layer, as the test sweeps build it.
func simulation(_ layer: Layer, _ s: UInt64, _ k: Knobs) -> Simulation {
    let (nodes, quorumMutations, groupMutations) = (k.nodes, k.quorumMutations, k.groupMutations)
    switch layer {
    case .totem:
        return Simulation(options: SimulationOptions(seed: s, nodes: nodes ?? 2...16))
    case .quorum:
        let options = SimulationOptions(seed: s, nodes: nodes ?? 2...7)
        var scenario = QuorumScenario(seed: s, nodeCount: options.nodeCount)
        scenario.settings.mutations = quorumMutations
        return Simulation(options: options, scenario: scenario)
    case .groups:
        return Simulation(options: SimulationOptions(seed: s, nodes: nodes ?? 2...8), groups: true, groupMutations: groupMutations)
    }
}

func replay(_ layer: Layer, _ s: UInt64, _ k: Knobs) -> String {
    let (nodes, quorumMutations, groupMutations) = (k.nodes, k.quorumMutations, k.groupMutations)
    let n = nodes.map { " --nodes \($0.lowerBound)-\($0.upperBound)" } ?? ""
    let m = (Quorum.Mutations.all.filter { quorumMutations.contains($0.mutation) }.map(\.name)
        + ProcessGroup.Mutations.all.filter { groupMutations.contains($0.mutation) }.map(\.name)).map { " --mutate '\($0)'" }.joined()
    return "swift run stack-sim --\(layer.rawValue) --seed \(s)\(n)\(m) --trace"
}

/// Runs one seed and prints a failure (with the trace's tail) or, when asked, the outcome.
func runOne(_ layer: Layer, _ s: UInt64, verbose: Bool, quiet: Bool, _ k: Knobs) -> Simulation.Report {
    let sim = simulation(layer, s, k)
    sim.verbose = verbose
    let report = sim.run()
    var text = ""
    let describe = "\(sim.options)\(sim.quorumScenario.map { " \($0)" } ?? "")"
    if !report.ok {
        text += "FAIL \(layer.rawValue) \(describe)\n"
        for v in report.violations { text += "  \(v)\n" }
        if !verbose {
            for (i, t) in sim.trace.enumerated() {
                text += "  --- last events of n\(i + 1)\n"
                for line in t.suffix(25) { text += "    \(line)\n" }
            }
        }
        text += "  replay: \(replay(layer, s, k))\n"
    } else if !quiet {
        text += "ok \(layer.rawValue) \(describe)\n   checked: \(report.coverage)\n   stack: \(report.stack)\n"
    }
    if !text.isEmpty { FileHandle.standardOutput.write(Data(text.utf8)) }
    return report
}

if let s = seed {
    var ok = true
    for layer in layers.isEmpty ? Layer.allCases : layers { ok = runOne(layer, s, verbose: trace, quiet: false, knobs).ok && ok }
    exit(ok ? 0 : 1)
}

/// The soak: COUNT seeds of each layer, two at a time, with the sum of what they checked.
final class Tally: @unchecked Sendable {
    let lock = NSLock()
    var failures: [String] = []
    var checkedNothing: [String] = []
    var coverage = Coverage()
    var stack = StackCoverage()
}
let count = soak ?? 100
let first = from
var allPassed = true
for layer in layers.isEmpty ? Layer.allCases : layers {
    let tally = Tally()
    let started = Date()
    DispatchQueue.concurrentPerform(iterations: count) { i in
        let s = first + UInt64(i)
        let report = runOne(layer, s, verbose: false, quiet: true, knobs)
        tally.lock.lock()
        if !report.ok { tally.failures.append("\(s)") }
        if !report.coverage.comparedSomething { tally.checkedNothing.append("\(s)") }
        tally.coverage = tally.coverage + report.coverage
        tally.stack = tally.stack + report.stack
        tally.lock.unlock()
    }
    let seconds = Date().timeIntervalSince(started)
    print("\(layer.rawValue): \(count - tally.failures.count)/\(count) seeds passed in \(String(format: "%.1f", seconds)) s\(tally.failures.isEmpty ? "" : "; failed: \(tally.failures.sorted())")")
    print("  totem checks: \(tally.coverage)")
    if layer != .totem { print("  stack checks: \(tally.stack)") }
    if !tally.checkedNothing.isEmpty { print("  seeds that compared nothing: \(tally.checkedNothing.sorted())") }
    allPassed = allPassed && tally.failures.isEmpty && tally.checkedNothing.isEmpty
}
exit(allPassed ? 0 : 1)
