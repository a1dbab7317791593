// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import GroupCore

extension Fence.StateMachine {
    // MARK: - Views

    /// A new view of the domain's group. Failed members become victims; a node that has just joined assumes every
    /// configured node that is not a cluster member may hold shared data (startup fencing), until a master that
    /// holds the domain's state says otherwise (`complete`). Then a new cycle starts: quorum, starts, master.
    mutating func viewChanged(_ v: Fence.DomainView, now: MonotonicInstant, out: inout Fence.Output) {
        guard v.members.contains(me) else {
            if phase == .member || phase == .leaving || (phase == .joining && v.left.contains { $0.member == me }) {
                leftDomain(out: &out)
            }
            return
        }
        let weJoined = phase != .member && phase != .leaving
        if weJoined {
            phase = .member
            complete = false
            victims = []
            delayUntil = nil
            delayForever = false
        }
        for d in v.left where d.reason != .clean && d.member.node != me.node {
            addVictim(d.member, incident: Fence.Incident(ringSequence: v.ringSequence, pid: d.member.pid), out: &out)
            if d.reason == .processDown && !v.nodes.contains(d.member.node) {
                // fenced does the same: a node whose fence daemon died cannot be trusted to stay off shared data.
                out.log(.warning, Fence.Text.kicked(settings.name(of: d.member.node)))
                out.effects.append(.removeFromCluster(d.member.node, reason: "its fence daemon left the fence domain without leaving cleanly"))
            }
        }
        if weJoined && !settings.cleanStart {
            for plan in settings.nodes where plan.id != me.node && quorumMembers[plan.id] == nil && !v.nodes.contains(plan.id)
                && !victims.contains(where: { $0.node == plan.id }) {
                victims.append(Fence.Victim(node: plan.id, name: plan.name, incident: Fence.Incident(ringSequence: v.ringSequence, pid: 0),
                                            startup: true, failedIncarnation: nil, seenGone: true))
            }
        }
        if weJoined || !v.joined.isEmpty { joinedSinceSettle = true }
        view = v
        starts = [:]
        sentStart = false
        settled = false
        out.log(.debug, "domain view in ring \(v.ringSequence): members \(v.members.map(\.description).joined(separator: " ")), \(victims.count) victim(s)")
        sendStartIfReady(out: &out)
    }

    private mutating func addVictim(_ member: Fence.Member, incident: Fence.Incident, out: inout Fence.Output) {
        let node = member.node
        let incarnation = quorumMembers[node]
        if let i = victims.firstIndex(where: { $0.node == node }) {
            // It failed again before its previous failure was settled: this failure is the one to settle now.
            victims[i].incident = incident
            victims[i].startup = false
            victims[i].announced = false
            if let inc = incarnation { victims[i].failedIncarnation = inc }
            victims[i].seenGone = quorumKnown && incarnation == nil
            return
        }
        guard victims.count < Fence.victimsMax else {
            out.log(.error, Fence.Text.victimsFull(settings.name(of: node)))
            return
        }
        victims.append(Fence.Victim(node: node, name: settings.name(of: node), incident: incident, startup: false,
                                    failedIncarnation: incarnation, seenGone: quorumKnown && incarnation == nil))
    }

    /// This member is out of the domain (its leave, or the group lost it): it forgets the domain's state.
    private mutating func leftDomain(out: inout Fence.Output) {
        phase = .outside
        view = nil
        victims = []
        starts = [:]
        settled = false
        sentStart = false
        master = nil
        complete = false
        delayUntil = nil
        delayForever = false
        if running != nil { running!.abandoned = true }
        out.log(.info, "left the fence domain")
    }

    // MARK: - Quorum

    mutating func quorumChanged(_ q: Bool, _ members: [Fence.QuorumMember], out: inout Fence.Output) {
        quorate = q
        quorumKnown = true
        quorumMembers = [:]
        for m in members { quorumMembers[m.node] = m.incarnation }
        for i in victims.indices where !victims[i].seenGone {
            if let inc = quorumMembers[victims[i].node] {
                if let failed = victims[i].failedIncarnation, failed != inc { victims[i].seenGone = true }
            } else {
                victims[i].seenGone = true
            }
        }
        sendStartIfReady(out: &out)
    }

    /// fenced's wait for conditions: quorate, and quorumd has seen every failed node go (so its quorum already
    /// counts the failures). Only then does this member say `start`.
    private var conditionsMet: Bool {
        (quorate || settings.mutations.contains(.ignoreQuorum)) && victims.allSatisfy { $0.startup || $0.seenGone }
    }

    private mutating func sendStartIfReady(out: inout Fence.Output) {
        guard phase == .member, let v = view, !sentStart, conditionsMet else { return }
        sentStart = true
        let entries = history.keys.sorted().prefix(Fence.historyMax).map { history[$0]! }
        out.multicast(.start(members: v.members, complete: complete, history: Array(entries)))
    }

    // MARK: - Messages

