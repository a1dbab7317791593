// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import Foundation

/// Runs many simulation seeds (two at a time, one per core), each under a wall-clock watchdog, and gathers what
/// they checked: a sweep reports failing seeds with their replay commands, seeds that compared nothing, and the
/// protocol paths no seed reached.
public struct SeedSweep: Sendable {
    /// One failing seed.
    public struct Failure: Sendable, CustomStringConvertible {
        public var seed: UInt64
        public var options: String
        public var violations: [String]
        public var replay: String
        public var description: String {
            "seed \(seed) failed: \(options)\n  " + violations.joined(separator: "\n  ") + "\n  replay: \(replay)"
        }
    }

    public var failures: [Failure] = []
    /// Seeds whose checks compared nothing at all.
    public var checkedNothing: [UInt64] = []
    public var coverage = Coverage()
    /// What the quorum and group checks of stack runs compared, summed.
    public var stack = StackCoverage()
    public var seeds = 0

    /// Runs `seeds`; `make` builds each run (a plain totem run, a stack run, a mutated core...). A seed still
    /// running after `limit` stops the whole process with its replay command, rather than hanging the test.
    public static func run(_ seeds: [UInt64], replay: @escaping @Sendable (UInt64) -> String,
                           limit: Duration = .seconds(120), workers: Int = 2, stopAtFirstFailure: Bool = false,
                           make: @escaping @Sendable (UInt64) -> Simulation) async -> SeedSweep {
        var sweep = SeedSweep()
        var next = 0
        await withTaskGroup(of: (UInt64, Simulation.Report, String).self) { group in
            func launch() {
                guard next < seeds.count else { return }
                let seed = seeds[next]
                next += 1
                group.addTask {
                    let watchdog = Watchdog(seed: seed, replay: replay(seed), limit: limit)
                    let sim = make(seed)
                    let report = sim.run()
                    watchdog.done()
                    return (seed, report, sim.options.description)
                }
            }
            for _ in 0..<workers { launch() }
            while let (seed, report, options) = await group.next() {
                sweep.seeds += 1
                sweep.coverage = sweep.coverage + report.coverage
                sweep.stack = sweep.stack + report.stack
                if !report.coverage.comparedSomething { sweep.checkedNothing.append(seed) }
                if !report.ok {
                    sweep.failures.append(Failure(seed: seed, options: options, violations: report.violations, replay: replay(seed)))
                    if stopAtFirstFailure {
                        group.cancelAll()
                        return
                    }
                }
                launch()
            }
        }
        sweep.failures.sort { $0.seed < $1.seed }
        sweep.checkedNothing.sort()
        return sweep
    }

    /// The stack checks' figures, summed over the seeds.
    public var stackFigures: String { "\(seeds) seeds: \(stack)" }

    /// One line per figure: what the sweep compared and which paths it took.
    public var figures: String {
        "\(seeds) seeds: " + Coverage.Figure.allCases.map { "\($0.rawValue) \(coverage[$0])" }.joined(separator: ", ")
    }
}

/// Ends the process, naming the seed and how to replay it, if the seed runs longer than its limit.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false

    init(seed: UInt64, replay: String, limit: Duration) {
        let seconds = Double(limit.components.seconds)
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.lock()
            let hung = !finished
            lock.unlock()
            guard hung else { return }
            FileHandle.standardError.write(Data("watchdog: seed \(seed) ran longer than \(Int(seconds)) s; replay: \(replay)\n".utf8))
            exit(70)
        }
    }

    func done() {
        lock.lock()
        finished = true
        lock.unlock()
    }
}
