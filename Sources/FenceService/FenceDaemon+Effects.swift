// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes
import FenceCore
import Logging

extension FenceDaemon {
    /// Carries out one output of the core, every effect in the order given (`Fence.Effect`'s contract). Inputs the
    /// effects cause (an agent that cannot start, a local delivery) reach the core only after this output: the driver
    /// queues them.
    func carryOut(_ out: Fence.Output) {
        for effect in out.effects {
            switch effect {
            case .joinGroup:
                // cman_set_dirty BEFORE joining: from now on this node holds the domain's state, so if it drops out of
                // the cluster and comes back without restarting, quorumd marks it Disallowed instead of taking it in.
                do { try quorum.setDirty() } catch { log(.warning, "cannot mark this node dirty in quorumd (cman_set_dirty): \(error)") }
                clients.joinsUnderWay()
                domain.join()
            case .leaveGroup:
                domain.leave()
            case .multicast(let bytes):
                domain.multicast(bytes)
            case .runAgent(let run):
                log(.debug, "running agent: \(run) (run \(run.id), timeout \(run.timeout.millisecondsClamped / 1000) s)")
                agents.start(run)
            case .removeFromCluster(let node, let reason):
                removeFromCluster(node, reason: reason)
            case .victimResolved(let r):
                victimResolved(r)
            case .joinFailed(let text):
                clients.joinsFailed(text)
            case .log(let line):
                log(Self.level(line.level), line.text)
            case .stateChanged:
                stateChanged()
            }
        }
    }

    static func level(_ l: Fence.LogLine.Level) -> Logger.Level {
        switch l {
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        }
    }

    /// fenced's kick: a node whose fence daemon died is removed from the cluster (cman_kill_node), so it is fenced
    /// as a failed node rather than trusted to stay off shared data.
    private func removeFromCluster(_ node: NodeID, reason: String) {
        do {
            try quorum.kill(node)
            log(.notice, "asked quorumd to remove node \(settings.name(of: node)) from the cluster: \(reason)")
        } catch {
            log(.error, "cannot remove node \(settings.name(of: node)) from the cluster (cman_kill_node): \(error)")
        }
    }

    /// A victim's fate is agreed: subscribers may recover its work now, and quorumd records the fence.
    private func victimResolved(_ r: Fence.Resolution) {
        clients.publish(.fenced(r.outcome))
        announcedVictims.remove(r.victim)
        guard let agent = r.fenceRecordAgent else { return }
        do {
            try quorum.recordFence(r.victim, wallClockSeconds: r.wallClockSeconds, agent: agent)
        } catch {
            log(.warning, "quorumd did not record the fence of node \(r.victimName): \(error)")
        }
    }

    /// STATUS=, new victims to subscribers, and the end of a SIGTERM's leave.
    private func stateChanged() {
        guard let driver else { return }
        let status = driver.core.status
        runner.status(status.statusLine)
        let victims = status.victimNodes
        for node in victims.subtracting(announcedVictims).sorted() { clients.publish(.victim(node: node)) }
        announcedVictims = victims
        stopIfLeft()
    }
}