    mutating func delivered(from: Fence.Member, bytes: [UInt8], now: MonotonicInstant, out: inout Fence.Output) {
        guard phase == .member || phase == .leaving, let v = view, v.members.contains(from) else {
            droppedMessages += 1
            return
        }
        guard let m = try? Fence.Message.decode(bytes) else { // garbage from a member: counted and dropped
            droppedMessages += 1
            out.log(.debug, "dropped an undecodable fence domain message from \(from)")
            return
        }
        switch m {
        case .start(let members, let flag, let entries):
            for e in entries where (history[e.node]?.wallClockSeconds ?? 0) < e.wallClockSeconds || history[e.node] == nil {
                history[e.node] = e
            }
            // A start sent for an earlier view with other members is stale; one for a view with the same members
            // is taken as it is: every member takes it the same way, so all still choose the same master.
            guard members == v.members else { return }
            starts[from] = flag
            if !settled && v.members.allSatisfy({ starts[$0] != nil }) { settle(now: now, out: &out) }
        case .victimDone(let victim, let incident, let how, let agent, let method, let wall):
            resolve(victim, incident: incident, how: how, by: from.node, agent: agent, method: method, wall: wall, out: &out)
        case .attempt(let victim, _, let method, let device, let agent, let outcome, let stderr, _):
            out.log(outcome.isSuccess ? .info : .error,
                    Fence.Text.attempt(settings.name(of: victim), method: method, device: device, agent: agent, outcome: outcome, stderr: stderr))
        case .complete(let members):
            if !complete && members.contains(me) {
                complete = true
                victims.removeAll { $0.startup }
                out.log(.debug, "the domain's state is complete here; startup victims cleared")
            }
        case .acknowledge(let victim, let wall):
            if let entry = victims.first(where: { $0.node == victim }) {
                resolve(victim, incident: entry.incident, how: .override, by: from.node, agent: "", method: "", wall: wall, out: &out)
            } else {
                out.log(.info, "fence_ack_manual for node \(settings.name(of: victim)) ignored: it is not a victim")
            }
        case .external(let victim, let agent, let wall):
            if let entry = victims.first(where: { $0.node == victim }) {
                resolve(victim, incident: entry.incident, how: .external, by: from.node, agent: agent, method: "", wall: wall, out: &out)
            } else {
                history[victim] = Fence.HistoryEntry(node: victim, master: from.node, how: .external, wallClockSeconds: wall, agent: agent)
            }
        }
    }

    /// Every `start` is in: all members choose the same master, the lowest node id among members that hold the
    /// domain's state, or the lowest of all when none does (the domain is being formed).
    private mutating func settle(now: MonotonicInstant, out: inout Fence.Output) {
        guard let v = view else { return }
        settled = true
        let holders = v.members.filter { starts[$0] == true }.map(\.node)
        master = holders.min() ?? v.nodes.min()
        let pending = victims.filter { !$0.announced }
        if master == me.node {
            if victims.isEmpty {
                out.multicast(.complete(members: v.members))
            } else if running == nil {
                let reason = joinedSinceSettle ? "post_join_delay" : "post_fail_delay"
                let chosen = joinedSinceSettle ? settings.postJoinDelay : settings.postFailDelay
                delayForever = chosen == nil
                delay = chosen ?? .zero
                delayUntil = (chosen.map { $0 > .zero } ?? false) ? now + delay : nil
                if delayForever || delayUntil != nil { out.log(.info, Fence.Text.delayed(pending.count, by: chosen, reason: reason)) }
            }
        } else if let m = master {
            for victim in pending { out.log(.info, Fence.Text.deferred(victim.name, to: settings.name(of: m))) }
        }
        joinedSinceSettle = false
    }

    /// Settles a victim on delivery of its resolution, on every member alike. A resolution names its incident;
    /// one for an older failure of the same node is ignored, except that a startup victim (whose failure this node
    /// never saw) takes any, and an operator's or fence_node's word applies to whatever failure is open.
    private mutating func resolve(_ victim: NodeID, incident: Fence.Incident, how: Fence.How, by: NodeID, agent: String,
                                  method: String, wall: UInt64, out: inout Fence.Output) {
        guard let i = victims.firstIndex(where: { $0.node == victim && ($0.incident == incident || $0.startup) }) else {
            out.log(.debug, "resolution of node \(settings.name(of: victim)) (\(incident)) matches no open failure")
            return
        }
        let entry = victims.remove(at: i)
        if running?.target == victim { running!.abandoned = true }
        history[victim] = Fence.HistoryEntry(node: victim, master: by, how: how, wallClockSeconds: wall, agent: agent)
        let r = Fence.Resolution(victim: victim, victimName: entry.name, incident: entry.incident, how: how, by: by, agent: agent,
                                 method: method, wallClockSeconds: wall)
        out.log(how == .override ? .warning : .notice, Fence.Text.resolved(r))
        out.effects.append(.victimResolved(r))
        if victims.isEmpty, settled, master == me.node, let v = view {
            delayUntil = nil
            delayForever = false
            out.multicast(.complete(members: v.members))
        }
    }
}
