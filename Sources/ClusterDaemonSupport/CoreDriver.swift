// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterTypes

/// A daemon's pure protocol core, as `CoreDriver` drives it: the stack's `ProtocolCore` (the simulator hosts the same
/// cores).
public typealias DaemonCore = ProtocolCore

/// Feeds a core from one event loop and carries out its outputs, raft's `Ready` discipline: every output is
/// carried out completely before the next input is handled. An input that arrives while an output is being carried
/// out (an effect that loops back, such as a local delivery) waits in a FIFO instead of re-entering the core, so
/// effects always see the state the core was in when it produced them. The core's deadline is kept as one timer on
/// the loop.
///
/// The driver is `@inlinable` so that each daemon gets a copy specialised for its core: unspecialised, every input and
/// output crossed the module boundary as an opaque generic value (metadata look-ups and value-witness copies for
/// every message, about a tenth of groupd's time under a CPG load).
public final class CoreDriver<Core: DaemonCore> {
    /// The core as it stands (it changes only through `feed`).
    @inlinable public var core: Core { _read { yield state } }
    @usableFromInline var state: Core
    @usableFromInline let loop: EventLoop
    /// Carries out one output (set once, before the first input).
    public var perform: (Core.Output) -> Void = { _ in }
    @usableFromInline var pending: [Core.Input] = []
    @usableFromInline var pendingHead = 0
    @usableFromInline var running = false
    @usableFromInline var timer: EventLoop.Timer?
    @usableFromInline var timerAt: MonotonicInstant?
    /// Inputs handled so far (for status and tests).
    @inlinable public var handled: Int { handledCount }
    @usableFromInline var handledCount = 0
    /// The most inputs that ever waited at once: effects that keep feeding the core show here.
    @inlinable public var pendingHighWater: Int { pendingHigh }
    @usableFromInline var pendingHigh = 0
    /// Inputs an output may queue before the driver calls it a livelock: the core and its effects feed each other
    /// without end. Bounded like every queue of the project.
    public static var pendingCountMax: Int { 1 << 16 }

    @inlinable
    public init(core: Core, loop: EventLoop) {
        state = core
        self.loop = loop
    }

    deinit {
        if let t = timer { loop.cancel(t) }
    }

    /// Hands `input` to the core. Called from the loop (not while an output is being carried out) it is handled at
    /// once, with everything its effects queue, and its output is returned; called from inside `perform` it is
    /// queued and handled right after the current output, and nil is returned.
    @inlinable @discardableResult
    public func feed(_ input: Core.Input) -> Core.Output? {
        if running {
            pending.append(input)
            precondition(pending.count - pendingHead <= Self.pendingCountMax,
                         "\(Core.self): effects queued more than \(Self.pendingCountMax) inputs while carrying out one output")
            pendingHigh = max(pendingHigh, pending.count - pendingHead)
            return nil
        }
        running = true
        let out = step(input)
        while pendingHead < pending.count {
            let next = pending[pendingHead]
            pendingHead += 1
            _ = step(next)
        }
        pending.removeAll(keepingCapacity: true)
        pendingHead = 0
        running = false
        rescheduleDeadline()
        return out
    }

    /// Reads the core (for status queries); the core changes only through `feed`.
    @inlinable
    public func read<R>(_ body: (Core) -> R) -> R { body(state) }

    @inlinable
    func step(_ input: Core.Input) -> Core.Output {
        handledCount += 1
        let out = state.handle(input, at: EventLoop.now())
        perform(out)
        return out
    }

    @inlinable
    func rescheduleDeadline() {
        let next = state.nextDeadline
        guard next != timerAt else { return }
        if let t = timer { loop.cancel(t) }
        timer = nil
        timerAt = next
        guard let at = next else { return }
        let delay = at - EventLoop.now()
        // Unowned (deinit cancels the timer): a weak reference would give the driver a side table, which makes every
        // retain and release of it slower.
        timer = loop.schedule(after: max(delay, .zero)) { [unowned self] in
            timer = nil
            timerAt = nil
            feed(Core.deadlineReached)
        }
    }
}
