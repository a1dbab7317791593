// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// Faults injected during the fault phase, healing, and the controls scripted scenarios use.
extension Simulation {
    // MARK: - Faults

    func injectFaults() {
        var r = faultRandom
        defer { faultRandom = r }
        if r.chance(options.partitionProbability / 10) {
            blocked = []
            let groups = Int.random(in: 2...3, using: &r)
            let assignment = nodes.map { _ in Int.random(in: 0..<groups, using: &r) }
            for a in nodes.indices {
                for b in nodes.indices where a != b && assignment[a] != assignment[b] {
                    if options.asymmetricPartitions && r.chance(0.5) && a < b { continue }
                    blocked.insert(Link(from: a, to: b))
                }
            }
            stats.partitions += 1
            note("partition \(assignment.map { String($0) }.joined())")
        } else if !blocked.isEmpty && r.chance(0.1) {
            blocked = []
            note("partition healed")
        }
        if r.chance(options.crashProbability / 10), let victim = nodes.filter({ $0.machine != nil }).randomElement(using: &r) {
            crash(victim)
        }
        if r.chance(options.leaveProbability / 10), let leaver = nodes.filter(\.isUp).randomElement(using: &r) {
            handle(leaver, .leave)
            checker.record(leaver.index, .crashed)
            note("leave n\(leaver.index + 1)")
        }
        if r.chance(options.spuriousReportProbability), nodes.count > 1 {
            // A burst of port-unreachable reports about a node that may well be alive (a firewall reload, forged ICMP).
            let to = Int.random(in: 0..<nodes.count, using: &r)
            let about = (to + Int.random(in: 1..<nodes.count, using: &r)) % nodes.count
            let burst = Int.random(in: 1...10, using: &r)
            for k in 0..<burst {
                queue.push(.unreachable(to: to, about: about), at: now + .milliseconds(Int64(k * 7)))
            }
            checker.coverage[.spuriousReportsInjected] += burst
            note("\(burst) spurious unreachable reports to n\(to + 1) about n\(about + 1)")
        }
        if r.chance(options.clogProbability), let slow = nodes.filter({ $0.machine != nil }).randomElement(using: &r) {
            // A failing node: everything it sends is held up, to each peer differently, and often it dies soon after,
            // so its last messages reach some survivors only late (during their recovery) or never.
            let until = now + .milliseconds(Int64.random(in: 300...2_000, using: &r))
            // Up to a few token timeouts: long enough for its last packets to land while the others re-form.
            let delayMax = Duration.milliseconds(Int64.random(in: 20...(3 * options.token.millisecondsClamped), using: &r))
            for t in nodes.indices where t != slow.index { clogged[Link(from: slow.index, to: t)] = (until, delayMax) }
            note("n\(slow.index + 1)'s packets clogged (up to \(delayMax.millisecondsClamped) ms) until \(until)")
            if r.chance(0.7) {
                queue.push(.crash(node: slow.index, incarnation: slow.incarnation), at: now + .milliseconds(Int64.random(in: 20...200, using: &r)))
            }
        }
        if straggler == nil, nodes.count > 2, r.chance(options.stragglerProbability),
           let dying = nodes.filter({ $0.machine?.state == .operational }).randomElement(using: &r) {
            let to = (dying.index + Int.random(in: 1..<nodes.count, using: &r)) % nodes.count
            let until = now + .milliseconds(Int64.random(in: 10...40, using: &r))
            straggler = (dying.index, to, until)
            queue.push(.crash(node: dying.index, incarnation: dying.incarnation), at: until)
            note("n\(dying.index + 1) is dying: its multicasts reach only n\(to + 1), in its recovery")
        } else if let s = straggler, now >= s.until {
            straggler = nil
        }
        if r.chance(options.deafProbability), let deaf = nodes.filter(\.isUp).randomElement(using: &r) {
            deafUntil[deaf.index] = now + .milliseconds(Int64.random(in: 500...2_000, using: &r))
            note("n\(deaf.index + 1) stops receiving multicasts until \(deafUntil[deaf.index]!)")
        }
        for n in nodes where !n.isUp && r.chance(0.2) {
            checker.record(n.index, .restarted)
            note("restart n\(n.index + 1)")
            start(n)
        }
    }

