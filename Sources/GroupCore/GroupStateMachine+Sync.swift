// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Configuration changes and the sync that follows them.
///
/// After every regular configuration each groupd multicasts its local processes (`syncList`); that list also
/// announces that the node runs groupd. A round is over once every ring member has sent its list or is named by some
/// delivered list as running no groupd; a member that waited `syncWait` without that closes the round through the
/// total order (`syncClose`), and a list that comes later is applied as an announcement of its own. So a node without
/// groupd, or whose groupd stopped, holds nobody up, and every member ends the round at the same point of the stream
/// with the same lists: the union of the lists is every group's synchronised view everywhere.
extension ProcessGroup.StateMachine {
    mutating func configuration(_ kind: ConfigurationKind, _ seq: UInt64, _ rep: NodeID, _ list: [NodeID],
                                now: MonotonicInstant, out: inout ProcessGroup.Output) {
        if kind == .transitional {
            // Until the regular configuration, totem delivers what is left of the old ring, skipping messages nobody
            // here received: views installed now depend on this side's gaps, so they are provisional.
            transitional = Set(list)
            transitionalViews(ringSequence: seq, representative: rep, out: &out)
            provisionalViews = true
            return
        }
        if nodes.isEmpty && transitional == nil && list.count > 1 {
            // Started while the ring was running: the others synchronised without us. Ask them again.
            nodes = list
            ringSequence = seq
            ringRepresentative = rep
            newcomer = true
            out.effects.append(.multicast(ProcessGroup.Message.syncRequest(ringSequence: seq, round: incarnation).encode()))
            return
        }
        // A round still open from the previous ring closes here, with the lists it has, at the same point of the
        // order for everyone who was in that ring; then the new round starts. Nothing changes in any group before the
        // new round ends: processes of nodes that did not come along leave then (node down), in the same view
        // everywhere, rather than at the configuration change, where the two sides of a merge would each install a
        // view of their own.
        let stayed = transitional ?? Set(list)
        if sync != nil {
            // Only this side of the old ring ends the round here (the other side of a partition may hold other
            // lists): its views are provisional too. A node that came along into the new ring but whose list had
            // not come round yet (still queued when the ring broke) has lost nothing: its processes stay, as this
            // node's own do; the new round's lists settle them.
            provisionalViews = true
            finishSync(keeping: stayed, out: &out)
        }
        provisionalViews = false
        departed = []
        // A newcomer whose request did not come round before the ring changed: what it held predates its knowledge,
        // and the members' lists for the new round already reflect it.
        if newcomer { held = [] }
        transitional = nil
        nodes = list
        ringSequence = seq
        ringRepresentative = rep
        newcomer = false
        knownAbsent = knownAbsent.intersection(stayed).intersection(Set(list))
        guard list.contains(nodeID) else {
            for h in handles.keys.sorted() where handles[h]!.totem { out.effects.append(.event(h, totemEvent())) }
            return
        }
        // The members come from different rings: they agree on the groups only once this round ends with every list.
        sync = Sync(key: RoundKey(ringSequence: seq, requester: NodeID(0), round: 0), transitional: stayed, deadline: now + syncWait,
                    totem: totemEvent(), agreedAtStart: false)
        sendList(out: &out)
    }

    /// The transitional configuration dropped nodes: their processes leave every group (node down) before any of
    /// the transitional configuration's messages is delivered (EVS: the membership change comes first). Those
    /// messages skip what this side never received, so they must not land in the view in which nodes on the other
    /// side delivered messages this side missed.
    ///
    /// Every node of this transitional configuration delivered the same messages of the old ring up to here
    /// (virtual synchrony), so all of them install this view with the same members; it is named after the new
    /// ring (the transitional configuration's ring id, which a fence domain compares with quorumd's) and the lowest
    /// node of the transitional configuration, which tells it apart from the transitional views of other parts of
    /// the old ring that merge into the same ring, above every message position (`seq << 16 | fragment` < 2^48).
    /// While a sync round is open or this groupd is new nothing is delivered before the round ends (and then in
    /// provisional views), so nothing changes here.
    mutating func transitionalViews(ringSequence seq: UInt64, representative rep: NodeID, out: inout ProcessGroup.Output) {
        guard sync == nil, !newcomer, let stayed = transitional, let lowest = stayed.min(),
              !mutations.contains(.transitionalDeliveriesInOldView) else { return }
        let lost = Set(nodes).subtracting(stayed)
        guard !lost.isEmpty else { return }
        departed = lost
        for g in groups.keys.sorted() {
            let gone = groups[g]!.filter { lost.contains($0.node) }
            guard !gone.isEmpty else { continue }
            groups[g]!.removeAll { lost.contains($0.node) }
            var change = ProcessGroup.ConfigurationChange(group: g, members: groups[g]!, joined: [], left: gone.map { ($0, .nodeDown) })
            change.ringSequence = seq
            change.ringRepresentative = rep
            change.viewNumber = ProcessGroup.transitionalViewBase | UInt64(lowest.rawValue)
            for h in inView[g] ?? [] { out.effects.append(.event(h, .configurationChange(change))) }
            if groups[g]!.isEmpty { groups[g] = nil }
        }
    }

