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

extension EventPump {
    /// A client's events as an asynchronous sequence woken by the readiness of its event descriptor `fd`: `next`
    /// reads one waiting event (nil when none waits). It ends, throwing, when the connection does.
    static func events<Event>(fd: Int32?, service: String, label: String,
                              next: @escaping () throws(ClusterError) -> Event?) -> AsyncThrowingStream<Event, any Error> {
        AsyncThrowingStream { continuation in
            guard let fd else {
                continuation.finish(throwing: ClusterError(.disconnected, "\(service): the connection has no event descriptor"))
                return
            }
            let pump = EventPump(fd: fd, label: label) { () throws(ClusterError) -> Bool in
                while let e = try next() { continuation.yield(e) }
                return true
            } onFailure: { error in
                continuation.finish(throwing: error)
            }
            continuation.onTermination = { _ in pump.cancel() }
            pump.start()
        }
    }

    /// Hands every event waiting now to `handle` (a client's `dispatch()`); returns how many.
    static func drain<Event>(_ next: () throws(ClusterError) -> Event?, into handle: (Event) -> Void) throws(ClusterError) -> Int {
        var n = 0
        while let e = try next() {
            handle(e)
            n += 1
        }
        return n
    }
}
