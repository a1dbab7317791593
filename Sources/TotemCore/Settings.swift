// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes

extension Totem {
    /// Timeouts and limits, with the defaults this implementation chose where `<totem>` is silent.
    ///
    /// Defaults follow openais/corosync (token 1000 ms, token_retransmits_before_loss_const 4, join 50 ms,
    /// consensus 1.2 × token, merge 200 ms, fail_recv_const 2500, seqno_unchanged_const 30, token_coefficient 650 ms),
    /// not cman's slow-network overrides (token 10000, consensus 4800): fast failure detection on a LAN is the point,
    /// and cman's values remain one attribute away. The flow-control window is larger than corosync's 50/17:
    /// window_size 120, max_messages 60, measured at MTU 1500 against 50/17 (docs/benchmarks.md, "Window and packing"):
    /// less CPU per message and more CPG throughput with one sender, where a token visit of 17 frames was the limit.
    public struct Settings: Sendable, Hashable {
        /// Token loss timeout (already scaled with `tokenCoefficient`).
        public var token: Duration
        public var tokenRetransmit: Duration
        public var hold: Duration
        public var tokenRetransmitsBeforeLoss: Int
        public var join: Duration
        public var consensus: Duration
        public var merge: Duration
        public var downcheck: Duration
        public var failRecvConst: Int
        public var seqnoUnchangedConst: Int
        public var windowSize: Int
        public var maxMessages: Int
        /// Bytes of application data one frame (one datagram) may carry.
        public var framePayloadBytesMax: Int
        /// The sequence number a new ring starts at (the first message is this + 1). Tests start near the wrap.
        public var initialSequence: UInt32
        /// How many unsent application messages and bytes a node queues before refusing more (back-pressure); the
        /// bytes by default two visits' worth of full frames.
        public var sendQueueCountMax: Int
        public var sendQueueBytesMax: Int
        /// How long a peer reported unreachable (ICMP port unreachable) must stay silent before it is acted on: first
        /// to start a membership round, then again within that round to fail it. A peer heard from meanwhile, or
        /// whose ring keeps passing the token, is not touched.
        public var unreachableConfirm: Duration
        /// Deliberate weakenings for mutation tests; empty in production.
        public var mutations: Mutations = []

        /// The largest application message (corosync's is 1 MiB as well).
        public static let messageBytesMax = 1 << 20
        /// The most members a ring may have.
        public static let membersMax = 384
        /// The most retransmission requests a token carries.
        public static let retransmitRequestsMax = 256
        /// The furthest a frame may be ahead of the receiver's aru and still be stored.
        public static let receiveWindowMax = 4096
        /// Bytes of a datagram outside the frame payload: the mcast header (at most 64) and the transport's
        /// authentication header and tag.
        public static let datagramOverheadBytes = 160
        /// The least `sendQueueBytesMax` derived from the window (a small max_messages still queues batches).
        public static let sendQueueBytesMin = 64 << 10
        /// Frames in flight per token rotation, and sent per token visit, when `<totem>` does not say (corosync: 50, 17).
        public static let defaultWindowSize = 120
        public static let defaultMaxMessages = 60
        /// The longest a representative holds an idle token when `<totem hold>` is silent. openais's rule (0.8 ×
        /// token_retransmit − 20 ms) gives 294 ms with 3 nodes and 542 ms with 5 once token_coefficient scales the
        /// token; an idle ring then sends nothing to a crashed node for that long (only the merge probe every 200 ms
        /// reaches it), and its ICMP port-unreachable answer, which starts the failure, waits as long. Held at most
        /// 50 ms, a SIGKILLed node is noticed within ~50 ms instead of ~100–200; the price is 20 idle rotations a second.
        public static let idleHoldMax: Duration = .milliseconds(50)

        /// How long after passing a token that looks idle to the representative (which holds such a token) this node
        /// waits before sending it again, a duplicate a live representative drops: the longest hold plus a margin for
        /// the token to come back round. A representative killed while holding gets nothing else until
        /// token_retransmit; the probe's ICMP port-unreachable answer starts its failure instead. Probes repeat at
        /// this period until token_retransmit.
        public var holderProbe: Duration { hold + max(hold / 5, .milliseconds(10)) }

