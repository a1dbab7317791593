// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Staged shutdown, cman's: `cman_tool leave` (or SIGTERM) first sends TRY_SHUTDOWN to every registered client and
/// waits up to `shutdown_timeout` for their answers. If all agree (or none is registered) the node leaves (SIGTERM:
/// quorumd stops); otherwise the requester is told who refused. `force` does not ask.
///
/// The clients are the shell's IPC connections, known here by handle: the shell feeds their registrations, answers
/// and departures, and carries out `tryShutdown`, `leaveAnswered`, `stopDaemon` and `stopRefused`.
extension Quorum.StateMachine {
    /// A shutdown collecting answers.
    struct Shutdown: Sendable {
        /// The `cman_tool leave` that asked, or nil for SIGTERM.
        var requester: Quorum.Client?
        var remove: Bool
        /// Registered clients that have not answered yet, with their names.
        var waiting: [Quorum.Client: String]
        var refused: [String]
        var deadline: MonotonicInstant
    }

    /// Whether a staged shutdown is collecting answers.
    public var isAskingClients: Bool { shutdown != nil }

    mutating func shutdownRequested(by requester: Quorum.Client?, remove: Bool, force: Bool, now: MonotonicInstant,
                                    out: inout Quorum.Output) {
        guard shutdown == nil, !leaveInProgress else {
            if let requester {
                out.effects.append(.leaveAnswered(requester, .refused("a leave is already in progress")))
            } else {
                out.effects.append(.notice(.signalDuringLeave))
            }
            return
        }
        if force || registered.isEmpty {
            concludeShutdown(requester: requester, remove: remove, refused: [], out: &out)
            return
        }
        let s = Shutdown(requester: requester, remove: remove, waiting: registered, refused: [],
                         deadline: now + settings.shutdownTimeout)
        for client in registered.keys.sorted() { out.effects.append(.tryShutdown(client)) }
        shutdown = s
        out.effects.append(.notice(.askingClients(bySignal: requester == nil, count: s.waiting.count)))
    }

    mutating func shutdownReply(from client: Quorum.Client, allow: Bool, out: inout Quorum.Output) {
        guard var s = shutdown, let name = s.waiting.removeValue(forKey: client) else { return }
        if !allow { s.refused.append("\(name) said no") }
        shutdown = s
        finishShutdownIfAnswered(out: &out)
    }

    mutating func clientGone(_ client: Quorum.Client, out: inout Quorum.Output) {
        registered[client] = nil
        if leaveRequester == client { leaveRequester = nil }
        guard var s = shutdown, let name = s.waiting.removeValue(forKey: client) else { return }
        // A client stopping at the same time as the node (poweroff) no longer holds anything: only a
        // `cman_tool leave` insists on an answer.
        if s.requester != nil { s.refused.append("\(name) went away without answering") }
        shutdown = s
        finishShutdownIfAnswered(out: &out)
    }

    mutating func shutdownTimedOut(out: inout Quorum.Output) {
        guard var s = shutdown else { return }
        for (_, name) in s.waiting.sorted(by: { $0.key < $1.key }) {
            s.refused.append("\(name) did not answer within \(settings.shutdownTimeout)")
        }
        s.waiting = [:]
        shutdown = s
        finishShutdownIfAnswered(out: &out)
    }

    private mutating func finishShutdownIfAnswered(out: inout Quorum.Output) {
        guard let s = shutdown, s.waiting.isEmpty else { return }
        shutdown = nil
        concludeShutdown(requester: s.requester, remove: s.remove, refused: s.refused, out: &out)
    }

    /// Everyone answered (or nobody had to): leave, stop, or say who refused.
    private mutating func concludeShutdown(requester: Quorum.Client?, remove: Bool, refused: [String], out: inout Quorum.Output) {
        guard let requester else {
            if refused.isEmpty {
                out.effects.append(.stopDaemon(reason: "SIGTERM"))
            } else {
                out.effects.append(.stopRefused(why: "refusing to stop: \(refused.joined(separator: "; ")); 'cman_tool leave force' stops anyway"))
            }
            return
        }
        guard refused.isEmpty else {
            let why = "cannot leave the cluster: \(refused.joined(separator: "; "))"
            out.effects.append(.notice(.leaveRefused(why)))
            out.effects.append(.leaveAnswered(requester, .refused(why)))
            return
        }
        // The answer waits for the departure itself (the leaving message delivered back here).
        switch request(.leave(remove: remove), out: &out) {
        case .refused(let why): out.effects.append(.leaveAnswered(requester, .refused(why)))
        case .accepted: leaveRequester = requester
        }
    }

    /// This node stops its stack: answer a pending `cman_tool leave` first, then tell the shell.
    mutating func departCluster(reason: String, evicted: Bool, out: inout Quorum.Output) {
        leaving = true
        leaveInProgress = true
        if let c = leaveRequester {
            leaveRequester = nil
            out.effects.append(.leaveAnswered(c, .accepted))
        }
        out.effects.append(.leaveCluster(reason: reason, evicted: evicted))
    }

    /// The quorum disk's master declared members dead by disk: a quorate partition tells them to leave.
    mutating func evictDeadByDisk(out: inout Quorum.Output) {
        let evict = pendingEvictions
        pendingEvictions = []
        guard summary.quorate, !leaving else { return }
        for node in evict where members.contains(node) && node != nodeID {
            out.effects.append(.notice(.deadByDisk(node)))
            out.effects.append(.multicast(Quorum.Message.kill(node: node, reason: "dead by the quorum disk").encode()))
        }
    }
}
