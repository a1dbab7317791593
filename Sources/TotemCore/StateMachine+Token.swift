// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem.StateMachine {
    // MARK: - Messages of the ring

    mutating func receiveMcast(_ m: Totem.Mcast, from sender: NodeID, now: MonotonicInstant, out: inout Totem.Output) {
        if state == .commit && m.ringID == ringID {
            // The old ring's state was frozen when this node reported it in the commit token; what other survivors
            // miss of it travels in recovery, from the survivors that hold it (corosync drops these too).
            counters.lateOldRingMessages += 1
            return
        }
        guard m.ringID == ringID, hasRing || state == .recovery else {
            receiveForeignMcast(m, from: sender, now: now, out: &out)
            return
        }
        if buffer.outOfWindow(m.seq) {
            counters.outOfWindow += 1
            return
        }
        guard buffer.insert(m) else { return }
        counters.framesReceived += 1
        if let e = m.encapsulated, state == .recovery, var o = old, e.ringID == o.ringID {
            _ = o.buffer.insert(Totem.Mcast(ringID: e.ringID, seq: e.seq, sender: e.sender, safe: e.safe, encapsulated: nil, frame: m.frame))
            old = o
        }
        // Someone after us has the token: our last token was not lost.
        if let sent = lastSentToken, seqLT(sent.token.seq, m.seq) {
            deadlines.tokenRetransmit = nil
            deadlines.holderProbe = nil
        }
        if lastSentCommit != nil {
            // The new ring's first messages: the commit token made it round.
            lastSentCommit = nil
            deadlines.tokenRetransmit = nil
        }
        if state == .operational { deliver(safeUpTo: nil, out: &out) }
    }

    /// A multicast of another ring. In recovery, a plain one of the old ring arrived too late: the set of old-ring
    /// messages to recover was fixed when recovery began, so keeping it would let this node alone deliver it. In
    /// operational, one from a node outside this ring, or from a newer ring, means another ring is in reach: merge
    /// (corosync starts a gather for any foreign message; a stale one from a member of this ring is just late).
    private mutating func receiveForeignMcast(_ m: Totem.Mcast, from sender: NodeID, now: MonotonicInstant, out: inout Totem.Output) {
        switch state {
        case .recovery:
            if let o = old, m.ringID == o.ringID, m.encapsulated == nil {
                counters.lateOldRingMessages += 1
                counters.lateOldRingMessagesInRecovery += 1
                guard settings.mutations.contains(.oldRingMessageAcceptedInRecovery) else { return }
                var kept = o
                _ = kept.buffer.insert(m)
                old = kept
                return
            }
            counters.foreignRing += 1
        case .operational:
            counters.foreignRing += 1
            guard !members.contains(sender) || m.ringID.sequence > ringID.sequence else { return }
            counters.foreignRingMerges += 1
            enterGather(now: now, reason: .mergeDetect, out: &out)
            procSet.insert(sender)
            sendJoin(out: &out)
        case .gather:
            counters.foreignRing += 1
            guard !procSet.contains(sender), !failSet.contains(sender) else { return }
            counters.foreignRingMerges += 1
            procSet.insert(sender)
            restartConsensus(now: now)
            sendJoin(out: &out)
        case .commit, .left:
            counters.foreignRing += 1
        }
    }

    mutating func receiveToken(_ token: Totem.Token, from sender: NodeID, now: MonotonicInstant, out: inout Totem.Output) {
        guard state == .operational || state == .recovery, token.ringID == ringID else {
            counters.foreignRing += 1
            return
        }
        if let last = lastTokenSeq, !seqLT(last, token.tokenSeq) {
            counters.duplicateTokens += 1
            return
        }
        processToken(token, now: now, out: &out)
    }

    /// Handles the token: retransmit, broadcast, update aru and requests, deliver, pass it on (Totem SRP §3).
    /// `again`: the token this node held is used a second time in the same visit (`releaseHeldToken`); no member saw
    /// it in between, so it says nothing new about what every member holds and safe delivery does not advance.
    mutating func processToken(_ received: Totem.Token, again: Bool = false, now: MonotonicInstant, out: inout Totem.Output) {
        lastTokenSeq = received.tokenSeq
        deadlines.tokenRetransmit = nil
        deadlines.holderProbe = nil
        lastSentToken = nil
        lastSentCommit = nil
        if !unreachableSince.isEmpty, let forwarded = lastTokenForwardAt {
            // The token went round since this node last passed it on: every member, reported ones included, handled
            // it after any report made before that.
            let before = unreachableSince.count
            unreachableSince = unreachableSince.filter { $0.value > forwarded }
            counters.unreachableRefuted += before - unreachableSince.count
            scheduleUnreachableCheck(now: now)
        }
        deadlines.tokenLoss = now + settings.token
        var t = received
        let receivedAru = t.aru

        // Retransmit what others asked for and this node has.
        var transmitted: UInt32 = 0
        var stillMissing: [UInt32] = []
        for seq in t.retransmitRequests {
            if let m = buffer[seq] {
                send(.mcast(m), to: .all, out: &out)
                counters.messageRetransmits += 1
                transmitted += 1
            } else {
                stillMissing.append(seq)
            }
        }
        t.retransmitRequests = stillMissing

        // Broadcast new messages (recovery: old-ring messages) as flow control allows.
        let backlog = UInt32(state == .recovery ? recoveryQueue.count - recoveryQueueHead : sendBacklog)
        let share = ringShare(t, backlog: backlog)
        if state == .operational { visitShare = backlog > 0 ? max(1, share) : settings.maxMessages }
        let inFlight = seqDistance(t.aru, t.seq)
        var allowed = min(share, max(0, Totem.Settings.receiveWindowMax / 2 - inFlight))
        allowed = max(0, allowed - Int(transmitted))
        transmitted += broadcast(&t, allowed: allowed, out: &out)

        // Flow control bookkeeping (fcc counts what went out in the last rotation).
        t.fcc = t.fcc &+ transmitted &- min(myTransmitsLastRotation, t.fcc)
        myTransmitsLastRotation = transmitted
        let remaining = UInt32(state == .recovery ? recoveryQueue.count - recoveryQueueHead : sendBacklog)
        t.backlog = t.backlog &- min(myBacklogLast, t.backlog) &+ remaining
        myBacklogLast = remaining

        updateAru(&t)
        requestMissing(&t)
        checkFailToReceive(t, now: now, out: &out)
        guard state == .operational || state == .recovery else { return }

        if state == .recovery { advanceRecovery(&t, now: now, out: &out) }

        // Safe delivery: messages every member holds, by the aru of two successive visits. A held token used again
        // is not a second visit: its aru may be one the aru setter raised past a member that still misses messages,
        // which only the next rotation corrects.
        if again {
            if state == .operational { deliver(safeUpTo: nil, out: &out) }
        } else {
            let safe = seqMin(seqMin(receivedAru, previousTokenAru ?? receivedAru), buffer.aru)
            previousTokenAru = receivedAru
            if state == .operational { deliver(safeUpTo: safe, out: &out) }
            buffer.discard(upTo: safe)
        }

        forward(t, now: now, out: &out)
    }

    /// The send queue's backlog for the token: in frames, as what the window limits (see `SendQueue.backlogFrames`).
    private var sendBacklog: Int {
        sendQueue.backlogFrames(budget: settings.framePayloadBytesMax)
    }

    /// How many messages this node may broadcast on this visit by the ring's flow control: the window, the per-visit
    /// maximum and its fair share of the backlog. (Room in everyone's receive window limits it further.)
    private func ringShare(_ t: Totem.Token, backlog: UInt32) -> Int {
        var allowed = min(settings.maxMessages, max(0, settings.windowSize - Int(t.fcc) + Int(myTransmitsLastRotation)))
        let total = Int(t.backlog) - Int(min(myBacklogLast, t.backlog)) + Int(backlog)
        if total > settings.windowSize && backlog > 0 {
            allowed = min(allowed, max(1, settings.windowSize * Int(backlog) / total))
        }
        return allowed
    }

    /// Broadcasts up to `allowed` frames, assigning them the token's next sequence numbers.
    private mutating func broadcast(_ t: inout Totem.Token, allowed: Int, out: inout Totem.Output) -> UInt32 {
        var sent: UInt32 = 0
        while Int(sent) < allowed {
            var m: Totem.Mcast
            if state == .recovery {
                guard recoveryQueueHead < recoveryQueue.count else { break }
                m = recoveryQueue[recoveryQueueHead]
                recoveryQueue[recoveryQueueHead].frame = []
                recoveryQueueHead += 1
            } else {
                guard let (frame, safe) = sendQueue.nextFrame(budget: settings.framePayloadBytesMax) else { break }
                m = Totem.Mcast(ringID: ringID, seq: 0, sender: nodeID, safe: safe, encapsulated: nil, frame: frame)
            }
            t.seq &+= 1
            m.seq = t.seq
            m.ringID = ringID
            m.sender = nodeID
            _ = buffer.insert(m)
            send(.mcast(m), to: .all, out: &out)
            counters.framesSent += 1
            sent += 1
        }
        if recoveryQueueHead == recoveryQueue.count && !recoveryQueue.isEmpty {
            recoveryQueue = []
            recoveryQueueHead = 0
        }
        return sent
    }

    /// The paper's aru rule: lower the token's aru to ours if we miss something; raise it if we lowered it before.
    private func updateAru(_ t: inout Totem.Token) {
        let mine = buffer.aru
        if seqLT(mine, t.aru) || t.aruAddress == nodeID || t.aruAddress.rawValue == 0
            || settings.mutations.contains(.anyNodeRaisesAru) {
            t.aru = mine
            t.aruAddress = t.aru == t.seq ? NodeID(0) : nodeID
        }
    }

    /// Adds the messages this node misses to the token's retransmission requests.
    private func requestMissing(_ t: inout Totem.Token) {
        guard seqLT(buffer.aru, t.seq) else { return }
        let room = Totem.Settings.retransmitRequestsMax - t.retransmitRequests.count
        guard room > 0 else { return }
        var present = Set(t.retransmitRequests)
        for seq in buffer.missing(upTo: t.seq, limit: room) where !present.contains(seq) {
            t.retransmitRequests.append(seq)
            present.insert(seq)
        }
    }

    /// fail_recv_const: a node that keeps missing messages for that many visits while the ring moves on leaves.
    private mutating func checkFailToReceive(_ t: Totem.Token, now: MonotonicInstant, out: inout Totem.Output) {
        if seqLT(buffer.aru, t.seq), aruAtLastToken == buffer.aru {
            failToReceiveCount += 1
        } else {
            failToReceiveCount = 0
        }
        aruAtLastToken = buffer.aru
        if failToReceiveCount > settings.failRecvConst {
            counters.failedToReceive += 1
            failToReceiveCount = 0
            out.notices.append(.failedToReceive)
            enterGather(now: now, reason: .failedToReceive, out: &out)
        }
    }

    /// Passes the token to the next member, or holds it if the ring is idle and this node represents it.
    private mutating func forward(_ token: Totem.Token, now: MonotonicInstant, out: inout Totem.Output) {
        var t = token
        // Nothing missing, requested, backlogged or queued: the representative holds such a token once it has
        // seen it so twice in a row.
        let looksIdle = t.retransmitRequests.isEmpty && t.aru == t.seq && t.backlog == 0 && sendQueue.isEmpty
            && state == .operational
        let idle = looksIdle && seqAtLastHold == t.seq
        seqAtLastHold = t.seq
        let next = successor(in: members)
        if next == nodeID {
            // Alone on the ring: the token comes straight back, after the hold time when there is nothing to do.
            heldToken = t
            deadlines.tokenHold = idle || sendQueue.isEmpty ? now + settings.hold : now
            return
        }
        if idle && members.first == nodeID {
            heldToken = t
            deadlines.tokenHold = now + settings.hold
            return
        }
        t.tokenSeq &+= 1
        send(.token(t), to: .node(next), out: &out)
        lastSentToken = (t, next)
        lastTokenForwardAt = now
        deadlines.tokenRetransmit = now + settings.tokenRetransmit
        // The representative may hold this token: if it does not come back within a hold, ask again (see
        // `probeTokenHolder`). Under load the token never looks idle and nothing is armed.
        if looksIdle && next == members.first && settings.holderProbe < settings.tokenRetransmit
            && !settings.mutations.contains(.noHolderProbe) {
            deadlines.holderProbe = now + settings.holderProbe
        }
    }

    /// The idle token was passed to the representative, which holds it, and has not come back: send it again. A
    /// live representative drops the duplicate (its tokenSeq is not new); one whose process died while holding has
    /// its port answer ICMP port unreachable, and the unreachable path (`peerUnreachable`) fails it, instead of
    /// nothing reaching it until token_retransmit or the merge probe. Repeats every `holderProbe` until the token's
    /// retransmission is due.
    mutating func probeTokenHolder(now: MonotonicInstant, out: inout Totem.Output) {
        guard state == .operational, let sent = lastSentToken, let retransmitAt = deadlines.tokenRetransmit else { return }
        send(.token(sent.token), to: .node(sent.to), out: &out)
        counters.holderProbes += 1
        let again = now + settings.holderProbe
        if again < retransmitAt { deadlines.holderProbe = again }
    }

    /// Ends a hold (the hold time ran out, a member asked with token-hold-cancel, or this node has a message): the
    /// held token is used here first when this node has messages queued, then passed on.
    mutating func releaseHeldToken(now: MonotonicInstant, out: inout Totem.Output) {
        guard var t = heldToken else { return }
        heldToken = nil
        deadlines.tokenHold = nil
        let alone = successor(in: members) == nodeID
        if alone || !sendQueue.isEmpty {
            // The token "arrives" again: on a singleton ring, and when the holder has messages of its own to send,
            // which it may broadcast with the token it holds; passing it on first would make them wait a whole
            // rotation (the light-load latency of a representative that sends). Not a new visit for safe delivery
            // (`again`) unless this node is the whole ring.
            t.tokenSeq &+= 1
            processToken(t, again: !alone && !settings.mutations.contains(.heldTokenReuseIsAVisit), now: now, out: &out)
            return
        }
        t.tokenSeq &+= 1
        let next = successor(in: members)
        send(.token(t), to: .node(next), out: &out)
        lastSentToken = (t, next)
        lastTokenForwardAt = now
        deadlines.tokenRetransmit = now + settings.tokenRetransmit
    }

    mutating func retransmitToken(now: MonotonicInstant, out: inout Totem.Output) {
        guard let sent = lastSentToken, state == .operational || state == .recovery else { return }
        guard !settings.mutations.contains(.noTokenRetransmission) else { return }
        send(.token(sent.token), to: .node(sent.to), out: &out)
        counters.tokenRetransmits += 1
        deadlines.tokenRetransmit = now + settings.tokenRetransmit
    }

    // MARK: - Delivery

    /// Delivers messages in sequence order: agreed ones once everything before them is delivered, safe ones also
    /// only up to `safeUpTo` (nil: hold every safe message).
    mutating func deliver(safeUpTo: UInt32?, out: inout Totem.Output) {
        while seqLT(buffer.highDelivered, buffer.aru) {
            let next = buffer.highDelivered &+ 1
            guard let m = buffer[next] else { break }
            if m.safe && !settings.mutations.contains(.safeDeliveredAsAgreed) {
                guard let limit = safeUpTo, seqLE(next, limit) else { break }
            }
            buffer.highDelivered = next
            guard m.encapsulated == nil else { continue }
            for d in reassembler.receive(m) {
                out.upcalls.append(.message(d))
                counters.messagesDelivered += 1
            }
        }
        counters.reassemblyDrops = reassembler.dropped
    }

    // MARK: - Merge detection

    mutating func sendMergeDetect(now: MonotonicInstant, out: inout Totem.Output) {
        guard state == .operational, members.first == nodeID else { return }
        send(.mergeDetect(ringID), to: .all, out: &out)
        deadlines.mergeDetect = now + settings.merge
    }
}
