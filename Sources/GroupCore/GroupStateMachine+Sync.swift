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
        if sync != nil {
            // Only this side of the old ring ends the round here (the other side of a partition may hold other
            // lists): its views are provisional too.
            provisionalViews = true
            finishSync(out: &out)
        }
        provisionalViews = false
        // A newcomer whose request did not come round before the ring changed: what it held predates its knowledge,
        // and the members' lists for the new round already reflect it.
        if newcomer { held = [] }
        let stayed = transitional ?? Set(list)
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
        sync = Sync(key: RoundKey(ringSequence: seq, requester: NodeID(0), round: 0), transitional: stayed, deadline: now + syncWait,
                    totem: totemEvent())
        sendList(out: &out)
    }

    func sendList(out: inout ProcessGroup.Output) {
        guard let s = sync else { return }
        let mine = groups.keys.sorted().flatMap { g in
            groups[g]!.filter { $0.node == nodeID }.map { ProcessGroup.SyncEntry(group: g, pid: $0.pid) }
        }
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
        } else if sync == nil, !newcomer, let f = finished, f.key == key, !f.listed.contains(from), nodes.contains(from) {
            // The round closed without this list: its processes arrive now, at this point of the order, everywhere.
            finished!.listed.insert(from)
            knownAbsent.remove(from)
            announced(from, entries: entries, out: &out)
        }
    }

    /// The round is over: every node now holds exactly the union of the delivered lists. Processes it knew that no
    /// list names leave (node down if their node did not stay, process down if it did); the others join with
    /// reason node up. Then the totem configuration, then the messages held meanwhile.
    mutating func finishSync(out: inout ProcessGroup.Output) {
        guard let s = sync else { return }
        var union: [String: Set<ProcessGroup.Address>] = [:]
        for node in s.lists.keys.sorted() {
            for e in s.lists[node]! { union[e.group, default: []].insert(ProcessGroup.Address(node: node, pid: e.pid)) }
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
        knownAbsent = Set(nodes).subtracting(listed)
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
