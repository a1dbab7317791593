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
        /// Administrative expected-votes changes are accepted in an inquorate partition.
        public static let adminChangesInMinority = Mutations(rawValue: 1 << 3)
        /// A quorum-disk master that loses the role stops claiming it on the disk at once, while members of its
        /// partition may still count its master offer (issue 9's seeds 5623 and 5752).
        public static let masterReleasesAtOnce = Mutations(rawValue: 1 << 4)

        /// Every mutation, with its name.
        public static let all: [(name: String, mutation: Mutations)] = [
            ("quorum check skipped", .quorumCheckSkipped),
            ("quorum not sticky", .quorumNotSticky),
            ("non-masters count qdisk votes", .nonMastersCountQdiskVotes),
            ("admin changes in a minority", .adminChangesInMinority),
            ("qdisk master releases at once", .masterReleasesAtOnce),
        ]

        public var description: String {
            let names = Self.all.filter { contains($0.mutation) }.map(\.name)
            return names.isEmpty ? "none" : names.joined(separator: ", ")
        }
    }
}
