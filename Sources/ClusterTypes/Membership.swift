// SPDX-License-Identifier: Apache-2.0

// The membership vocabulary every layer shares: totem produces configuration changes, totemd hands them to its
// clients, and the quorum and group cores consume them, all as the same values.

/// Which of extended virtual synchrony's two configurations a change installs.
public enum ConfigurationKind: String, Hashable, Sendable {
    /// The members of the old ring that go on together; the rest of the old ring's messages follow it.
    case transitional
    /// The new ring's members; the new ring's messages follow it.
    case regular
}

/// Identifies a ring: its representative (the member with the lowest node id) and a ring sequence number that grows
/// with every ring a node takes part in, and is persisted before a ring is used.
public struct RingID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var representative: NodeID
    public var sequence: UInt64

    public init(representative: NodeID, sequence: UInt64) {
        self.representative = representative
        self.sequence = sequence
    }

    public static func < (lhs: RingID, rhs: RingID) -> Bool {
        (lhs.sequence, lhs.representative) < (rhs.sequence, rhs.representative)
    }

    /// `REP/SEQ`, as logs and tools print ring ids.
    public var description: String { "\(representative)/\(sequence)" }

    /// The ring id a node has before it has formed any ring.
    public static let none = RingID(representative: NodeID(0), sequence: 0)
}

/// A configuration change of extended virtual synchrony, exactly as corosync's `confchg_fn` reports it: the kind,
/// the ring, its members, and who joined and left (a transitional configuration lists none joined).
public struct ConfigurationChange: Hashable, Sendable, CustomStringConvertible {
    public typealias Kind = ConfigurationKind
    public var kind: ConfigurationKind
    public var ringID: RingID
    public var members: [NodeID]
    public var joined: [NodeID]
    public var left: [NodeID]

    public init(kind: ConfigurationKind, ringID: RingID, members: [NodeID], joined: [NodeID] = [], left: [NodeID] = []) {
        self.kind = kind
        self.ringID = ringID
        self.members = members
        self.joined = joined
        self.left = left
    }

    public var description: String {
        "\(kind) ring \(ringID) members \(members.map(\.description).joined(separator: ",")) joined \(joined.map(\.description).joined(separator: ",")) left \(left.map(\.description).joined(separator: ","))"
    }
}

/// A process somewhere in the cluster: its node and pid (CPG's `cpg_address` without the reason).
public struct ProcessAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var node: NodeID
    public var pid: UInt32

    public init(node: NodeID, pid: UInt32) {
        self.node = node
        self.pid = pid
    }

    public static func < (a: ProcessAddress, b: ProcessAddress) -> Bool { (a.node, a.pid) < (b.node, b.pid) }

    /// `NODE:PID`.
    public var description: String { "\(node):\(pid)" }
}

/// One line a daemon logs for its operator, in words defined by the protocol's core (admins grep for them, so they
/// are stable) and compared by the transcript tests. The shell maps the level to its logger's.
public struct OperatorLine: Sendable, Hashable, CustomStringConvertible {
    /// How loud a line is.
    public enum Level: String, Sendable, Hashable { case info, notice, warning, error }

    public var level: Level
    public var text: String

    public init(level: Level, text: String) {
        self.level = level
        self.text = text
    }

    public var description: String { "\(level.rawValue): \(text)" }
}
