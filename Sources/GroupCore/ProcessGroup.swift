// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

/// Closed process groups (corosync's CPG) on top of totem's agreed order, as a pure state machine.
///
/// Every groupd applies the same rules to the same totally ordered stream: a join, leave or multicast takes effect
/// at its place in the stream, so all members see the same views and the same messages between them (virtual
/// synchrony). After every totem configuration change, processes on nodes that left are removed (reason node down),
/// then every groupd multicasts the list of its local processes; until every member's list has arrived, group
/// messages are held back, so after a merge all nodes agree on every group's members before any new delivery.
/// Processes from nodes that came back appear with reason node up.
public enum ProcessGroup {
    /// Group names are at most this long (CPG_MAX_NAME_LENGTH).
    public static let nameBytesMax = 128
    /// Members a group may have (CPG_MEMBERS_MAX).
    public static let membersMax = 128
    /// The largest multicast payload (a little under 1 MiB, leaving room for headers).
    public static let payloadBytesMax = (1 << 20) - 1024
    /// The totem channel groupd uses.
    public static let channel: UInt16 = 2
    /// View numbers of transitional configurations' views start here, above every message position.
    public static let transitionalViewBase: UInt64 = 1 << 48

    /// A process in a group: its node and pid (the stack's shared `ProcessAddress`).
    public typealias Address = ProcessAddress

    /// Why a process joined or left a view (CPG's reasons, same numbers).
    public enum Reason: UInt8, Hashable, Sendable {
        case join = 1
        case leave = 2
        case nodeDown = 3
        case nodeUp = 4
        case processDown = 5
    }

    /// A view change of one group.
    public struct ConfigurationChange: Hashable, Sendable {
        public var group: String
        public var members: [Address]
        /// The totem ring this view was installed in, and the place in that ring's agreed stream of the message that
        /// installed it (`Totem.Delivery.position`): every member that installs the view names it the same way. 0
        /// marks a provisional view, installed when a configuration change cut a sync round short, which only this
        /// side of a partition sees, or when a sync request cut short a round that started before the ring's members
        /// agreed on the groups. A transitional configuration that drops nodes installs a view named after the
        /// new ring and `transitionalViewBase | lowest node of the transitional configuration`.
        public var ringSequence: UInt64 = 0
        /// The representative of that ring: with the sequence, the ring id (two partitions may reuse a sequence).
        public var ringRepresentative = NodeID(0)
        public var viewNumber: UInt64 = 0
        public var joined: [(Address, Reason)] { joinedList }
        public var left: [(Address, Reason)] { leftList }
        var joinedList: [(Address, Reason)]
        var leftList: [(Address, Reason)]

        public init(group: String, members: [Address], joined: [(Address, Reason)], left: [(Address, Reason)]) {
            self.group = group
            self.members = members
            joinedList = joined
            leftList = left
        }

        public static func == (a: ConfigurationChange, b: ConfigurationChange) -> Bool {
            a.group == b.group && a.members == b.members && a.joinedList.map(\.0) == b.joinedList.map(\.0)
                && a.joinedList.map(\.1) == b.joinedList.map(\.1) && a.leftList.map(\.0) == b.leftList.map(\.0)
                && a.leftList.map(\.1) == b.leftList.map(\.1)
        }

        public func hash(into h: inout Hasher) {
            h.combine(group)
            h.combine(members)
        }
    }

    /// What a local process receives.
    public enum ClientEvent: Hashable, Sendable {
        case configurationChange(ConfigurationChange)
        case delivery(group: String, sender: Address, payload: [UInt8])
        /// The totem configuration (for clients that asked): ring and member nodes.
        case totemConfiguration(ringSequence: UInt64, ringRepresentative: NodeID, members: [NodeID])
    }
}

extension ProcessGroup.StateMachine: ProtocolCore {
    public static var deadlineReached: ProcessGroup.Event { .deadlineReached }
}
