// SPDX-License-Identifier: Apache-2.0

extension Quorum {
    /// Deliberate weakenings of the quorum rules, each one rule switched off, for mutation tests: they prove that the
    /// stack simulation's split-brain check notices when a rule is broken.
    ///
    /// Production never sets any: quorumd builds `Settings` from cluster.conf, which cannot express them.
    public struct Mutations: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// Every partition with any votes is quorate (the quorum check is skipped).
        public static let quorumCheckSkipped = Mutations(rawValue: 1 << 0)
        /// Quorum follows the votes present down when nodes leave (expected votes are not sticky).
        public static let quorumNotSticky = Mutations(rawValue: 1 << 1)
        /// Quorum-disk votes offered by a node that is not the disk's master count, and survive membership changes
        /// (qdisk's master_wins broken).
        public static let nonMastersCountQdiskVotes = Mutations(rawValue: 1 << 2)
        /// Administrative changes that add power (votes, expected votes) are accepted and applied in an inquorate
        /// partition: neither the request nor the delivery is checked.
        public static let adminChangesInMinority = Mutations(rawValue: 1 << 3)
        /// A quorum-disk master that loses the role stops claiming it on the disk at once, while members of its
        /// partition may still count its master offer (issue 9's seeds 5623 and 5752).
        public static let masterReleasesAtOnce = Mutations(rawValue: 1 << 4)
        /// A fresh quorumd breaks auto_tie_breaker ties before it has seen every node at once (it trusts its own
        /// cluster.conf's votes; issue 9's seeds 6541, 9578, 14826).
        public static let tieBreakerWhileFresh = Mutations(rawValue: 1 << 5)
        /// Changes that add voting power (votes raised, expected lowered, a reload with a quorum device) are checked
        /// only where they are requested, not again where they are delivered (issue 9's seed 13266).
        public static let powerChangesUncheckedOnDelivery = Mutations(rawValue: 1 << 6)
        /// A restarted quorumd ignores its predecessor's persisted state (expected votes and votes changed at
        /// runtime) and starts from its cluster.conf alone (issue 9's seed 16490).
        public static let persistedStateIgnored = Mutations(rawValue: 1 << 7)

        /// Every mutation, with its name.
        public static let all: [(name: String, mutation: Mutations)] = [
            ("quorum check skipped", .quorumCheckSkipped),
            ("quorum not sticky", .quorumNotSticky),
            ("non-masters count qdisk votes", .nonMastersCountQdiskVotes),
            ("admin changes in a minority", .adminChangesInMinority),
            ("qdisk master releases at once", .masterReleasesAtOnce),
            ("tie-breaker while fresh", .tieBreakerWhileFresh),
            ("power changes unchecked on delivery", .powerChangesUncheckedOnDelivery),
            ("persisted state ignored", .persistedStateIgnored),
        ]

        public var description: String {
            let names = Self.all.filter { contains($0.mutation) }.map(\.name)
            return names.isEmpty ? "none" : names.joined(separator: ", ")
        }
    }
}