    /// A groupd asks for a new round (it started while the ring was up). Everybody sends its list again for this
    /// round; a newcomer takes every list, the others only what is new. A round still open is closed first, with the
    /// lists it has (at this point of the order for all of its members, so alike everywhere), and what it held
    /// applied: the lists of the new round then reflect every message before the request, which is what the
    /// newcomer, who drops what it held, needs. Ring members whose list has not come yet keep their processes (nobody
    /// left the ring): the new round's lists settle them.
    ///
    /// The cut round keeps those processes from this node's own state. If that state was not agreed when the round
    /// started (a ring's first round, which no round with every list has settled yet), the members still hold
    /// different groups (one saw a node's processes leave in a ring of its own, another kept them, or applied a held
    /// join from it), so the views installed now, and the held messages' views after them, are provisional, and the
    /// new round inherits the doubt until a round ends with every list or through the order (issue 9's group seeds
    /// 7354 and 7952: two nodes installed the same numbered view with and without a restarted node's old process).
    mutating func syncRequested(ringSequence seq: UInt64, round: UInt32, from: NodeID, out: inout ProcessGroup.Output) {
        guard seq == ringSequence else { return }
        let wasNewcomer = newcomer
        var agreed = !wasNewcomer
        if newcomer {
            held = []
        } else if let s = sync {
            agreed = s.agreedAtStart || mutations.contains(.cutRoundViewsNumbered)
            // A transitional configuration's views are provisional already, and stay so after this.
            let wasProvisional = provisionalViews
            provisionalViews = wasProvisional || !agreed
            finishSync(keeping: Set(nodes), out: &out)
            provisionalViews = wasProvisional
        }
        sync = Sync(key: RoundKey(ringSequence: seq, requester: from, round: round),
                    transitional: wasNewcomer ? [] : Set(nodes), deadline: now + syncWait,
                    totem: wasNewcomer ? totemEvent() : nil, agreedAtStart: agreed)
        newcomer = false
        sendList(out: &out)
    }

    func sendList(out: inout ProcessGroup.Output) {
        guard let s = sync else { return }
        // This node's processes in every group: those the groups list, and every local process whose join was
        // delivered and that has not asked to leave (corosync's joinlist is the local processes), so one that an
        // earlier round dropped for want of this node's list comes back with this one.
        var own = Set(groups.keys.flatMap { g in groups[g]!.filter { $0.node == nodeID }.map { ProcessGroup.SyncEntry(group: g, pid: $0.pid) } })
        for p in handles.values {
            for g in p.groups.subtracting(p.joining).subtracting(p.leaving) { own.insert(ProcessGroup.SyncEntry(group: g, pid: p.pid)) }
        }
        let mine = own.sorted { ($0.group, $0.pid) < ($1.group, $1.pid) }
        let absent = knownAbsent.intersection(s.transitional).sorted()
        out.effects.append(.multicast(ProcessGroup.Message.syncList(ringSequence: s.key.ringSequence, requester: s.key.requester, round: s.key.round,
                                                       entries: mine, absent: absent).encode()))
    }

    mutating func syncListDelivered(_ key: RoundKey, from: NodeID, entries: [ProcessGroup.SyncEntry], absent: [NodeID],
                                    out: inout ProcessGroup.Output) {
        if var s = sync, s.key == key {
            s.lists[from] = entries
            s.absent.formUnion(absent.filter { $0 != s.key.requester })
            sync = s
            if Set(nodes).isSubset(of: Set(s.lists.keys).union(s.absent)) { finishSync(out: &out) }
        } else if sync == nil, !newcomer, let f = finished, f.key == key, !f.listed.contains(from), nodes.contains(from), !departed.contains(from) {
            // The round closed without this list: its processes arrive now, at this point of the order, everywhere.
            finished!.listed.insert(from)
            knownAbsent.remove(from)
            announced(from, entries: entries, out: &out)
        }
    }

