// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Fence.StateMachine {
    // MARK: - The master's work

    /// The master's progress after every event: let victims that came back cleanly go, wait out the delay, then
    /// fence one victim at a time. Agents start only while this node's partition is quorate.
    mutating func work(now: MonotonicInstant, out: inout Fence.Output) {
        guard phase == .member, settled, master == me.node else { return }
        guard quorate || settings.mutations.contains(.ignoreQuorum) else { return }
        var reduced = false
        for i in victims.indices where !victims[i].announced && rejoinedCleanly(victims[i]) {
            victims[i].announced = true
            reduced = true
            out.multicast(.victimDone(victim: victims[i].node, incident: victims[i].incident, how: .member, agent: "", method: "",
                                      wallClockSeconds: wallClock(now)))
        }
        if reduced && delayUntil != nil { delayUntil = now + delay }  // fenced: fewer victims restart the wait
        if let d = delayUntil {
            guard now >= d else { return }
            delayUntil = nil
        }
        guard !delayForever, running == nil else { return }
        var i = 0
        while i < victims.count && running == nil {
            let v = victims[i]
            if !v.announced && (v.retryAt.map { $0 <= now } ?? true) { startFencing(victim: i, now: now, out: &out) }
            i += 1
        }
    }

    /// A victim may go unfenced once it is a cluster member again with an incarnation other than the one it failed
    /// with (it restarted, so it holds nothing), and its fence daemon is back in the domain.
    private func rejoinedCleanly(_ v: Fence.Victim) -> Bool {
        guard let inc = quorumMembers[v.node],
              view?.members.contains(where: { $0.node == v.node && !disallowed.contains($0) }) == true else { return false }
        if v.startup { return true }
        if let failed = v.failedIncarnation { return inc != failed }
        return v.seenGone
    }

    private mutating func startFencing(victim i: Int, now: MonotonicInstant, out: inout Fence.Output) {
        let v = victims[i]
        guard let plan = settings.plan(for: v.node), !plan.methods.isEmpty else {
            out.log(.error, Fence.Text.unconfigured(v.name))
            failedPass(victim: i, now: now, out: &out)
            return
        }
        out.log(.info, Fence.Text.fencing(v.name))
        var seq = Fence.Sequence(plan: plan, purpose: .fence)
        let step = seq.start()
        proceed(step, seq, victim: i, now: now, out: &out)
    }

    /// Takes the next step of a victim's sequence: runs a device (unless it cannot be run, which counts as its
    /// failure), announces the victim fenced when a method succeeded, or schedules a retry when all failed.
    mutating func proceed(_ first: Fence.Sequence.Step, _ sequence: Fence.Sequence, victim i: Int, now: MonotonicInstant,
                          out: inout Fence.Output) {
        var seq = sequence
        var step = first
        let v = victims[i]
        while true {
            switch step {
            case .run(let m, let d, let device):
                let method = seq.methods[m].name
                if let problem = device.problem ?? (device.agent == nil ? "no agent is configured" : nil) {
                    out.multicast(.attempt(victim: v.node, incident: v.incident, method: method, device: device.name, agent: device.agent ?? "-",
                                           outcome: .notStarted(problem), stderr: "", wallClockSeconds: wallClock(now)))
                    step = seq.record(success: false)
                    continue
                }
                // Between devices the cycle may have moved on: the next settled master starts over.
                guard settled, master == me.node, quorate || settings.mutations.contains(.ignoreQuorum) else {
                    victims[i].retryAt = now
                    return
                }
                let run = Fence.AgentRun(id: nextRunID, purpose: .fence, target: v.node, targetName: v.name, method: method,
                                         methodNumber: m + 1, device: device.name, deviceNumber: d + 1, agent: device.agent!,
                                         stdin: Fence.AgentCall.stdin(device: device, target: v.name, defaultAction: "off"),
                                         timeout: settings.agentTimeout)
                nextRunID += 1
                running = Fence.Running(runID: run.id, target: v.node, incident: v.incident, sequence: seq)
                out.effects.append(.runAgent(run))
                if settings.mutations.contains(.announceAtStart) && !victims[i].announced {
                    victims[i].announced = true
                    out.multicast(.victimDone(victim: v.node, incident: v.incident, how: .agent, agent: device.agent!, method: method,
                                              wallClockSeconds: wallClock(now)))
                }
                return
            case .succeeded(let method, let agents):
                // The fence happened after this failure began, so announcing it is true whoever is master now.
                guard !victims[i].announced else { return }
                victims[i].announced = true
                out.multicast(.victimDone(victim: v.node, incident: v.incident, how: .agent, agent: agents.joined(separator: ","),
                                          method: method, wallClockSeconds: wallClock(now)))
                return
            case .failed:
                failedPass(victim: i, now: now, out: &out)
                return
            }
        }
    }

    /// Every method of a victim failed: try it again after a backoff (the other victims go on meanwhile).
    private mutating func failedPass(victim i: Int, now: MonotonicInstant, out: inout Fence.Output) {
        victims[i].attempts += 1
        var wait = settings.retryBackoffInitial
        for _ in 1..<min(victims[i].attempts, 16) where wait < settings.retryBackoffMax { wait = wait * 2 }
        wait = min(wait, settings.retryBackoffMax)
        victims[i].retryAt = now + wait
        out.log(.error, Fence.Text.failedPass(victims[i].name, retryIn: wait))
    }
}
