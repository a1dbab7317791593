// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension Totem {
    /// The Totem SRP state machine of one node. Feed it events with `handle(_:at:)`; carry out the `Output`.
    public struct StateMachine: Sendable {
        public let nodeID: NodeID
        public let clusterID: UInt16
        public let settings: Settings
        /// Nodes allowed to take part (the configured nodes); packets from others are dropped and counted.
        public let allowedNodes: Set<NodeID>?

        public internal(set) var state: State = .gather
        /// The current ring (in gather and commit: the last ring this node was operational on).
        public internal(set) var ringID: RingID
        /// Members of `ringID`, in ring (node id) order. Empty before the first ring.
        public internal(set) var members: [NodeID] = []
        /// The highest ring sequence seen or persisted; new rings are numbered above it.
        public internal(set) var highestRingSequence: UInt64
        public internal(set) var counters = Counters()

        var buffer: ReceiveBuffer
        var hasRing = false

        // Membership (gather / commit).
        var procSet: Set<NodeID> = []
        var failSet: Set<NodeID> = []
        var consensus: Set<NodeID> = []
        var heardSinceConsensusTimer: Set<NodeID> = []
        var pendingCommit: CommitToken?
        /// The commit token this node last passed on, sent again until the ring is seen to move (corosync retransmits
        /// it like the regular token).
        var lastSentCommit: (token: CommitToken, to: NodeID)?
        var consensusCheckAllowed = false
        var gatherStartedAt = MonotonicInstant.zero
        /// Set by a failure to receive (fail_recv_const): once consensus is reached, this node forms a ring of its own
        /// so the others can make progress without it, and merges back later (corosync's failed_to_recv).
        var formSingleton = false

        // Peers reported unreachable (ICMP port unreachable) and silent since: when each was first reported.
        var unreachableSince: [NodeID: MonotonicInstant] = [:]

        // Recovery.
        var old: OldRing?
        var recoveryQueue: [Mcast] = []
        var recoveryQueueHead = 0
        /// The token seq at this node's last recovery visit, if nothing was pending and everything received then.
        var recoveryQuietSeq: UInt32?

        // Token handling.
        var lastTokenSeq: UInt32?
        var lastSentToken: (token: Token, to: NodeID)?
        /// When this node last passed the regular token on: a token arriving afterwards went through every member since.
        var lastTokenForwardAt: MonotonicInstant?
        var heldToken: Token?
        var myTransmitsLastRotation: UInt32 = 0
        var myBacklogLast: UInt32 = 0
        var previousTokenAru: UInt32?
        var aruAtLastToken: UInt32?
        var failToReceiveCount = 0
        var seqAtLastHold: UInt32?

        // Application messages.
        var sendQueue = SendQueue()
        /// Frames the ring's flow control gave this node on its last visit with something to send (window, max_messages
        /// and fair share; max_messages when it had nothing): its share, which sizes the send queue (`sendQueueBytesLimit`).
        var visitShare: Int
        var reassembler: Reassembler
        var backPressured = false

        var deadlines = Deadlines()

        /// The state of the ring being recovered from, while in recovery.
        struct OldRing {
            /// The ring being recovered (a placeholder no real ring has, for a node that had none).
            var ringID: RingID
            /// This node's ring id before recovery, restored if recovery fails.
            var previousRingID: RingID
            var members: [NodeID]
            var buffer: ReceiveBuffer
            /// Old-ring members that are in the new ring (the transitional configuration).
            var transitional: [NodeID]
            /// The highest old-ring sequence any of them had delivered when the commit token went round.
            var highRingDelivered: UInt32
        }

        /// Creates a node that has not started. `persistedRingSequence` is the ring sequence stored by an earlier run
        /// (0 if none): every ring this node forms or joins will be numbered above it.
        public init(nodeID: NodeID, clusterID: UInt16, settings: Settings, persistedRingSequence: UInt64 = 0,
                    allowedNodes: Set<NodeID>? = nil) {
            precondition(nodeID.rawValue != 0, "node id 0 is reserved")
            self.nodeID = nodeID
            self.clusterID = clusterID
            self.settings = settings
            self.visitShare = settings.maxMessages
            self.reassembler = Reassembler(piecesJoinAnySender: settings.mutations.contains(.piecesJoinAnySender))
            self.allowedNodes = allowedNodes
            ringID = RingID(representative: nodeID, sequence: persistedRingSequence)
            highestRingSequence = persistedRingSequence
            buffer = ReceiveBuffer(ringID: ringID, initialSequence: settings.initialSequence)
        }

        /// The next instant the shell must deliver `.deadlineReached` at, if any.
        public var nextDeadline: MonotonicInstant? { deadlines.earliest }

        /// Application messages queued and not yet broadcast.
        public var queuedMessages: Int { sendQueue.count }
        /// Whether this node holds the ring's idle token now (for status and benchmarks: the member whose death only
        /// the holder probe notices early).
        public var holdsToken: Bool { heldToken != nil }
        /// Payload bytes of the application messages waiting to be broadcast.
        public var queuedBytes: Int { sendQueue.bytes }

        /// The single entry point: apply `event`, which happened at `now`, and return what to do.
        public mutating func handle(_ event: Event, at now: MonotonicInstant) -> Output {
            var out = Output()
            let stateBefore = state
            switch event {
            case .start:
                if state == .gather && procSet.isEmpty { enterGather(now: now, reason: .start, out: &out) }
            case .datagram(let bytes):
                receive(bytes, now: now, out: &out)
            case .deadlineReached:
                fireDeadlines(now: now, out: &out)
            case .submit(let channel, let payload, let guarantee):
                out.submitted = submit(channel: channel, payload: payload, guarantee: guarantee, now: now, out: &out)
            case .leave:
                leave(out: &out)
            case .peerUnreachable(let node):
                peerUnreachable(node, now: now, out: &out)
            }
            if state != stateBefore { out.stateChanged = state }
            updateBackPressure(&out)
            return out
        }

        // MARK: - Receiving

        private mutating func receive(_ bytes: [UInt8], now: MonotonicInstant, out: inout Output) {
            guard state != .left else { return }
            let packet: Packet
            do { packet = try Packet.decode(bytes) } catch {
                counters.decodeErrors += 1
                return
            }
            guard packet.clusterID == clusterID else {
                counters.otherCluster += 1
                return
            }
            guard packet.sender != nodeID else { return }
            if let allowed = allowedNodes, !allowed.contains(packet.sender) {
                counters.unknownSender += 1
                return
            }
            if !unreachableSince.isEmpty, unreachableSince.removeValue(forKey: packet.sender) != nil {
                // The peer talks: whatever closed port was reported about it, it is not dead.
                counters.unreachableRefuted += 1
                scheduleUnreachableCheck(now: now)
            }
            switch packet.message {
            case .mcast(let m): receiveMcast(m, from: packet.sender, now: now, out: &out)
            case .token(let t): receiveToken(t, from: packet.sender, now: now, out: &out)
            case .join(let j): receiveJoin(j, from: packet.sender, now: now, out: &out)
            case .commitToken(let c): receiveCommitToken(c, now: now, out: &out)
            case .mergeDetect(let r): receiveMergeDetect(r, from: packet.sender, now: now, out: &out)
            case .tokenHoldCancel(let r):
                if r == ringID, state == .operational, heldToken != nil { releaseHeldToken(now: now, out: &out) }
            case .probe:
                send(.probeReply, to: .node(packet.sender), out: &out)
            case .probeReply:
                break  // hearing from the peer was the point (above)
            }
        }

        // MARK: - Submitting

        private mutating func submit(channel: UInt16, payload: [UInt8], guarantee: Guarantee, now: MonotonicInstant,
                                     out: inout Output) -> SubmitResult {
            guard state != .left else { return .notRunning }
            guard payload.count <= Settings.messageBytesMax else { return .tooLarge }
            // An empty queue takes any message up to the largest (the byte limit is below it), so none waits forever.
            guard sendQueue.count < settings.sendQueueCountMax,
                  sendQueue.isEmpty || sendQueue.bytes + payload.count <= sendQueueBytesLimit else {
                // Refused even when the queue is not "full" (this payload would overflow the byte limit): pressure
                // must still be announced, or the release below would never come and the submitter waits forever.
                if !backPressured {
                    backPressured = true
                    out.backPressure = true
                }
                return .tryAgain
            }
            let wasIdle = sendQueue.isEmpty
            sendQueue.append(SendQueue.Item(channel: channel, payload: payload, guarantee: guarantee, offset: 0))
            if state == .operational {
                if heldToken != nil {
                    releaseHeldToken(now: now, out: &out)
                } else if wasIdle && members.count > 1 && members.first != nodeID {
                    // The representative may be holding an idle token: ask for it.
                    send(.tokenHoldCancel(ringID), to: .all, out: &out)
                }
            }
            return .accepted
        }

        /// The send queue's byte bound now: two of this node's visits at its last share of full frames, between
        /// `Settings.sendQueueBytesMin` and `sendQueueBytesMax` (two visits of max_messages). Alone on the ring a node
        /// keeps the whole bound; with five nodes sending its share is about window ÷ 5, and a queue of two full
        /// visits would hold about five rotations of waiting.
        var sendQueueBytesLimit: Int {
            let floor = min(Settings.sendQueueBytesMin, settings.sendQueueBytesMax)
            return min(settings.sendQueueBytesMax, max(floor, 2 * visitShare * settings.framePayloadBytesMax))
        }

        private mutating func updateBackPressure(_ out: inout Output) {
            let limit = sendQueueBytesLimit
            let full = sendQueue.count >= settings.sendQueueCountMax || sendQueue.bytes >= limit
            let drained = sendQueue.count <= settings.sendQueueCountMax / 2 && sendQueue.bytes <= limit / 2
            if !backPressured && full {
                backPressured = true
                out.backPressure = true
            } else if backPressured && drained {
                backPressured = false
                out.backPressure = false
            }
        }

        // MARK: - Sending

        mutating func send(_ message: Message, to destination: Destination, out: inout Output) {
            let bytes = Packet(clusterID: clusterID, sender: nodeID, message: message).encode()
            out.datagrams.append(Datagram(destination: destination, bytes: bytes))
        }

        /// The member after this node in ring order.
        func successor(in ring: [NodeID]) -> NodeID {
            guard let i = ring.firstIndex(of: nodeID) else { return nodeID }
            return ring[(i + 1) % ring.count]
        }

        // MARK: - Deadlines

        private mutating func fireDeadlines(now: MonotonicInstant, out: inout Output) {
            if let d = deadlines.tokenHold, d <= now {
                deadlines.tokenHold = nil
                releaseHeldToken(now: now, out: &out)
            }
            if let d = deadlines.holderProbe, d <= now {
                deadlines.holderProbe = nil
                probeTokenHolder(now: now, out: &out)
            }
            if let d = deadlines.tokenRetransmit, d <= now {
                deadlines.tokenRetransmit = nil
                if lastSentCommit != nil {
                    retransmitCommitToken(now: now, out: &out)
                } else {
                    retransmitToken(now: now, out: &out)
                }
            }
            if let d = deadlines.tokenLoss, d <= now {
                deadlines.tokenLoss = nil
                counters.tokenLosses += 1
                enterGather(now: now, reason: .tokenLoss, out: &out)
            }
            if let d = deadlines.commitLoss, d <= now {
                deadlines.commitLoss = nil
                enterGather(now: now, reason: .commitTokenLoss, out: &out)
            }
            if let d = deadlines.mergeDetect, d <= now {
                deadlines.mergeDetect = nil
                sendMergeDetect(now: now, out: &out)
            }
            if let d = deadlines.join, d <= now {
                deadlines.join = nil
                joinTimerExpired(now: now, out: &out)
            }
            if let d = deadlines.consensus, d <= now {
                deadlines.consensus = nil
                consensusTimerExpired(now: now, out: &out)
            }
            if let d = deadlines.unreachableCheck, d <= now {
                deadlines.unreachableCheck = nil
                unreachableCheckExpired(now: now, out: &out)
            }
            if let d = deadlines.unreachableProbe, d <= now {
                deadlines.unreachableProbe = nil
                probeUnreachable(now: now, out: &out)
            }
        }
    }
}

