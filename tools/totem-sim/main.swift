// SPDX-License-Identifier: Apache-2.0
// totem-sim: runs the Totem core in the deterministic simulator.
//
//   totem-sim --seed N [--trace]          replay one seed (with --trace: every event)
//   totem-sim --soak COUNT [--from N]     run COUNT seeds starting at N and report failures
//   options: --nodes MIN-MAX
import ClusterSimulator
import TotemCore
import Foundation

var seed: UInt64?
var soak: Int?
var from: UInt64 = 1
var trace = false
var nodes = 2...16
var mutations: Totem.Mutations = []
var args = Array(CommandLine.arguments.dropFirst())
func parseSeed(_ s: String) -> UInt64? { s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s) }
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--seed": seed = args.isEmpty ? nil : parseSeed(args.removeFirst())
    case "--soak": soak = args.isEmpty ? nil : Int(args.removeFirst())
    case "--from": from = args.isEmpty ? 1 : parseSeed(args.removeFirst()) ?? 1
    case "--trace": trace = true
    case "--mutate":
        let name = args.isEmpty ? "" : args.removeFirst()
        guard let m = Totem.Mutations.all.first(where: { $0.name == name }) else {
            FileHandle.standardError.write(Data("totem-sim: unknown mutation '\(name)'; known: \(Totem.Mutations.all.map(\.name).joined(separator: "; "))\n".utf8))
            exit(64)
        }
        mutations.insert(m.mutation)
    case "--nodes":
        let parts = (args.isEmpty ? "" : args.removeFirst()).split(separator: "-").compactMap { Int($0) }
        if parts.count == 2, parts[0] >= 1, parts[0] <= parts[1] { nodes = parts[0]...parts[1] }
    default:
        FileHandle.standardError.write(Data("usage: totem-sim --seed N [--trace] | --soak COUNT [--from N] [--nodes MIN-MAX]\n".utf8))
        exit(64)
    }
}

/// Runs one seed; returns its report and prints a failure (with the trace's tail) or, when asked, the outcome.
func runOne(_ s: UInt64, verbose: Bool, quiet: Bool, nodes: ClosedRange<Int>, mutations: Totem.Mutations) -> Simulation.Report {
    var options = SimulationOptions(seed: s, nodes: nodes)
    options.mutations = mutations
    let sim = Simulation(options: options)
    sim.verbose = verbose
    let report = sim.run()
    var text = ""
    if !report.ok {
        text += "FAIL \(options)\n"
        for v in report.violations { text += "  \(v)\n" }
        if !verbose {
            for (i, t) in sim.trace.enumerated() {
                text += "  --- last events of n\(i + 1)\n"
                for line in t.suffix(40) { text += "    \(line)\n" }
            }
        }
        text += "  replay: swift run totem-sim --seed \(s) --nodes \(nodes.lowerBound)-\(nodes.upperBound)\(mutationArgument(mutations)) --trace\n"
    } else if !quiet {
        text += "ok \(options)\n"
        text += "   converged in \(report.convergenceTime.map { "\($0.millisecondsClamped) ms" } ?? "-"); \(report.stats.submitted) messages, \(report.stats.packets) packets (\(report.stats.dropped) dropped, \(report.stats.corruptedRejected) corrupt), \(report.stats.crashes) crashes, \(report.stats.partitions) partitions, \(report.stats.steps) steps\n"
        text += "   checked: \(report.coverage)\n"
    }
    if !text.isEmpty { FileHandle.standardOutput.write(Data(text.utf8)) }
    return report
}

func mutationArgument(_ mutations: Totem.Mutations) -> String {
    Totem.Mutations.all.filter { mutations.contains($0.mutation) }.map { " --mutate '\($0.name)'" }.joined()
}

if let s = seed {
    exit(runOne(s, verbose: trace, quiet: false, nodes: nodes, mutations: mutations).ok ? 0 : 1)
}

/// The soak: COUNT seeds, two at a time, with the sum of what they checked.
final class Tally: @unchecked Sendable {
    let lock = NSLock()
    var failures: [UInt64] = []
    var coverage = Coverage()
    var checkedNothing: [UInt64] = []
}
let count = soak ?? 100
let tally = Tally()
let started = Date()
let (first, range, mutated) = (from, nodes, mutations)
DispatchQueue.concurrentPerform(iterations: count) { i in
    let s = first + UInt64(i)
    let report = runOne(s, verbose: false, quiet: true, nodes: range, mutations: mutated)
    tally.lock.lock()
    if !report.ok { tally.failures.append(s) }
    if !report.coverage.comparedSomething { tally.checkedNothing.append(s) }
    tally.coverage = tally.coverage + report.coverage
    tally.lock.unlock()
}
let failures = tally.failures.sorted()
let seconds = Date().timeIntervalSince(started)
print("\(count - failures.count)/\(count) seeds passed in \(String(format: "%.1f", seconds)) s\(failures.isEmpty ? "" : "; failed: \(failures)")")
print("checked: \(tally.coverage)")
if !tally.checkedNothing.isEmpty { print("seeds that compared nothing: \(tally.checkedNothing.sorted())") }
if !tally.coverage.unreached.isEmpty { print("paths no seed reached: \(tally.coverage.unreached.map(\.rawValue))") }
exit(failures.isEmpty && tally.checkedNothing.isEmpty && tally.coverage.unreached.isEmpty ? 0 : 1)