    /// The round is over: every node now holds exactly the union of the delivered lists. Processes it knew that no
    /// list names leave (node down if their node did not stay, process down if it did); the others join with
    /// reason node up. Then the totem configuration, then the messages held meanwhile.
    ///
    /// A round cut short by a configuration change passes `keeping`: the nodes that came along into the new ring.
    /// Those whose list is missing (not a stopped groupd, just not delivered yet) keep the processes they had, rather
    /// than being shown leaving with a reason that is not true; the next round's lists settle them.
    mutating func finishSync(keeping stayed: Set<NodeID>? = nil, out: inout ProcessGroup.Output) {
        guard let s = sync else { return }
        var union: [String: Set<ProcessGroup.Address>] = [:]
        for node in s.lists.keys.sorted() {
            for e in s.lists[node]! { union[e.group, default: []].insert(ProcessGroup.Address(node: node, pid: e.pid)) }
        }
        let unlisted = (stayed ?? []).subtracting(s.lists.keys).subtracting(s.absent)
        for (g, members) in groups {
            for a in members where unlisted.contains(a.node) { union[g, default: []].insert(a) }
        }
        // The synchronised views are named by the position of the message that ended the round, alike everywhere.
        sync = nil
        for g in Set(groups.keys).union(union.keys).sorted() {
            let before = Set(groups[g] ?? [])
            let after = union[g] ?? []
            let left = before.subtracting(after).sorted()
            let joined = after.subtracting(before).sorted()
            groups[g] = after.isEmpty ? nil : after.sorted()
            guard !left.isEmpty || !joined.isEmpty else { continue }
            if !joined.isEmpty { restoreLocal(joined, group: g) }
            var change = ProcessGroup.ConfigurationChange(group: g, members: groups[g] ?? [],
                                                          joined: joined.map { ($0, .nodeUp) },
                                                          left: left.map { ($0, s.transitional.contains($0.node) ? .processDown : .nodeDown) })
            change.ringSequence = ringSequence
            change.ringRepresentative = ringRepresentative
            // A group that empties here exists on this side only: its last view is provisional (0).
            change.viewNumber = after.isEmpty || provisionalViews ? 0 : position
            for h in inView[g] ?? [] { out.effects.append(.event(h, .configurationChange(change))) }
            // Local processes no list named are out of the view they were just shown leaving.
            for a in left where a.node == nodeID { dropLocal(a, group: g) }
        }
        let listed = Set(s.lists.keys)
        if stayed == nil {
            knownAbsent = Set(nodes).subtracting(listed)
        } else {
            // Cut short, the round proves nobody silent: only what it was told (stopped, or named absent) counts.
            knownAbsent = knownAbsent.union(s.absent).subtracting(listed).subtracting([nodeID])
        }
        finished = (s.key, listed)
        synchronised = true
        newcomer = false
        if let t = s.totem {
            for h in handles.keys.sorted() where handles[h]!.totem { out.effects.append(.event(h, t)) }
        }
        flushHeld(out: &out)
    }

    /// A late list: its processes join with reason node up.
    private mutating func announced(_ node: NodeID, entries: [ProcessGroup.SyncEntry], out: inout ProcessGroup.Output) {
        var added: [String: [ProcessGroup.Address]] = [:]
        for e in entries {
            let a = ProcessGroup.Address(node: node, pid: e.pid)
            if !(groups[e.group]?.contains(a) ?? false) { added[e.group, default: []].append(a) }
        }
        for g in added.keys.sorted() {
            groups[g, default: []].append(contentsOf: added[g]!)
            groups[g]!.sort()
            restoreLocal(added[g]!, group: g)
            notify(g, joined: added[g]!.sorted().map { ($0, .nodeUp) }, left: [], out: &out)
        }
    }

    /// A groupd stopped: its processes leave with reason process down; syncs stop waiting for it. During a round its
    /// list is dropped, so its processes leave when the round ends, with every other change of the round.
    mutating func daemonStopped(_ node: NodeID, out: inout ProcessGroup.Output) {
        knownAbsent.insert(node)
        if var s = sync {
            s.lists[node] = nil
            s.absent.insert(node)
            sync = s
            if Set(nodes).isSubset(of: Set(s.lists.keys).union(s.absent)) { finishSync(out: &out) }
            return
        }
        for g in groups.keys.sorted() {
            let gone = groups[g]!.filter { $0.node == node }
            guard !gone.isEmpty else { continue }
            groups[g]!.removeAll { $0.node == node }
            notify(g, joined: [], left: gone.map { ($0, .processDown) }, out: &out)
            if groups[g]!.isEmpty { groups[g] = nil }
        }
    }

    /// This node's own processes named again (after a list of its own came late): back into their views.
    private mutating func restoreLocal(_ addresses: [ProcessGroup.Address], group g: String) {
        for a in addresses where a.node == nodeID {
            if let h = localHandle(pid: a.pid, group: g), !(inView[g]?.contains(h) ?? false) { inView[g, default: []].append(h) }
        }
    }

    private mutating func dropLocal(_ a: ProcessGroup.Address, group g: String) {
        inView[g]?.removeAll { handles[$0]?.pid == a.pid }
    }

    mutating func flushHeld(out: inout ProcessGroup.Output) {
        let pending = held
        held = []
        for (from, m, p) in pending { deliver(m, from: from, at: p, out: &out) }
    }
}
