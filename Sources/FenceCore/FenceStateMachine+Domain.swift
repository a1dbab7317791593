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
            memberIncarnation = [:]
            disallowed = []
            addedSinceSettle = []
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
        addedSinceSettle.formUnion(v.joined.filter { $0 != me })
        disallowed = disallowed.filter { v.members.contains($0) }
        memberIncarnation = memberIncarnation.filter { v.members.contains($0.key) }
        view = v
        noteMemberIncarnations()
        starts = [:]
        sentStart = false
        settled = false
        out.log(.debug, "domain view in ring \(v.ringSequence): members \(v.members.map(\.description).joined(separator: " ")), \(victims.count) victim(s)")
        sendStartIfReady(out: &out)
    }

    /// A member failed. The incarnation that failed is the one recorded while the member was in the domain, not the
    /// one quorumd reports now: the group reports a node down only when the sync after the ring change ends, and by
    /// then quorumd may count the node again, restarted (a new incarnation, which must not be taken for the failed
    /// one, nor be fenced for it).
    private mutating func addVictim(_ member: Fence.Member, incident: Fence.Incident, out: inout Fence.Output) {
        let node = member.node
        let incarnation = memberIncarnation[member] ?? quorumMembers[node]
        if let i = victims.firstIndex(where: { $0.node == node }) {
            // It failed again before its previous failure was settled: this failure is the one to settle now.
            victims[i].incident = incident
            victims[i].startup = false
            victims[i].announced = false
            if let inc = incarnation { victims[i].failedIncarnation = inc }
            victims[i].seenGone = quorumKnown && (incarnation == nil || incident.ringSequence <= quorumRing)
            return
        }
        guard victims.count < Fence.victimsMax else {
            out.log(.error, Fence.Text.victimsFull(settings.name(of: node)))
            return
        }
        victims.append(Fence.Victim(node: node, name: settings.name(of: node), incident: incident, startup: false,
                                    failedIncarnation: incarnation,
                                    seenGone: quorumKnown && (incarnation == nil || incident.ringSequence <= quorumRing)))
    }

    /// Records the quorum incarnation of members seen for the first time with their node in quorumd's view.
    private mutating func noteMemberIncarnations() {
        guard let v = view else { return }
        for m in v.members where memberIncarnation[m] == nil {
            if let inc = quorumMembers[m.node] { memberIncarnation[m] = inc }
        }
    }

    /// This member is out of the domain (its leave, or the group lost it): it forgets the domain's state.
    private mutating func leftDomain(out: inout Fence.Output) {
        phase = .outside
        view = nil
        memberIncarnation = [:]
        victims = []
        disallowed = []
        addedSinceSettle = []
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

    mutating func quorumChanged(_ q: Bool, ring: UInt64, _ members: [Fence.QuorumMember], out: inout Fence.Output) {
        quorate = q
        quorumKnown = true
        quorumRing = ring
        quorumMembers = [:]
        for m in members { quorumMembers[m.node] = m.incarnation }
        noteMemberIncarnations()
        for i in victims.indices where !victims[i].seenGone {
            if victims[i].incident.ringSequence <= ring {
                // quorumd has processed the configuration the failure happened in, so its quorum counts it (even if
                // the node is back by now).
                victims[i].seenGone = true
            } else if let inc = quorumMembers[victims[i].node] {
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
        guard phase == .member || phase == .leaving, let v = view, v.members.contains(from), !disallowed.contains(from) else {
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
            if flag && complete && addedSinceSettle.contains(from) {
                // fenced's merge rule: a member just added that already holds a domain state comes from another
                // partition; two states cannot be merged, so it is left out until it restarts.
                disallowed.insert(from)
                out.log(.warning, "fence daemon \(from) of node \(settings.name(of: from.node)) merged in from another partition with its own domain state; ignoring it until it restarts")
            } else {
                starts[from] = flag
            }
            settleIfReady(now: now, out: &out)
        case .victimDone(let victim, let incident, let how, let agent, let method, let wall):
            resolve(victim, incident: incident, how: how, by: from.node, agent: agent, method: method, wall: wall, out: &out)
        case .attempt(let victim, _, let method, let device, let agent, let outcome, let stderr, _):
            out.log(outcome.isSuccess ? .info : .error,
                    Fence.Text.attempt(settings.name(of: victim), method: method, device: device, agent: agent, outcome: outcome, stderr: stderr))
        case .complete(let members):
            // The settled master has no victims left after the view with these members. A member that was new
            // now holds the domain's state and drops its startup victims; any member drops victims the master does
            // not have (failures it saw in a partition whose state did not survive the merge). Only a complete
            // for the current view counts: a later failure must not be wiped by an older complete.
            guard settled, from.node == master, members == v.members.filter({ !disallowed.contains($0) }), members.contains(me) else { return }
            if !complete { complete = true }
            if !victims.isEmpty {
                out.log(.info, "the master has no victims: forgetting \(victims.map(\.name).joined(separator: ", "))")
                let forgotten = victims
                victims = []
                // A failure this member saw is settled by the domain's word: whoever waits for it (rgmanager, the
                // control daemons) is told, or it would wait for a fence that nobody will run. Startup victims were
                // this member's assumption only; nothing waits for them.
                for entry in forgotten where !entry.startup {
                    let r = Fence.Resolution(victim: entry.node, victimName: entry.name, incident: entry.incident, how: .none, by: from.node,
                                             agent: "", method: "", wallClockSeconds: wallClock(now))
                    history[entry.node] = Fence.HistoryEntry(node: entry.node, master: from.node, how: .none, wallClockSeconds: r.wallClockSeconds, agent: "")
                    out.log(.notice, Fence.Text.resolved(r))
                    out.effects.append(.victimResolved(r))
                }
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

    /// The cycle settles once every member has said `start`, except members left out: merged in with a state of
    /// their own, or on a node quorumd does not count (Disallowed, or gone): such a member is about to be removed
    /// and must not hold the domain up.
    mutating func settleIfReady(now: MonotonicInstant, out: inout Fence.Output) {
        guard phase == .member, !settled, sentStart, let v = view else { return }
        guard v.members.allSatisfy({ starts[$0] != nil || disallowed.contains($0) || quorumMembers[$0.node] == nil }) else { return }
        settle(now: now, out: &out)
    }

    /// Every `start` is in: all members choose the same master, the lowest node id among members that hold the
    /// domain's state, or the lowest of all when none does (the domain is being formed).
    private mutating func settle(now: MonotonicInstant, out: inout Fence.Output) {
        guard let v = view else { return }
        settled = true
        addedSinceSettle = []
        let holders = v.members.filter { starts[$0] == true }.map(\.node)
        master = holders.min() ?? v.members.filter { !disallowed.contains($0) }.map(\.node).min()
        let pending = victims.filter { !$0.announced }
        if master == me.node {
            if victims.isEmpty {
                out.multicast(.complete(members: v.members.filter { !disallowed.contains($0) }))
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
        // The resolution names the failure that was settled as the domain agreed on it (the master's incident),
        // so every member reports the same one even where this member knew the victim only from its own startup.
        let r = Fence.Resolution(victim: victim, victimName: entry.name, incident: incident, how: how, by: by, agent: agent,
                                 method: method, wallClockSeconds: wall)
        out.log(how == .override ? .warning : .notice, Fence.Text.resolved(r))
        out.effects.append(.victimResolved(r))
        if victims.isEmpty, settled, master == me.node, let v = view {
            delayUntil = nil
            delayForever = false
            out.multicast(.complete(members: v.members.filter { !disallowed.contains($0) }))
        }
    }
}
