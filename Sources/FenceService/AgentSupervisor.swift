// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterTypes
import FenceAgents
import FenceCore

/// Runs the fence core's agents on the daemon's loop, never blocking it: starts each run, watches the agents'
/// pipes, calls the runner at its deadlines (timeouts, reaping) and hands every finished run back in the order they
/// finished. The agent search path can change with a reload; it takes effect once no agent is running.
final class AgentSupervisor {
    private let loop: EventLoop
    private var runner: AgentRunner
    private var nextLocator: AgentLocator?
    private var watched: Set<Int32> = []
    private var timer: EventLoop.Timer?
    private var timerAt: MonotonicInstant?
    /// A run finished: what it was, the process's report (nil when it never started) and the core's result.
    var onFinished: (Fence.AgentRun, AgentReport?, Fence.AgentResult) -> Void = { _, _, _ in }

    init(locator: AgentLocator, loop: EventLoop) {
        runner = AgentRunner(locator: locator)
        self.loop = loop
    }

    var locator: AgentLocator { runner.locator }

    /// Starts `run`'s agent (an agent that cannot be found or started finishes at once, with a message).
    func start(_ run: Fence.AgentRun) {
        runner.start(run)
        resync()
    }

    /// A new agent search path (after a reload).
    func use(_ locator: AgentLocator) {
        guard locator.searchPath != runner.locator.searchPath else { return }
        nextLocator = locator
        swapLocatorIfIdle()
    }

    /// Kills every running agent's process group (the daemon is stopping); the next service reports them.
    func killAll() {
        runner.killAll()
        resync()
    }

    private func service() {
        let done = runner.service(now: EventLoop.now())
        // Watches first: a run started by a result's effects may reuse the numbers of pipes just closed.
        resync()
        swapLocatorIfIdle()
        for d in done { onFinished(d.run, d.report, d.result) }
    }

    private func swapLocatorIfIdle() {
        guard let l = nextLocator, runner.descriptors.isEmpty, runner.nextDeadline == nil else { return }
        runner = AgentRunner(locator: l)
        nextLocator = nil
    }

    /// Watches exactly the pipes of the agents running now, and sets the timer to the runner's next deadline.
    private func resync() {
        let now = Set(runner.descriptors)
        for fd in watched.subtracting(now) { loop.unwatch(fd: fd) }
        for fd in now.subtracting(watched) {
            loop.watch(fd: fd, events: [.readable, .error, .hangup]) { [weak self] _ in self?.service() }
        }
        watched = now
        let next = runner.nextDeadline
        guard next != timerAt else { return }
        if let t = timer { loop.cancel(t) }
        timer = nil
        timerAt = next
        guard let at = next else { return }
        timer = loop.schedule(after: max(at - EventLoop.now(), .zero)) { [weak self] in
            guard let self else { return }
            timer = nil
            timerAt = nil
            service()
        }
    }
}
