// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem {
    /// The single input of the state machine.
    public enum Event: Sendable {
        /// Join the cluster: enter gather and announce this node. The first event a node gets.
        case start
        /// A datagram arrived (already authenticated and decrypted by the transport).
        case datagram([UInt8])
        /// `nextDeadline` has passed.
        case deadlineReached
        /// The upper layer wants `payload` multicast on `channel`. Answered in `Output.submitted`.
        case submit(channel: UInt16, payload: [UInt8], guarantee: Guarantee)
        /// Leave the ring on purpose: announce it so the others reform at once, then stop.
        case leave
        /// The transport learned that `node`'s totem port is closed (ICMP port unreachable): its process is gone.
        case peerUnreachable(NodeID)
    }

    /// Where a datagram goes.
    public enum Destination: Hashable, Sendable {
        /// Every other node: the multicast group, or each configured node with unicast UDP.
        case all
        /// One node (the token goes to the next member this way).
        case node(NodeID)
    }

    public struct Datagram: Hashable, Sendable {
        public var destination: Destination
        public var bytes: [UInt8]
    }

    /// A configuration change of extended virtual synchrony: the stack's shared `ClusterTypes.ConfigurationChange`,
    /// which totemd hands to its clients and the upper cores consume as it is.
    public typealias ConfigurationChange = ClusterTypes.ConfigurationChange

    /// One item of the ordered stream the upper layer receives.
    public enum Upcall: Hashable, Sendable {
        case configurationChange(ConfigurationChange)
        case message(Delivery)
    }

    /// The answer to `Event.submit`.
    public enum SubmitResult: Hashable, Sendable {
        case accepted
        /// The send queue is full: try again once `Output.backPressure` turns false.
        case tryAgain
        case tooLarge
        /// The node has left or not started.
        case notRunning
    }

    /// The protocol states.
    public enum State: String, Hashable, Sendable {
        case gather, commit, recovery, operational, left
    }

    /// Why a membership round (gather) began.
    public enum GatherReason: String, Hashable, Sendable {
        case start = "starting"
        case tokenLoss = "the token was lost"
        case commitTokenLoss = "the commit token was lost"
        case join = "a join arrived"
        case mergeDetect = "another ring is in reach"
        case failedToReceive = "this node failed to receive messages"
        case unreachable = "a peer reported unreachable stayed silent"
    }

    /// Protocol events an operator should see in the log; `OperatorLog` words them.
    public enum Notice: Hashable, Sendable {
        case gatherEntered(reason: GatherReason, from: State)
        /// Consensus timed out: these nodes did not agree in time and are declared failed.
        case consensusTimeout(failed: [NodeID])
        /// These nodes stayed silent after port-unreachable reports and are declared failed.
        case unreachableFailed([NodeID])
        /// This node keeps missing messages (fail_recv_const) and goes on alone for now.
        case failedToReceive
    }

    /// What the shell must do, IN THIS ORDER:
    /// 1. `ringSequenceToPersist`: store it durably BEFORE sending any datagram of this output;
    /// 2. `datagrams`: send them;
    /// 3. `upcalls`: hand them to the upper layer in order (configuration changes and deliveries interleaved as EVS
    ///    places them);
    /// 4. `submitted`, `backPressure`, `stateChanged`: report them.
    public struct Output: Sendable {
        public var ringSequenceToPersist: UInt64?
        public var datagrams: [Datagram] = []
        public var upcalls: [Upcall] = []
        public var submitted: SubmitResult?
        /// Set when the send queue crosses its limit (true) or drains below half of it (false).
        public var backPressure: Bool?
        public var stateChanged: State?
        /// What an operator should be told, in order.
        public var notices: [Notice] = []

        public init() {}

        public var isEmpty: Bool {
            ringSequenceToPersist == nil && datagrams.isEmpty && upcalls.isEmpty && submitted == nil
                && backPressure == nil && stateChanged == nil && notices.isEmpty
        }
    }

    /// Counters the daemon reports (status queries, logs).
    public struct Counters: Hashable, Sendable {
        public var decodeErrors = 0
        public var otherCluster = 0
        public var unknownSender = 0
        public var foreignRing = 0
        public var staleJoins = 0
        public var duplicateTokens = 0
        public var tokenRetransmits = 0
        public var messageRetransmits = 0
        public var tokenLosses = 0
        public var consensusTimeouts = 0
        public var ringsFormed = 0
        public var failedToReceive = 0
        public var framesSent = 0
        public var framesReceived = 0
        public var messagesDelivered = 0
        public var outOfWindow = 0
        public var unreachableReports = 0
        /// Reports about peers that were heard from (or whose ring passed the token) before they were acted on.
        public var unreachableRefuted = 0
        /// Probes sent to peers reported unreachable.
        public var unreachableProbes = 0
        /// Peers failed because they stayed silent after port-unreachable reports.
        public var unreachableFailures = 0
        public var reassemblyDrops = 0
        /// Old-ring multicasts dropped because they arrived after this node had reported (commit) or fixed (recovery)
        /// what it holds of that ring.
        public var lateOldRingMessages = 0
        /// Of those, the ones that arrived during recovery (the rest came in commit).
        public var lateOldRingMessagesInRecovery = 0
        /// Old-ring messages this node sent again, encapsulated, during recovery.
        public var recoveryRebroadcasts = 0
        public var commitTokenRetransmits = 0
        /// Multicasts of another ring that started or widened a membership round (a merge).
        public var foreignRingMerges = 0
        /// Joins from nodes outside the ring being formed, ignored in commit or recovery.
        public var joinsIgnoredInCommitOrRecovery = 0
        /// Joins that listed this node as failed, ignored while it was operational.
        public var joinsListingUsFailedIgnored = 0
        /// Rings of one formed after failing to receive (fail_recv_const).
        public var singletonAfterFailedToReceive = 0
        /// Idle tokens sent again to the representative holding them, to learn early whether its process is gone.
        public var holderProbes = 0
        public init() {}
    }
}