        public init(token: Duration = .milliseconds(1000), tokenRetransmitsBeforeLoss: Int = 4,
                    join: Duration = .milliseconds(50), consensus: Duration? = nil, merge: Duration = .milliseconds(200),
                    downcheck: Duration = .milliseconds(1000), failRecvConst: Int = 2500, seqnoUnchangedConst: Int = 30,
                    windowSize: Int = Self.defaultWindowSize, maxMessages: Int = Self.defaultMaxMessages, netmtu: Int = 1500, initialSequence: UInt32 = 0,
                    tokenRetransmit: Duration? = nil, hold: Duration? = nil) {
            self.token = token
            self.tokenRetransmitsBeforeLoss = max(tokenRetransmitsBeforeLoss, 1)
            // openais: token_retransmit = token / (retransmits + 0.2); hold = 0.8 × token_retransmit − 20 ms.
            let rt = tokenRetransmit ?? .nanoseconds(Int64(Double(token.nanosecondsClamped) / (Double(self.tokenRetransmitsBeforeLoss) + 0.2)))
            self.tokenRetransmit = rt
            let h = hold ?? .nanoseconds(max(Int64(Double(rt.nanosecondsClamped) * 0.8) - 20_000_000, 1_000_000))
            self.hold = min(h, rt)
            self.join = join
            self.consensus = consensus ?? .nanoseconds(Int64(Double(token.nanosecondsClamped) * 1.2))
            self.merge = merge
            self.downcheck = downcheck
            self.failRecvConst = max(failRecvConst, 1)
            self.seqnoUnchangedConst = max(seqnoUnchangedConst, 1)
            self.windowSize = max(windowSize, 1)
            self.maxMessages = max(min(maxMessages, windowSize), 1)
            self.framePayloadBytesMax = max(netmtu - Self.datagramOverheadBytes, 256)
            self.initialSequence = initialSequence
            // Two visits' worth of frames (max_messages full frames, 157 KiB at MTU 1500 and max_messages 60), at
            // least 64 KiB: back-pressure is released at half, so one full visit is still queued when the token comes.
            // More only queues: a saturated ring's queueing delay is this node's whole pipeline (client, groupd,
            // totemd, this queue) over its share of the ring, and with all five nodes of a ring sending 1 KiB
            // messages 256 KiB here and 128 KiB in each stage before it were 100 ms at the median (issue 14). Sized
            // from the frame, a jumbo-frame ring still fills its visits. A larger message is still taken alone.
            // 512 messages: small ones share frames (about 20 of 64 B to a frame), and 256 of them (run R7) left a
            // visit's frames mostly empty: 64 B from one of 3 nodes 87k msgs/s against 101k with 512.
            self.sendQueueCountMax = 512
            self.sendQueueBytesMax = max(2 * self.maxMessages * self.framePayloadBytesMax, Self.sendQueueBytesMin)
            self.unreachableConfirm = max(self.join, .milliseconds(20))
        }

        /// Settings from `<totem>`, scaled for `nodeCount` nodes: with three or more nodes the token timeout grows by
        /// `token_coefficient` per node beyond two (corosync's rule), and consensus follows it unless set. The idle
        /// token is held at most `idleHoldMax` unless `<totem hold>` says otherwise.
        public init(config t: TotemConfig, nodeCount: Int) {
            let base = t.token ?? .milliseconds(1000)
            let coefficient = t.tokenCoefficient ?? .milliseconds(650)
            let token = nodeCount > 2 ? base + coefficient * (nodeCount - 2) : base
            self.init(token: token, tokenRetransmitsBeforeLoss: t.tokenRetransmitsBeforeLossConst.map(Int.init) ?? 4,
                      join: t.join ?? .milliseconds(50), consensus: t.consensus, merge: t.merge ?? .milliseconds(200),
                      downcheck: t.downcheck ?? .milliseconds(1000), failRecvConst: t.failRecvConst.map(Int.init) ?? 2500,
                      seqnoUnchangedConst: t.seqnoUnchangedConst.map(Int.init) ?? 30,
                      windowSize: t.windowSize.map(Int.init) ?? Self.defaultWindowSize, maxMessages: t.maxMessages.map(Int.init) ?? Self.defaultMaxMessages,
                      netmtu: t.netmtu.map(Int.init) ?? 1500, tokenRetransmit: t.tokenRetransmit, hold: t.hold)
            if t.hold == nil { hold = min(hold, Self.idleHoldMax) }
        }

        /// Problems with these settings that would stop the protocol from working.
        public func validate() -> [String] {
            var problems: [String] = []
            if tokenRetransmit >= token { problems.append("token_retransmit must be shorter than token") }
            if consensus < token { problems.append("consensus should be at least token (1.2 × token is the default)") }
            if join >= consensus { problems.append("join must be shorter than consensus") }
            if !mutations.isEmpty { problems.append("mutations are for tests only: \(mutations)") }
            return problems
        }
    }
}