/// The named timers of the protocol, as deadlines; the shell sleeps until the earliest.
struct Deadlines: Sendable {
    var tokenLoss: MonotonicInstant?
    var tokenRetransmit: MonotonicInstant?
    var tokenHold: MonotonicInstant?
    /// When to send the idle token again to the representative holding it (see `Settings.holderProbe`).
    var holderProbe: MonotonicInstant?
    var join: MonotonicInstant?
    var consensus: MonotonicInstant?
    var mergeDetect: MonotonicInstant?
    var commitLoss: MonotonicInstant?
    /// When the earliest peer reported unreachable has been silent long enough to act on.
    var unreachableCheck: MonotonicInstant?
    /// When to probe the peers reported unreachable again.
    var unreachableProbe: MonotonicInstant?

    /// The earliest deadline set. Asked after every input the daemon feeds (every submitted message), so it builds no
    /// array.
    var earliest: MonotonicInstant? {
        var e = tokenLoss
        func consider(_ d: MonotonicInstant?) {
            if let d, e.map({ d < $0 }) ?? true { e = d }
        }
        consider(tokenRetransmit)
        consider(tokenHold)
        consider(holderProbe)
        consider(join)
        consider(consensus)
        consider(mergeDetect)
        consider(commitLoss)
        consider(unreachableCheck)
        consider(unreachableProbe)
        return e
    }

    mutating func clearAll() { self = Deadlines() }
}
