// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPC
import ClusterTypes
import Logging
import ResourceCore

/// What rgmanager learns about fencing, turned into the core's `.fenced(node)`: fenced's reports, a clean start,
/// and (in `ClusterLinks.groupEvent`) a clean leave of a node's rgmanager.
extension ClusterLinks {
    /// Connects to fenced and subscribes to its reports; retried every 5 s while it is not running, which is said
    /// once as a warning (failed nodes are then never reported fenced, and their services never recovered).
    func connectFence() {
        let client: FenceClient
        do {
            client = try FenceClient(instance: instance)
            try client.subscribe()
        } catch {
            if !fenceMissingLogged {
                fenceMissingLogged = true
                logger.warning("fenced is not running (\(error.message)): services of a node that fails will not be recovered until fenced runs and reports it fenced; retrying every 5 s")
            }
            scheduleFenceRetry()
            return
        }
        guard let fd = client.eventFD else { return }
        fence = client
        fenceMissingLogged = false
        client.onEvent = { [unowned self] event in fenceEvent(event) }
        loop.watch(fd: fd, events: [.readable, .error, .hangup]) { [unowned self] _ in
            do { try fence?.dispatch() } catch {
                loop.unwatch(fd: fd)
                fence = nil
                logger.warning("fenced went away (\(error)): failed nodes will not be reported fenced until it is back")
                scheduleFenceRetry()
                daemon?.updateStatus()
            }
        }
        logger.info("connected to fenced")
        do {
            for n in try client.domain().nodes where n.lastFenceTime > 0 && !n.victim {
                fenceTimes[n.node] = max(fenceTimes[n.node] ?? 0, n.lastFenceTime)
            }
        } catch {
            logger.warning("fenced's domain: \(error.message)")
        }
        checkFencing()
        daemon?.updateStatus()
    }

    private func scheduleFenceRetry() {
        guard fenceRetry == nil else { return }
        fenceRetry = loop.schedule(after: .seconds(5)) { [weak self] in
            guard let self else { return }
            fenceRetry = nil
            if fence == nil && daemon?.shutdownReason == nil { connectFence() }
        }
    }

    private func fenceEvent(_ event: FenceIPC.Event) {
        switch event {
        case .victim(let node):
            logger.notice("fenced: node \(node) is a victim; its services wait until it is fenced")
        case .fenced(let outcome):
            logger.notice("fenced: \(outcome.text.isEmpty ? "node \(outcome.node) fenced (\(outcome.how))" : outcome.text)")
            fenceTimes[outcome.node] = max(fenceTimes[outcome.node] ?? 0, outcome.wallClockSeconds)
            checkFencing()
        }
    }

    /// `<fence_daemon clean_start="1">`: configured nodes that are not cluster members when rgmanager starts are
    /// taken as clean, as fenced takes them.
    func applyCleanStart() {
        guard !cleanStartApplied, let daemon, daemon.config.fenceDaemon.cleanStart, !cmanNodes.isEmpty else { return }
        cleanStartApplied = true
        for node in daemon.config.nodes.map({ NodeID($0.nodeID) }) where node != daemon.nodeID {
            guard cmanNodes.first(where: { $0.id == node })?.state != "M" else { continue }
            logger.notice("clean_start: node \(node) is not a cluster member at start; taken as clean")
            daemon.feed(.fenced(node))
        }
    }

    /// Tells the core of every configured node outside the group that has been fenced since it last joined the
    /// cluster (and is not a cluster member now).
    func checkFencing() {
        guard let daemon else { return }
        for node in daemon.config.nodes.map({ NodeID($0.nodeID) }) where node != daemon.nodeID {
            let core = daemon.core
            guard !core.members.contains(node), !core.fenced.contains(node), let fencedAt = fenceTimes[node] else { continue }
            let member = cmanNodes.first { $0.id == node }
            guard member?.state != "M", fencedAt >= member?.joinTime ?? 0 else { continue }
            logger.notice("node \(node) has been fenced: its services may be recovered")
            daemon.feed(.fenced(node))
        }
    }
}
