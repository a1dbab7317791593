// SPDX-License-Identifier: Apache-2.0

extension ProcessGroup {
    /// Deliberate weakenings of the group rules, each one rule switched off, for mutation tests: they prove that the
    /// simulation's `GroupChecker` notices when a rule is broken.
    ///
    /// Production never sets any: groupd has no way to.
    public struct Mutations: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// A multicast is delivered to every local process of the group, in its view or not, from any sender.
        public static let deliverOutsideView = Mutations(rawValue: 1 << 0)
        /// No view change at a transitional configuration that drops nodes: its messages are delivered in the old
        /// ring's view, beside messages the other side delivered and this side missed (issue 9's group seeds 7186,
        /// 7217, 7352).
        public static let transitionalDeliveriesInOldView = Mutations(rawValue: 1 << 1)
        /// A round cut short by a sync request numbers its views even when the ring's members never agreed on the
        /// groups (no round of the ring ended with every list): members install the same numbered view with different
        /// members (issue 9's group seeds 7354, 7952).
        public static let cutRoundViewsNumbered = Mutations(rawValue: 1 << 2)

        /// Every mutation, with its name.
        public static let all: [(name: String, mutation: Mutations)] = [
            ("deliver outside the view", .deliverOutsideView),
            ("transitional deliveries in the old view", .transitionalDeliveriesInOldView),
            ("cut round views numbered", .cutRoundViewsNumbered),
        ]

        public var description: String {
            let names = Self.all.filter { contains($0.mutation) }.map(\.name)
            return names.isEmpty ? "none" : names.joined(separator: ", ")
        }
    }
}