    /// The node's process dies: its core and everything unsent are gone; its host still answers (port unreachable).
    func crash(_ n: SimNode, _ why: String = "") {
        retire(n)
        n.machine = nil
        n.generation += 1
        checker.record(n.index, .crashed)
        stats.crashes += 1
        note("crash n\(n.index + 1)\(why)")
    }

    func heal() {
        healed = true
        blocked = []
        deafUntil = [:]
        clogged = [:]
        straggler = nil
        heldForRecovery = [:]
        for n in nodes where !n.isUp {
            if n.machine != nil { checker.record(n.index, .crashed) }
            checker.record(n.index, .restarted)
            start(n)
        }
        note("healed")
    }

    /// On the healed, whole cluster: a little loss (as any real network has) and bursts of spurious port-unreachable
    /// reports about live nodes must not change the membership. Token retransmission absorbs the loss; the reports
    /// are refuted by the ring itself.
    func checkStability() {
        let before = nodes.map { $0.machine?.ringID }
        var r = faultRandom
        defer { faultRandom = r }
        ambientLoss = 0.005
        var reports = 0
        for _ in 0..<4 where nodes.count > 1 {
            let to = Int.random(in: 0..<nodes.count, using: &r)
            let about = (to + Int.random(in: 1..<nodes.count, using: &r)) % nodes.count
            let at = now + .milliseconds(Int64.random(in: 0...1_000, using: &r))
            for k in 0..<10 {
                queue.push(.unreachable(to: to, about: about), at: at + .milliseconds(Int64(k * 3)))
                reports += 1
            }
        }
        note("stability check: light loss and \(reports) spurious unreachable reports")
        runUntil(now + .milliseconds(1_500))
        ambientLoss = 0
        checker.coverage[.stabilityChecks] += 1
        checker.coverage[.spuriousReportsInjected] += reports
        let after = nodes.map { $0.machine?.ringID }
        if before != after && !watchdogFired {
            checker.fail("stability: the membership changed on a healed cluster with light loss and spurious unreachable reports only; rings \(before.map { $0?.description ?? "-" }) then \(after.map { $0?.description ?? "-" })")
        }
    }

    /// A ring that looks whole right after the heal may still time out a token it lost during the faults: wait until
    /// one ring has held for a token and consensus timeout (bounded) before checking stability.
    func settle() {
        let s = options.totemSettings
        for _ in 0..<4 {
            let before = nodes.map { $0.machine?.ringID }
            runUntil(now + s.token + s.consensus)
            if isWhole() && nodes.map({ $0.machine?.ringID }) == before { return }
            let deadline = now + livenessBound
            while now < deadline && !isWhole() { runUntil(now + .milliseconds(50)) }
        }
    }

    func isWhole() -> Bool {
        let all = nodes.map(\.id)
        return nodes.allSatisfy { n in
            guard let m = n.machine else { return false }
            return m.state == .operational && m.members == all && m.ringID == nodes[0].machine?.ringID
        }
    }

    func stateSummary() -> String {
        nodes.map { n in
            guard let m = n.machine else { return "n\(n.index + 1):down" }
            return "n\(n.index + 1):\(m.state.rawValue)@\(m.ringID)[\(m.members.map(\.description).joined(separator: ","))]"
        }.joined(separator: " ")
    }


    /// Runs until `end` without faults (for scripted stack scenarios).
    public func advance(_ d: Duration) { runUntil(now + d) }

    /// Scripted fault: split the nodes into groups (indices), or heal with one group.
    public func setPartition(_ groups: [[Int]]) {
        blocked = []
        for a in nodes.indices {
            for b in nodes.indices where a != b {
                let ga = groups.firstIndex { $0.contains(a) }, gb = groups.firstIndex { $0.contains(b) }
                if ga != gb { blocked.insert(Link(from: a, to: b)) }
            }
        }
    }

    /// Stops random faults and workload, for scripted scenarios.
    public func quiet() {
        healed = true
        workloadOn = false
    }

    /// Each node's quorum view: quorate, and its members.
    public func quorumView(_ i: Int) -> (quorate: Bool, members: [NodeID], up: Bool)? {
        guard let q = nodes[i].quorum else { return nil }
        return (q.isQuorate, q.members, nodes[i].machine != nil)
    }
}
