// SPDX-License-Identifier: Apache-2.0

extension Totem {
    /// Deliberate weakenings of the protocol, each one rule switched off, for mutation tests: they prove that the
    /// simulator's checkers notice when a rule is broken (TigerBeetle's VOPR is trusted for the same reason).
    ///
    /// Production never sets any: daemons build `Settings` from cluster.conf, which cannot express them, and
    /// `Settings.validate()` reports any that is set. Each names the rule it breaks.
    public struct Mutations: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Safe messages are delivered as soon as they are in order, like agreed ones (breaks safe delivery).
        public static let safeDeliveredAsAgreed = Mutations(rawValue: 1 << 0)
        /// Every node sets the token's aru to its own, raising it too (breaks the paper's aru rule: only the node that
        /// lowered it may raise it).
        public static let anyNodeRaisesAru = Mutations(rawValue: 1 << 1)
        /// The transitional configuration is delivered before the old ring's messages that belong to the old regular
        /// configuration.
        public static let transitionalBeforeOldRegularMessages = Mutations(rawValue: 1 << 2)
        /// One port-unreachable report fails the peer at once, without waiting for it to stay silent.
        public static let unreachableFailsAtOnce = Mutations(rawValue: 1 << 3)
        /// A token sent and not seen to move on is never sent again.
        public static let noTokenRetransmission = Mutations(rawValue: 1 << 4)
        /// A plain multicast of the old ring that arrives during recovery is kept and delivered.
        public static let oldRingMessageAcceptedInRecovery = Mutations(rawValue: 1 << 5)
        /// Survivors deliver in the old regular configuration only what they themselves could, ignoring what other
        /// survivors already delivered there (the commit token's high-delivered).
        public static let highDeliveredRuleIgnored = Mutations(rawValue: 1 << 6)
        /// The idle token passed to the representative is not sent again before token_retransmit (a representative
        /// killed while holding it is noticed only then, or by the merge probe).
        public static let noHolderProbe = Mutations(rawValue: 1 << 7)
        /// The representative's second use of the token it held (for a message of its own) counts as a token visit
        /// for safe delivery, though no other member saw the token in between (breaks safe delivery).
        public static let heldTokenReuseIsAVisit = Mutations(rawValue: 1 << 8)
        /// A message's later pieces are joined to the last partial message kept, whatever its sender, not to their
        /// own sender's (breaks reassembly when several senders' large messages interleave in the ring).
        public static let piecesJoinAnySender = Mutations(rawValue: 1 << 9)

        /// Every mutation, with its name.
        public static let all: [(name: String, mutation: Mutations)] = [
            ("safe delivered as agreed", .safeDeliveredAsAgreed),
            ("any node raises the token aru", .anyNodeRaisesAru),
            ("transitional configuration before the old regular messages", .transitionalBeforeOldRegularMessages),
            ("one unreachable report fails the peer at once", .unreachableFailsAtOnce),
            ("token retransmission off", .noTokenRetransmission),
            ("old-ring message accepted in recovery", .oldRingMessageAcceptedInRecovery),
            ("high-delivered rule ignored", .highDeliveredRuleIgnored),
            ("no holder probe", .noHolderProbe),
            ("held token reuse counts as a visit", .heldTokenReuseIsAVisit),
            ("pieces join any sender's message", .piecesJoinAnySender),
        ]

        public var description: String {
            let names = Self.all.filter { contains($0.mutation) }.map(\.name)
            return names.isEmpty ? "none" : names.joined(separator: ", ")
        }
    }
}
