// SPDX-License-Identifier: Apache-2.0
import Dispatch

/// Calls `drain` whenever a connection's event descriptor becomes readable (a dispatch read source), and once at
/// start for events that arrived before: readiness, not a polling timer, wakes an `AsyncSequence` of events.
final class EventPump: @unchecked Sendable {  // its state is touched on its own serial queue only
    private let source: any DispatchSourceRead
    private let queue: DispatchQueue
    private let drain: () throws(ClusterError) -> Bool
    private let onFailure: (ClusterError) -> Void
    private var finished = false

    init(fd: Int32, label: String, drain: @escaping () throws(ClusterError) -> Bool, onFailure: @escaping (ClusterError) -> Void) {
        queue = DispatchQueue(label: label)
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        self.drain = drain
        self.onFailure = onFailure
        source.setEventHandler { [weak self] in self?.run() }
    }

    func start() {
        source.resume()
        queue.async { [weak self] in self?.run() }
    }

    func cancel() {
        queue.async { [self] in
            finished = true
            source.cancel()
        }
    }

    private func run() {
        guard !finished else { return }
        do {
            _ = try drain()
        } catch {
            finished = true
            source.cancel()
            onFailure(error)
        }
    }
}
