// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Hosts one node's upper core (quorum, groups, and the cores to come) in the simulator the way `CoreDriver` does in
/// a daemon: every input goes through the core's single entry point, and every output is carried out completely
/// before the next input is handled. An input that an effect produces (a configuration the shell read, a local
/// daemon's answer) is queued, never re-entered, so effects always see the state the core was in when it produced
/// them, and the simulator's adapters keep the daemons' discipline.
final class CoreHost<Core: ProtocolCore> {
    private(set) var core: Core
    private var pending: [Core.Input] = []
    private var pendingHead = 0
    private var running = false
    /// Set when the node's process stops (it left, was fenced, crashed): queued inputs are dropped.
    private(set) var retired = false
    /// Inputs one output may queue before the host calls it a livelock (the core and its effects feeding each other
    /// without end).
    static var pendingCountMax: Int { 1 << 16 }

    init(_ core: Core) { self.core = core }

    var nextDeadline: MonotonicInstant? { core.nextDeadline }

    /// Hands `input` to the core at the instant `now()` reads and carries out its output with `perform`, then the
    /// outputs of every input its effects queued, in order, with the same `perform`. Called from inside `perform`,
    /// `input` is queued (and handled by the outer call's `perform`) and nil is returned.
    @discardableResult
    func feed(_ input: Core.Input, now: () -> MonotonicInstant, perform: (Core.Input, Core.Output) -> Void) -> Core.Output? {
        guard !retired else { return nil }
        if running {
            pending.append(input)
            precondition(pending.count - pendingHead <= Self.pendingCountMax,
                         "\(Core.self): effects queued more than \(Self.pendingCountMax) inputs while carrying out one output")
            return nil
        }
        running = true
        defer {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
            running = false
        }
        let first = core.handle(input, at: now())
        perform(input, first)
        while !retired && pendingHead < pending.count {
            let next = pending[pendingHead]
            pendingHead += 1
            let out = core.handle(next, at: now())
            perform(next, out)
        }
        return first
    }

    /// The node's process stopped: nothing more is handled.
    func retire() {
        retired = true
        pending.removeAll()
        pendingHead = 0
    }
}
