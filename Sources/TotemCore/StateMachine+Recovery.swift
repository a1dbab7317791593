// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem.StateMachine {
    // MARK: - Recovery (Totem SRP §4.4)

    /// Installs the new ring from the commit token's second rotation and queues the old ring's messages that other
    /// survivors of the same old ring may be missing.
    mutating func enterRecovery(_ c: Totem.CommitToken, now: MonotonicInstant, out: inout Totem.Output) {
        let mine = myCommitEntry()
        let sameOld = zip(c.members, c.entries).filter { $0.1.oldRing == mine.oldRing }.map(\.0)
        let lowRingAru = zip(c.members, c.entries).filter { $0.1.oldRing == mine.oldRing }.map(\.1.aru).reduce(buffer.aru, seqMin)
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
        }
        old = OldRing(ringID: ringID, members: hasRing ? members : [], buffer: buffer,
                      transitional: hasRing ? sameOld : [nodeID])
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
        // The old ring's agreed messages that follow without a gap belong to the old regular configuration.
        var b = o.buffer
        while seqLT(b.highDelivered, b.aru), let m = b[b.highDelivered &+ 1], !m.safe {
            b.highDelivered &+= 1
            deliverOld(m, out: &out)
        }
        let transitional = o.transitional
        let oldMembers = o.members
        out.upcalls.append(.configurationChange(Totem.ConfigurationChange(
            kind: .transitional, ringID: ringID, members: transitional, joined: [],
            left: oldMembers.filter { !transitional.contains($0) })))
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
        for d in reassembler.receive(frame: m.frame, from: m.sender, safe: m.safe) {
            out.upcalls.append(.message(d))
            counters.messagesDelivered += 1
        }
    }
}
