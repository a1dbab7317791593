// SPDX-License-Identifier: Apache-2.0
// totem-sim: runs the Totem core in the deterministic simulator.
//
//   totem-sim --seed N [--trace]          replay one seed (with --trace: every event)
//   totem-sim --soak COUNT [--from N]     run COUNT seeds starting at N and report failures
//   options: --nodes MIN-MAX
import ClusterSimulator
import Foundation

var seed: UInt64?
var soak: Int?
var from: UInt64 = 1
var trace = false
var nodes = 2...16
var args = Array(CommandLine.arguments.dropFirst())
func parseSeed(_ s: String) -> UInt64? { s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s) }
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--seed": seed = args.isEmpty ? nil : parseSeed(args.removeFirst())
    case "--soak": soak = args.isEmpty ? nil : Int(args.removeFirst())
    case "--from": from = args.isEmpty ? 1 : parseSeed(args.removeFirst()) ?? 1
    case "--trace": trace = true
    case "--nodes":
        let parts = (args.isEmpty ? "" : args.removeFirst()).split(separator: "-").compactMap { Int($0) }
        if parts.count == 2, parts[0] >= 1, parts[0] <= parts[1] { nodes = parts[0]...parts[1] }
    default:
        FileHandle.standardError.write(Data("usage: totem-sim --seed N [--trace] | --soak COUNT [--from N] [--nodes MIN-MAX]\n".utf8))
        exit(64)
    }
}

@MainActor func runOne(_ s: UInt64, verbose: Bool) -> Bool {
    let options = SimulationOptions(seed: s, nodes: nodes)
    let sim = Simulation(options: options)
    sim.verbose = verbose
    let report = sim.run()
    if !report.ok {
        print("FAIL \(options)")
        for v in report.violations { print("  \(v)") }
        if !verbose {
            for (i, t) in sim.trace.enumerated() {
                print("  --- last events of n\(i + 1)")
                for line in t.suffix(40) { print("    \(line)") }
            }
        }
        print("  replay: swift run totem-sim --seed \(s) --nodes \(nodes.lowerBound)-\(nodes.upperBound) --trace")
        return false
    }
    if verbose || soak == nil {
        print("ok \(options)")
        print("   converged in \(report.convergenceTime.map { "\($0.millisecondsClamped) ms" } ?? "-"); \(report.stats.submitted) messages, \(report.stats.packets) packets (\(report.stats.dropped) dropped, \(report.stats.corruptedRejected) corrupt), \(report.stats.crashes) crashes, \(report.stats.partitions) partitions, \(report.stats.steps) steps")
    }
    return true
}

if let s = seed {
    exit(runOne(s, verbose: trace) ? 0 : 1)
}
let count = soak ?? 100
var failures: [UInt64] = []
let started = Date()
for s in from..<(from + UInt64(count)) {
    if !runOne(s, verbose: false) { failures.append(s) }
    fflush(nil)
}
print("\(count - failures.count)/\(count) seeds passed in \(String(format: "%.1f", Date().timeIntervalSince(started))) s\(failures.isEmpty ? "" : "; failed: \(failures)")")
exit(failures.isEmpty ? 0 : 1)
