// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem.StateMachine {
    // MARK: - Gather (Totem SRP §4.2)

    /// Enters gather: announce the members this node believes alive and start the consensus clock.
    mutating func enterGather(now: MonotonicInstant, reason: Totem.GatherReason, out: inout Totem.Output) {
        out.notices.append(.gatherEntered(reason: reason, from: state))
        if state == .recovery, let o = old {
            // A failure during recovery: the ring to recover is still the old one (§4.4). Its buffer kept
            // everything recovered so far.
            ringID = o.previousRingID
            members = o.members
            buffer = o.buffer
            hasRing = !o.members.isEmpty
            old = nil
            recoveryQueue = []
            recoveryQueueHead = 0
        }
        let from = state
        state = .gather
        gatherStartedAt = now
        pendingCommit = nil
        lastSentCommit = nil
        heldToken = nil
        lastSentToken = nil
        lastTokenSeq = nil
        deadlines.clearAll()
        switch from {
        case .operational, .recovery, .left:
            procSet = Set(members).union([nodeID])
            failSet = []
        case .commit, .gather:
            // A lost commit token or a restarted gather: keep what was learnt.
            procSet.formUnion(members)
            procSet.insert(nodeID)
        }
        unreachableSince = unreachableSince.filter { procSet.contains($0.key) }
        if reason == .failedToReceive { formSingleton = true }
        consensus = [nodeID]
        consensusCheckAllowed = reason != .start
        sendJoin(out: &out)
        deadlines.join = now + settings.join
        armConsensusTimer(now)
        scheduleUnreachableCheck(now: now)
    }

    mutating func sendJoin(out: inout Totem.Output) {
        let join = Totem.Join(procSet: procSet.sorted(), failSet: failSet.sorted(), ringSeq: max(highestRingSequence, ringID.sequence))
        send(.join(join), to: .all, out: &out)
    }

    mutating func receiveJoin(_ j: Totem.Join, from sender: NodeID, now: MonotonicInstant, out: inout Totem.Output) {
        guard state != .left else { return }
        highestRingSequence = max(highestRingSequence, j.ringSeq)
        // A join that predates the ring this node is on (or last was on) is stale: it was sent during the gather that
        // formed that ring, or by a node that has since learnt better.
        if hasRing && j.ringSeq < ringID.sequence {
            counters.staleJoins += 1
            return
        }
        // While forming a ring, joins from nodes already declared failed must not disturb it; once the ring is
        // formed the fail set is empty again and such a node is merged back through the usual gather.
        if (state == .gather || state == .commit) && failSet.contains(sender) { return }
        switch state {
        case .left:
            return
        case .operational:
            // A join that lists this node as failed comes from a gather that has already decided to go on without
            // it. Joining that gather would only fail the sender in return (the rule below) and split this ring the
            // same way, over and over while the two sides take turns; ignored, the sender forms its ring, and merge
            // detection then joins the two rings with fresh fail sets (corosync ignores such joins too).
            if j.failSet.contains(nodeID) {
                counters.joinsListingUsFailedIgnored += 1
                return
            }
            enterGather(now: now, reason: .join, out: &out)
        case .commit:
            // Only a member of the ring being formed can abort it (corosync does the same); a node outside it is
            // merged once the ring is up, since it keeps sending joins. A late copy of the join this commit agreed on
            // changes nothing.
            guard pendingCommit?.members.contains(sender) ?? false else {
                counters.joinsIgnoredInCommitOrRecovery += 1
                return
            }
            if Set(j.procSet) == procSet && Set(j.failSet) == failSet { return }
            enterGather(now: now, reason: .join, out: &out)
        case .recovery:
            guard members.contains(sender) else {
                counters.joinsIgnoredInCommitOrRecovery += 1
                return
            }
            enterGather(now: now, reason: .join, out: &out)
        case .gather:
            break
        }
        processJoin(j, from: sender, now: now, out: &out)
    }

    /// The gather rules (Totem SRP §4.2, as corosync applies them): proc sets always merge; a sender that lists
    /// this node as failed is failed in turn (and nothing else of its fail set is taken); otherwise its fail set is
    /// taken only if it was a member of this node's ring, so failures do not spread between partitions.
    private mutating func processJoin(_ j: Totem.Join, from sender: NodeID, now: MonotonicInstant, out: inout Totem.Output) {
        heardSinceConsensusTimer.insert(sender)
        if failSet.contains(sender) { return }
        let theirProc = Set(j.procSet), theirFail = Set(j.failSet)
        if theirProc == procSet && theirFail == failSet {
            consensus.insert(sender)
        } else if !(theirProc.isSubset(of: procSet) && theirFail.isSubset(of: failSet)) {
            var newProc = procSet.union(theirProc)
            newProc.insert(sender)
            var newFail = failSet
            if theirFail.contains(nodeID) {
                newFail.insert(sender)
            } else if theirFail.contains(sender) {
                newFail.insert(sender)  // a node announcing its own departure
            } else if members.contains(sender) {
                newFail.formUnion(theirFail.subtracting([nodeID]))
            } else {
                newFail.formUnion(theirFail.subtracting([nodeID]).subtracting(members))
            }
            if newProc != procSet || newFail != failSet {
                procSet = newProc
                failSet = newFail
                restartConsensus(now: now)
                heardSinceConsensusTimer.insert(sender)
                sendJoin(out: &out)
                if theirProc == procSet && theirFail == failSet { consensus.insert(sender) }
            }
        }
        consensusCheckAllowed = true
        checkConsensus(now: now, out: &out)
    }

    mutating func joinTimerExpired(now: MonotonicInstant, out: inout Totem.Output) {
        guard state == .gather else { return }
        sendJoin(out: &out)
        deadlines.join = now + settings.join
        consensusCheckAllowed = true
        checkConsensus(now: now, out: &out)
    }

    /// Consensus timeout (§4.2): nodes not heard from since the timer was armed lose their agreement, and nodes
    /// that have not agreed are declared failed. Agreement from nodes still talking is kept, so a commit token on
    /// its way is not refused.
    mutating func consensusTimerExpired(now: MonotonicInstant, out: inout Totem.Output) {
        guard state == .gather else { return }
        counters.consensusTimeouts += 1
        consensus.formIntersection(heardSinceConsensusTimer.union([nodeID]))
        let alive = procSet.subtracting(failSet)
        if !alive.isSubset(of: consensus) {
            let failed = alive.subtracting(consensus)
            out.notices.append(.consensusTimeout(failed: failed.sorted()))
            failSet.formUnion(failed)
            consensus = [nodeID]
        }
        sendJoin(out: &out)
        deadlines.join = now + settings.join
        armConsensusTimer(now)
        consensusCheckAllowed = true
        checkConsensus(now: now, out: &out)
    }

    /// The sets of this gather changed: agreement starts again, and so does the consensus clock (corosync re-enters
    /// gather on every change). A timeout counted from before the change would fail live nodes that simply had no
    /// time to send the new sets back: a node that learns of a failure just before its own timer fires would fail
    /// every member that had not answered yet and split the ring in two. Within one gather the proc and fail sets
    /// only grow, so the clock restarts at most once per node added to either set before it runs out.
    mutating func restartConsensus(now: MonotonicInstant) {
        consensus = [nodeID]
        armConsensusTimer(now)
    }

    mutating func armConsensusTimer(_ now: MonotonicInstant) {
        deadlines.consensus = now + settings.consensus
        heardSinceConsensusTimer = []
    }

    /// When every node believed alive has sent the same proc and fail sets as ours, the representative (lowest id)
    /// creates the commit token.
    private mutating func checkConsensus(now: MonotonicInstant, out: inout Totem.Output) {
        guard state == .gather, consensusCheckAllowed else { return }
        let alive = procSet.subtracting(failSet)
        guard alive.contains(nodeID), alive.isSubset(of: consensus) else { return }
        if formSingleton {
            // This node failed to receive: it goes on alone so the others are not held back by it (corosync's
            // failed_to_recv), and merge detection brings it back.
            formSingleton = false
            counters.singletonAfterFailedToReceive += 1
            procSet = [nodeID]
            failSet = []
            consensus = [nodeID]
            checkConsensus(now: now, out: &out)
            return
        }
        let newMembers = alive.sorted()
        guard newMembers.first == nodeID else { return }
        let sequence = max(highestRingSequence, ringID.sequence) + 4
        highestRingSequence = sequence
        out.ringSequenceToPersist = sequence
        var token = Totem.CommitToken(ringID: Totem.RingID(representative: nodeID, sequence: sequence), rotation: 1,
                                      members: newMembers, entries: Array(repeating: .empty, count: newMembers.count))
        token.entries[0] = myCommitEntry()
        state = .commit
        pendingCommit = token
        deadlines.clearAll()
        deadlines.commitLoss = now + settings.token
        scheduleUnreachableCheck(now: now)
        passCommitToken(token, now: now, out: &out)
    }

    func myCommitEntry() -> Totem.CommitEntry {
        if hasRing {
            return Totem.CommitEntry(oldRing: ringID, aru: buffer.aru, highDelivered: buffer.highDelivered,
                                     highReceived: buffer.highSeqReceived, filled: true)
        }
        // No ring yet: a ring id no real ring can have (representative 0) and no other node reports, so nobody
        // recovers with us. (A restarted node's own ring id may equal a ring it represented before it crashed.)
        return Totem.CommitEntry(oldRing: Totem.RingID(representative: NodeID(0), sequence: UInt64(nodeID.rawValue)), aru: 0,
                                 highDelivered: 0, highReceived: 0, filled: true)
    }

    // MARK: - Commit (§4.3)

    mutating func receiveCommitToken(_ c: Totem.CommitToken, now: MonotonicInstant, out: inout Totem.Output) {
        guard let myIndex = c.members.firstIndex(of: nodeID), c.members.count == c.entries.count else { return }
        switch (c.rotation, state) {
        case (1, .gather):
            let alive = procSet.subtracting(failSet)
            // The representative reached consensus on the same sets (corosync accepts on set equality alone). Never
            // take part in a ring numbered at or below one this node has already used or created.
            guard c.members == alive.sorted(), c.ringID.sequence > highestRingSequence, !formSingleton else { return }
            highestRingSequence = max(highestRingSequence, c.ringID.sequence)
            out.ringSequenceToPersist = c.ringID.sequence
            var token = c
            token.entries[myIndex] = myCommitEntry()
            state = .commit
            pendingCommit = token
            deadlines.clearAll()
            deadlines.commitLoss = now + settings.token
            scheduleUnreachableCheck(now: now)
            passCommitToken(token, now: now, out: &out)
        case (1, .commit):
            // Back at the representative with every entry filled: second rotation.
            guard c.members.first == nodeID, c.ringID == pendingCommit?.ringID, c.entries.allSatisfy(\.filled) else { return }
            var token = c
            token.rotation = 2
            enterRecovery(token, now: now, out: &out)
            passCommitToken(token, now: now, out: &out)
        case (2, .commit):
            guard c.ringID == pendingCommit?.ringID, c.entries.allSatisfy(\.filled) else { return }
            enterRecovery(c, now: now, out: &out)
            passCommitToken(c, now: now, out: &out)
        case (2, .recovery):
            // The second rotation is complete: the representative starts the ring's first regular token.
            guard c.members.first == nodeID, c.ringID == ringID, lastTokenSeq == nil else { return }
            let s = settings.initialSequence
            let token = Totem.Token(ringID: ringID, tokenSeq: 0, seq: s, aru: s, aruAddress: NodeID(0), fcc: 0, backlog: 0,
                                    recoveryComplete: false, recoveryPending: [], retransmitRequests: [])
            processToken(token, now: now, out: &out)
        default:
            return
        }
    }

    /// Sends the commit token to the next member, and again every token-retransmit interval until the ring is seen
    /// to move on; on a ring of one, processes it here.
    private mutating func passCommitToken(_ c: Totem.CommitToken, now: MonotonicInstant, out: inout Totem.Output) {
        let next = successor(in: c.members)
        if next == nodeID {
            receiveCommitToken(c, now: now, out: &out)
        } else {
            send(.commitToken(c), to: .node(next), out: &out)
            lastSentCommit = (c, next)
            deadlines.tokenRetransmit = now + settings.tokenRetransmit
        }
    }

    /// Sends the last commit token again (its successor may have lost it).
    mutating func retransmitCommitToken(now: MonotonicInstant, out: inout Totem.Output) {
        guard let sent = lastSentCommit, state == .commit || (state == .recovery && lastTokenSeq == nil) else { return }
        guard !settings.mutations.contains(.noTokenRetransmission) else { return }
        send(.commitToken(sent.token), to: .node(sent.to), out: &out)
        counters.commitTokenRetransmits += 1
        deadlines.tokenRetransmit = now + settings.tokenRetransmit
    }

    // MARK: - Merges, departures and unreachable peers

    mutating func receiveMergeDetect(_ r: Totem.RingID, from sender: NodeID, now: MonotonicInstant, out: inout Totem.Output) {
        // Learn the other ring's sequence, so our joins are not stale to its members.
        highestRingSequence = max(highestRingSequence, r.sequence)
        switch state {
        case .operational:
            guard !members.contains(sender) else { return }
            enterGather(now: now, reason: .mergeDetect, out: &out)
            procSet.insert(sender)
            sendJoin(out: &out)
        case .gather:
            guard !procSet.contains(sender), !failSet.contains(sender) else { return }
            procSet.insert(sender)
            restartConsensus(now: now)
            sendJoin(out: &out)
        default:
            return
        }
    }

    /// Announces departure (a join listing this node as failed, sent twice against loss) and stops.
    mutating func leave(out: inout Totem.Output) {
        guard state != .left else { return }
        let proc = procSet.union(members).union([nodeID]).sorted()
        let join = Totem.Join(procSet: proc, failSet: failSet.union([nodeID]).sorted(), ringSeq: max(highestRingSequence, ringID.sequence))
        send(.join(join), to: .all, out: &out)
        send(.join(join), to: .all, out: &out)
        state = .left
        deadlines.clearAll()
        heldToken = nil
    }

    /// The transport saw `node`'s port closed (ICMP port unreachable). Such a report is only a hint: a firewall that
    /// rejects, a firewall reload or a forged ICMP packet look the same as a dead process. So this node probes the
    /// peer (five times per `unreachableConfirm`; a live peer answers each at once) and acts only while it stays
    /// silent: after `unreachableConfirm` with nothing from it, this node starts a membership round; if the peer
    /// answers neither probes nor joins for another `unreachableConfirm` in that round, it is failed. A peer heard from
    /// meanwhile is cleared, so one that answers is never failed this way, and reports about a live node change
    /// nothing.
    mutating func peerUnreachable(_ node: NodeID, now: MonotonicInstant, out: inout Totem.Output) {
        guard node != nodeID, state != .left else { return }
        counters.unreachableReports += 1
        guard isWatchedForUnreachable(node) else { return }
        if settings.mutations.contains(.unreachableFailsAtOnce) {
            if state != .gather { enterGather(now: now, reason: .unreachable, out: &out) }
            failPeers([node], now: now, out: &out)
            return
        }
        guard unreachableSince[node] == nil else { return }
        unreachableSince[node] = now
        counters.unreachableProbes += 1
        send(.probe, to: .node(node), out: &out)
        if deadlines.unreachableProbe == nil { deadlines.unreachableProbe = now + probeInterval }
        scheduleUnreachableCheck(now: now)
    }

    private var probeInterval: Duration { settings.unreachableConfirm / 5 }

    /// Probes every peer still suspected of being unreachable.
    mutating func probeUnreachable(now: MonotonicInstant, out: inout Totem.Output) {
        for node in unreachableSince.keys.sorted() {
            counters.unreachableProbes += 1
            send(.probe, to: .node(node), out: &out)
        }
        if !unreachableSince.isEmpty { deadlines.unreachableProbe = now + probeInterval }
    }

    /// When the earliest reported peer will have been silent long enough: `unreachableConfirm` after its report, and
    /// in gather also after the round started (so it had the chance to answer this round's joins).
    mutating func scheduleUnreachableCheck(now: MonotonicInstant) {
        let confirm = settings.unreachableConfirm
        if !unreachableSince.isEmpty {
            unreachableSince = unreachableSince.filter { isWatchedForUnreachable($0.key) }
        }
        let due = unreachableSince.values.map { since in
            (state == .gather ? max(since, gatherStartedAt) : since) + confirm
        }
        deadlines.unreachableCheck = due.min()
        if unreachableSince.isEmpty {
            deadlines.unreachableProbe = nil
        } else if deadlines.unreachableProbe == nil {
            deadlines.unreachableProbe = now + probeInterval
        }
    }

    mutating func unreachableCheckExpired(now: MonotonicInstant, out: inout Totem.Output) {
        let confirm = settings.unreachableConfirm
        switch state {
        case .operational, .recovery, .commit:
            if unreachableSince.values.contains(where: { $0 + confirm <= now }) {
                enterGather(now: now, reason: .unreachable, out: &out)
            }
        case .gather:
            let silent = unreachableSince.filter { max($0.value, gatherStartedAt) + confirm <= now }.map(\.key).sorted()
            if !silent.isEmpty {
                counters.unreachableFailures += silent.count
                out.notices.append(.unreachableFailed(silent))
                failPeers(silent, now: now, out: &out)
            }
        case .left:
            return
        }
        scheduleUnreachableCheck(now: now)
    }

    /// Whether a report about `node` matters now: it is in the ring (or the ring being formed, or this round).
    private func isWatchedForUnreachable(_ node: NodeID) -> Bool {
        switch state {
        case .operational, .recovery: return members.contains(node)
        case .commit: return pendingCommit?.members.contains(node) ?? false
        case .gather: return procSet.contains(node) && !failSet.contains(node)
        case .left: return false
        }
    }

    /// Puts `nodes` in the fail set of this gather and tells the others.
    private mutating func failPeers(_ nodes: [NodeID], now: MonotonicInstant, out: inout Totem.Output) {
        for n in nodes { unreachableSince[n] = nil }
        failSet.formUnion(nodes)
        restartConsensus(now: now)
        sendJoin(out: &out)
        consensusCheckAllowed = true
        checkConsensus(now: now, out: &out)
    }
}
