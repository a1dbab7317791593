// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem.StateMachine {
    // MARK: - Recovery (Totem SRP §4.4)

    /// Installs the new ring from the commit token's second rotation and queues the old ring's messages that other
    /// survivors of the same old ring may be missing.
    mutating func enterRecovery(_ c: Totem.CommitToken, now: MonotonicInstant, out: inout Totem.Output) {
        let mine = myCommitEntry()
        let sameOldEntries = zip(c.members, c.entries).filter { $0.1.oldRing == mine.oldRing }
        let sameOld = sameOldEntries.map(\.0)
        let lowRingAru = sameOldEntries.map(\.1.aru).reduce(buffer.aru, seqMin)
        // What any survivor of the old ring already delivered in its regular configuration: every survivor delivers
        // up to there before the transitional configuration (Totem SRP §4.4; corosync's high_ring_delivered).
        let highRingDelivered = sameOldEntries.map(\.1.highDelivered).reduce(buffer.highDelivered, seqMax)
        recoveryQueue = []
        recoveryQueueHead = 0
        if hasRing && sameOld.count > 1 {
            var seq = lowRingAru &+ 1
            while seqLE(seq, buffer.highSeqReceived) {
                if let m = buffer[seq] {
                    let e = Totem.Encapsulated(ringID: m.ringID, seq: m.seq, sender: m.sender, safe: m.safe)
                    recoveryQueue.append(Totem.Mcast(ringID: c.ringID, seq: 0, sender: nodeID, safe: false, encapsulated: e, frame: m.frame))
                }
                seq &+= 1
            }
            counters.recoveryRebroadcasts += recoveryQueue.count
        }
        // A node without a ring recovers nothing: its old ring id is the commit entry's placeholder, never a real ring
        // (a restarted node's initial ring id can equal a ring it represented before it crashed).
        old = OldRing(ringID: mine.oldRing, previousRingID: ringID, members: hasRing ? members : [], buffer: buffer,
                      transitional: hasRing ? sameOld : [nodeID], highRingDelivered: highRingDelivered)
        unreachableSince = [:]
        lastTokenForwardAt = nil
        lastSentCommit = nil
        ringID = c.ringID
        members = c.members
        hasRing = true
        buffer = ReceiveBuffer(ringID: c.ringID, initialSequence: settings.initialSequence)
        state = .recovery
        pendingCommit = nil
        lastTokenSeq = nil
        lastSentToken = nil
        heldToken = nil
        previousTokenAru = nil
        aruAtLastToken = nil
        failToReceiveCount = 0
        myTransmitsLastRotation = 0
        myBacklogLast = 0
        seqAtLastHold = nil
        recoveryQuietSeq = nil
        sendQueue.restartPartial()
        deadlines.clearAll()
        deadlines.tokenLoss = now + settings.token
    }

    /// Recovery bookkeeping on each token: report whether this node still has old-ring messages to send, and leave
    /// recovery once nobody has and every member holds every new-ring message.
    mutating func advanceRecovery(_ t: inout Totem.Token, now: MonotonicInstant, out: inout Totem.Output) {
        var pending = Set(t.recoveryPending)
        if recoveryQueueHead < recoveryQueue.count { pending.insert(nodeID) } else { pending.remove(nodeID) }
        t.recoveryPending = pending.sorted()
        // Complete when, on two successive visits with no new message in between, nobody had anything left to send
        // and the aru equalled seq: every member processed the token in between, and would have lowered the aru if it
        // missed something.
        let quiet = t.recoveryPending.isEmpty && t.aru == t.seq && buffer.aru == t.seq
        if !t.recoveryComplete && quiet && recoveryQuietSeq == t.seq {
            t.recoveryComplete = true
        }
        recoveryQuietSeq = quiet ? t.seq : nil
        if t.recoveryComplete { enterOperational(now: now, out: &out) }
    }

    /// Delivers what is left of the old ring around the transitional configuration, then the regular one (EVS).
    mutating func enterOperational(now: MonotonicInstant, out: inout Totem.Output) {
        guard var o = old else { return }
        let transitional = o.transitional
        let oldMembers = o.members
        let transitionalChange = Totem.ConfigurationChange(
            kind: .transitional, ringID: ringID, members: transitional, joined: [],
            left: oldMembers.filter { !transitional.contains($0) })
        let mutations = settings.mutations
        if mutations.contains(.transitionalBeforeOldRegularMessages) {
            out.upcalls.append(.configurationChange(transitionalChange))
        }
        // The old ring's messages up to the highest any survivor delivered belong to the old regular configuration:
        // delivering them there keeps each message, safe ones too, in the same configuration on every survivor.
        // Recovery gave every survivor the same old-ring messages, so this point and what precedes it are the same
        // everywhere.
        var b = o.buffer
        let regularEnd = mutations.contains(.highDeliveredRuleIgnored) ? b.highDelivered : o.highRingDelivered
        while seqLT(b.highDelivered, regularEnd), let m = b[b.highDelivered &+ 1] {
            b.highDelivered &+= 1
            deliverOld(m, out: &out)
        }
        if mutations.contains(.highDeliveredRuleIgnored) {
            // What this implementation did before: agreed messages up to the first gap or safe message.
            while seqLT(b.highDelivered, b.aru), let m = b[b.highDelivered &+ 1], !m.safe {
                b.highDelivered &+= 1
                deliverOld(m, out: &out)
            }
        }
        if !mutations.contains(.transitionalBeforeOldRegularMessages) {
            out.upcalls.append(.configurationChange(transitionalChange))
        }
        // Everything else the survivors hold, in order, skipping messages that nobody received.
        var seq = b.highDelivered &+ 1
        while seqLE(seq, b.highSeqReceived) {
            if let m = b[seq] { deliverOld(m, out: &out) }
            b.highDelivered = seq
            seq &+= 1
        }
        reassembler.reset()
        o.buffer = b
        old = nil
        out.upcalls.append(.configurationChange(Totem.ConfigurationChange(
            kind: .regular, ringID: ringID, members: members, joined: members.filter { !transitional.contains($0) }, left: [])))
        counters.ringsFormed += 1
        state = .operational
        seqAtLastHold = nil
        if members.first == nodeID { deadlines.mergeDetect = now + settings.merge }
        deliver(safeUpTo: nil, out: &out)
    }

    private mutating func deliverOld(_ m: Totem.Mcast, out: inout Totem.Output) {
        for d in reassembler.receive(m) {
            out.upcalls.append(.message(d))
            counters.messagesDelivered += 1
        }
    }
}
