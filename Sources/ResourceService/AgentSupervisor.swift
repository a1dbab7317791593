// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterTypes
import Logging
import ResourceAgents
#if canImport(Glibc)
import Glibc
#endif

/// The agent processes of one daemon, on its event loop: each is started without waiting, reaped when SIGCHLD
/// arrives, its output drained as it comes (so a talkative agent never blocks on a full pipe), and its timeout
/// enforced by one timer at the earliest deadline of them all. Nothing here blocks the loop.
final class AgentSupervisor {
    /// What a call produced: its result and what it printed.
    typealias Completion = (AgentResult, String) -> Void

    private struct Running {
        var process: AgentProcess
        var done: Completion
    }

    private let loop: EventLoop
    private let runner: AgentRunner
    private var running: [UInt64: Running] = [:]
    private var timer: EventLoop.Timer?
    private var timerAt: MonotonicInstant?
    /// Agent processes one node runs at once at most: rgmanager's own bound is `status_child_max` for checks plus
    /// one operation per service, so this only catches a runaway.
    static let runningCountMax = 4096

    init(loop: EventLoop, runner: AgentRunner) {
        self.loop = loop
        self.runner = runner
        loop.onSignal(SIGCHLD) { [weak self] in self?.pollAll() }
    }

    /// Agent calls in progress.
    var count: Int { running.count }

    /// Starts `call`; `done` runs on the loop when it ends (at once, from a later loop turn, if it cannot start).
    func start(id: UInt64, _ call: AgentCall, done: @escaping Completion) {
        precondition(running[id] == nil, "agent call \(id) started twice")
        precondition(running.count < Self.runningCountMax, "more than \(Self.runningCountMax) agent calls at once")
        let process: AgentProcess
        do {
            process = try runner.start(call, output: .capture, now: EventLoop.now())
        } catch {
            // Reported from the loop, not from inside the caller's own effect handling.
            loop.soon { done(.notStarted(error.reason), "") }
            return
        }
        running[id] = Running(process: process, done: done)
        if process.outputFD >= 0 {
            loop.watch(fd: process.outputFD, events: [.readable, .hangup, .error]) { [weak process] _ in process?.drain() }
        }
        rescheduleTimer()
    }

    /// Reaps every agent that has exited and enforces timeouts; calls the completions of those that ended.
    func pollAll() {
        let now = EventLoop.now()
        for id in running.keys.sorted() {
            guard let r = running[id] else { continue }
            let fd = r.process.outputFD
            guard let result = r.process.poll(at: now) else { continue }
            if fd >= 0 { loop.unwatch(fd: fd) }
            running[id] = nil
            r.done(result, r.process.outputText)
        }
        rescheduleTimer()
    }

    private func rescheduleTimer() {
        let next = running.values.compactMap { $0.process.nextDeadline }.min()
        guard next != timerAt else { return }
        if let t = timer { loop.cancel(t) }
        timer = nil
        timerAt = next
        guard let next else { return }
        timer = loop.schedule(after: max(next - EventLoop.now(), .zero)) { [weak self] in
            self?.timer = nil
            self?.timerAt = nil
            self?.pollAll()
        }
    }
}
