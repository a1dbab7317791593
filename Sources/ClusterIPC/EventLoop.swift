// SPDX-License-Identifier: Apache-2.0
import CQB
import ClusterTypes
#if canImport(Glibc)
import Glibc
#endif

/// The single event loop of a daemon: file descriptors, timers, signals and libqb IPC, all served on one thread.
///
/// It wraps libqb's `qb_loop`. Everything registered here runs on the thread that calls `run()`; none of it is
/// thread-safe, by design (STYLE.md §13: one loop per daemon, no thread hop on the message path).
public final class EventLoop {
    let loop: OpaquePointer
    /// What libqb's IPC registered on this loop (see `LoopRegistry`).
    let registry: LoopRegistry.State
    private var timers: [UInt64: TimerBox] = [:]
    private var watches: [Int32: WatchBox] = [:]
    private var signals: [Int32: SignalBox] = [:]
    private var running = false

    /// Readiness bits for `watch(fd:events:)`.
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int32(POLLIN))
        public static let writable = Events(rawValue: Int32(POLLOUT))
        public static let error = Events(rawValue: Int32(POLLERR))
        public static let hangup = Events(rawValue: Int32(POLLHUP))
    }

    /// A scheduled timer; pass it to `cancel(_:)`.
    public struct Timer: Hashable, Sendable { let handle: UInt64 }

    public init() {
        guard let l = qb_loop_create() else { preconditionFailure("qb_loop_create failed: out of memory") }
        loop = l
        registry = LoopRegistry.State(loop: l)
        LoopRegistry.setCurrent(registry)
    }

    deinit {
        qb_loop_destroy(loop)
    }

    /// The current time on the monotonic clock.
    public static func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }

    /// Runs until `stop()` is called from one of the loop's callbacks.
    public func run() {
        LoopRegistry.setCurrent(registry)
        running = true
        qb_loop_run(loop)
        running = false
    }

    /// Makes `run()` return after the current callback.
    public func stop() { qb_loop_stop(loop) }

    // MARK: - Timers

    /// Calls `body` once after `delay` (rounded to libqb's timer resolution).
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping () -> Void) -> Timer {
        let box = TimerBox(body)
        var handle: qb_loop_timer_handle = 0
        let ns = UInt64(max(delay.nanosecondsClamped, 0))
        let rc = qb_loop_timer_add(loop, QB_LOOP_HIGH, ns, Unmanaged.passUnretained(box).toOpaque(), timerTrampoline, &handle)
        precondition(rc == 0, "qb_loop_timer_add failed: \(rc)")
        box.loop = self
        box.handle = handle
        timers[handle] = box
        return Timer(handle: handle)
    }

    /// Cancels a timer that has not fired yet; cancelling a fired or cancelled timer does nothing.
    public func cancel(_ timer: Timer) {
        guard timers.removeValue(forKey: timer.handle) != nil else { return }
        _ = qb_loop_timer_del(loop, timer.handle)
    }

    fileprivate func timerFired(_ handle: UInt64) -> TimerBox? { timers.removeValue(forKey: handle) }

    // MARK: - File descriptors

    /// Calls `handler(revents)` whenever `fd` is ready for `events`. Replaces an earlier watch of the same fd.
    public func watch(fd: Int32, events: Events = .readable, _ handler: @escaping (Events) -> Void) {
        let box = WatchBox(handler)
        let data = Unmanaged.passUnretained(box).toOpaque()
        if watches[fd] != nil {
            _ = qb_loop_poll_del(loop, fd)
        }
        watches[fd] = box
        let rc = qb_loop_poll_add(loop, QB_LOOP_HIGH, fd, events.rawValue, data, pollTrampoline)
        precondition(rc == 0, "qb_loop_poll_add(\(fd)) failed: \(rc)")
    }

    /// Stops watching `fd`.
    public func unwatch(fd: Int32) {
        guard watches.removeValue(forKey: fd) != nil else { return }
        _ = qb_loop_poll_del(loop, fd)
    }

    // MARK: - Signals

    /// Calls `handler` on the loop when `signal` arrives (the signal is delivered through libqb's self-pipe).
    public func onSignal(_ signal: Int32, _ handler: @escaping () -> Void) {
        let box = SignalBox(handler)
        signals[signal] = box
        var h: qb_loop_signal_handle?
        let rc = qb_loop_signal_add(loop, QB_LOOP_HIGH, signal, Unmanaged.passUnretained(box).toOpaque(), signalTrampoline, &h)
        precondition(rc == 0, "qb_loop_signal_add(\(signal)) failed: \(rc)")
    }

    /// Runs `body` on the loop soon (after the current callback).
    public func soon(_ body: @escaping () -> Void) { schedule(after: .zero, body) }

    /// Unblocks every signal in this process. Processes spawned by test harnesses can inherit a blocked SIGTERM;
    /// daemons call this first so they can be stopped.
    public static func unblockAllSignals() {
        var empty = sigset_t()
        sigemptyset(&empty)
        sigprocmask(SIG_SETMASK, &empty, nil)
    }
}

final class TimerBox {
    let body: () -> Void
    weak var loop: EventLoop?
    var handle: UInt64 = 0
    init(_ body: @escaping () -> Void) { self.body = body }
}

final class WatchBox {
    let handler: (EventLoop.Events) -> Void
    init(_ handler: @escaping (EventLoop.Events) -> Void) { self.handler = handler }
}

final class SignalBox {
    let handler: () -> Void
    init(_ handler: @escaping () -> Void) { self.handler = handler }
}

private let timerTrampoline: qb_loop_timer_dispatch_fn = { data in
    guard let data else { return }
    let box = Unmanaged<TimerBox>.fromOpaque(data).takeUnretainedValue()
    // Remove the registration first: the body may schedule new timers or drop the last reference to the loop.
    guard let loop = box.loop, let owned = loop.timerFired(box.handle) else { return }
    owned.body()
}

private let pollTrampoline: qb_loop_poll_dispatch_fn = { _, revents, data in
    guard let data else { return 0 }
    let box = Unmanaged<WatchBox>.fromOpaque(data).takeUnretainedValue()
    box.handler(EventLoop.Events(rawValue: revents))
    return 0
}

private let signalTrampoline: qb_loop_signal_dispatch_fn = { _, data in
    guard let data else { return 0 }
    Unmanaged<SignalBox>.fromOpaque(data).takeUnretainedValue().handler()
    return 0
}
