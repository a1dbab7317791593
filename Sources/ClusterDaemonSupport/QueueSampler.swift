// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import Foundation
import Logging

/// A debug aid for finding where messages wait under load: samples named queue depths every 50 ms and logs, once a
/// second, each one's mean and peak over that second (one line, at notice level). Off unless the daemon's
/// environment has `CLUSTER_QUEUE_TRACE=1`; it costs nothing then.
public final class QueueSampler {
    /// The gauges, in the order they are printed: a name and what it reads now.
    public typealias Gauge = (name: String, read: () -> Int)
    private let gauges: [Gauge]
    private var sums: [Int]
    private var peaks: [Int]
    private var samples = 0
    private let loop: EventLoop
    private let logger: Logger

    /// Whether the environment asks for queue tracing.
    public static var isEnabled: Bool { ProcessInfo.processInfo.environment["CLUSTER_QUEUE_TRACE"] == "1" }

    /// Starts sampling `gauges` on `loop` if `isEnabled`; returns nil otherwise. Keep the sampler alive.
    public static func start(loop: EventLoop, logger: Logger, gauges: [Gauge]) -> QueueSampler? {
        guard isEnabled else { return nil }
        let s = QueueSampler(loop: loop, logger: logger, gauges: gauges)
        s.tick()
        return s
    }

    private init(loop: EventLoop, logger: Logger, gauges: [Gauge]) {
        self.loop = loop
        self.logger = logger
        self.gauges = gauges
        sums = Array(repeating: 0, count: gauges.count)
        peaks = sums
    }

    private func tick() {
        for (i, g) in gauges.enumerated() {
            let v = g.read()
            sums[i] += v
            peaks[i] = max(peaks[i], v)
        }
        samples += 1
        if samples == 20 {
            let fields = gauges.indices.map { "\(gauges[$0].name)=\(sums[$0] / samples)/\(peaks[$0])" }
            logger.notice("queues (mean/peak per second): \(fields.joined(separator: " "))")
            sums = Array(repeating: 0, count: gauges.count)
            peaks = sums
            samples = 0
        }
        _ = loop.schedule(after: .milliseconds(50)) { [weak self] in self?.tick() }
    }
}
