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
///
/// Timers are the loop's own, on one `timerfd` (nanosecond deadlines), not libqb's: libqb waits in whole milliseconds
/// rounded down, so it polls without sleeping through the last millisecond before each of its timers, and daemons that
/// re-arm millisecond retries under load spent a third of their CPU in empty `epoll_wait(0)` calls.
public final class EventLoop {
    let loop: OpaquePointer
    /// What libqb's IPC registered on this loop (see `LoopRegistry`).
    let registry: LoopRegistry.State
    /// Live timers by handle; a cancelled timer leaves only a stale entry in `deadlines`, skipped when it comes up.
    private var timers: [UInt64: TimerBox] = [:]
    private var deadlines = TimerHeap()
    private var nextTimerHandle: UInt64 = 1
    private let timerFD: Int32
    /// The deadline the timerfd is set to (nanoseconds on the monotonic clock), or nil when it is disarmed.
    private var armedDeadline: UInt64?
    /// Bodies given to `soon`, run together by one libqb timer; the other array keeps its capacity for the next round.
    private var soonBodies: [() -> Void] = []
    private var soonRunning: [() -> Void] = []
    /// How often the timerfd was set (tests check that `soon` does not set it).
    private(set) var timerArmings = 0
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
        timerFD = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK) | Int32(TFD_CLOEXEC))
        precondition(timerFD >= 0, "timerfd_create failed: errno \(errno)")
        LoopRegistry.setCurrent(registry)
        watch(fd: timerFD, events: .readable) { [unowned self] _ in fireDueTimers() }
    }

    deinit {
        qb_loop_destroy(loop)
        close(timerFD)
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

    /// Calls `body` once after `delay` (timers due at the same instant run in the order they were scheduled).
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping () -> Void) -> Timer {
        let now = Self.now().nanoseconds
        let (deadline, overflow) = now.addingReportingOverflow(UInt64(max(delay.nanosecondsClamped, 0)))
        let at = overflow ? UInt64.max : deadline
        let handle = nextTimerHandle
        nextTimerHandle += 1
        timers[handle] = TimerBox(body)
        deadlines.push(.init(deadline: at, handle: handle))
        if armedDeadline.map({ at < $0 }) ?? true { arm(at) }
        return Timer(handle: handle)
    }

    /// Cancels a timer that has not fired yet; cancelling a fired or cancelled timer does nothing.
    public func cancel(_ timer: Timer) {
        guard timers.removeValue(forKey: timer.handle) != nil else { return }
        // Stale entries are skipped when due; rebuild the heap when they outnumber the live ones.
        if deadlines.count > 64 && deadlines.count > 2 * timers.count {
            deadlines.removeAll { timers[$0.handle] == nil }
        }
    }

    /// Sets the timerfd to `deadline` (absolute; one already past fires at once).
    private func arm(_ deadline: UInt64) {
        armedDeadline = deadline
        timerArmings += 1
        let at = max(deadline, 1)  // an all-zero it_value would disarm it
        var spec = itimerspec()
        spec.it_value.tv_sec = Int(at / 1_000_000_000)
        spec.it_value.tv_nsec = Int(at % 1_000_000_000)
        let rc = timerfd_settime(timerFD, Int32(TFD_TIMER_ABSTIME), &spec, nil)
        precondition(rc == 0, "timerfd_settime failed: errno \(errno)")
    }

    /// Runs every timer due now that was scheduled before this round began (one a timer schedules for "now" runs in
    /// the next round, after file descriptors had their turn), then sets the timerfd to the next deadline.
    private func fireDueTimers() {
        var expirations: UInt64 = 0
        _ = read(timerFD, &expirations, MemoryLayout<UInt64>.size)
        armedDeadline = nil
        let now = Self.now().nanoseconds
        let scheduledBefore = nextTimerHandle
        var deferred: [TimerHeap.Entry] = []
        while let top = deadlines.first, top.deadline <= now {
            deadlines.popFirst()
            guard timers[top.handle] != nil else { continue }  // cancelled
            if top.handle >= scheduledBefore {
                deferred.append(top)
                continue
            }
            // Remove the registration first: the body may schedule or cancel timers, or drop the loop.
            guard let box = timers.removeValue(forKey: top.handle) else { continue }
            box.body()
        }
        for e in deferred { deadlines.push(e) }
        while let top = deadlines.first, timers[top.handle] == nil { deadlines.popFirst() }
        if let next = deadlines.first, armedDeadline.map({ next.deadline < $0 }) ?? true { arm(next.deadline) }
    }

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

    /// Runs `body` on the loop soon: after the callbacks of this round of the loop, bodies in the order given (one that
    /// a `soon` body asks for runs in a later round, after file descriptors had their turn).
    ///
    /// No system call: the bodies wait in an array that one libqb timer of zero duration runs, at the lowest priority
    /// (so after the round's file descriptors). A libqb job would not do: one added in the round's last pass waits
    /// until some descriptor wakes the loop, whereas a due libqb timer makes the loop poll without sleeping. A
    /// zero-delay timer of this loop's own would set the timerfd twice and cost a wake-up and a read per round: 7 % of
    /// totemd's CPU when every busy round flushed its IPC events that way.
    public func soon(_ body: @escaping () -> Void) {
        soonBodies.append(body)
        guard soonBodies.count == 1 else { return }
        var handle: qb_loop_timer_handle = 0
        let rc = qb_loop_timer_add(loop, QB_LOOP_LOW, 0, Unmanaged.passUnretained(self).toOpaque(), soonTrampoline, &handle)
        precondition(rc == 0, "qb_loop_timer_add failed: \(rc)")
    }

    /// Runs the bodies given to `soon` so far; those they give run in a later round.
    fileprivate func runSoonBodies() {
        swap(&soonBodies, &soonRunning)
        for body in soonRunning { body() }
        soonRunning.removeAll(keepingCapacity: true)
    }

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
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// A binary min-heap of timer deadlines; ties go to the earlier handle (the one scheduled first).
struct TimerHeap {
    struct Entry {
        var deadline: UInt64
        var handle: UInt64
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : handle < other.handle
        }
    }
    private var items: [Entry] = []
    var count: Int { items.count }
    var first: Entry? { items.first }

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].precedes(items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popFirst() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        siftDown(from: 0)
    }

    mutating func removeAll(where remove: (Entry) -> Bool) {
        items.removeAll(where: remove)
        for i in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(from: i) }
    }

    private mutating func siftDown(from start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l].precedes(items[m]) { m = l }
            if r < items.count && items[r].precedes(items[m]) { m = r }
            guard m != i else { return }
            items.swapAt(i, m)
            i = m
        }
    }
}

final class WatchBox {
    let handler: (EventLoop.Events) -> Void
    init(_ handler: @escaping (EventLoop.Events) -> Void) { self.handler = handler }
}

final class SignalBox {
    let handler: () -> Void
    init(_ handler: @escaping () -> Void) { self.handler = handler }
}

private let pollTrampoline: qb_loop_poll_dispatch_fn = { _, revents, data in
    guard let data else { return 0 }
    let box = Unmanaged<WatchBox>.fromOpaque(data).takeUnretainedValue()
    box.handler(EventLoop.Events(rawValue: revents))
    return 0
}

private let soonTrampoline: qb_loop_timer_dispatch_fn = { data in
    guard let data else { return }
    Unmanaged<EventLoop>.fromOpaque(data).takeUnretainedValue().runSoonBodies()
}

private let signalTrampoline: qb_loop_signal_dispatch_fn = { _, data in
    guard let data else { return 0 }
    Unmanaged<SignalBox>.fromOpaque(data).takeUnretainedValue().handler()
    return 0
}
