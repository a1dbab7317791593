// SPDX-License-Identifier: Apache-2.0

/// A cluster node's identifier, the `nodeid` attribute of `<clusternode>`.
///
/// Node ids are positive 32-bit integers; 0 is reserved (libcman's `CMAN_NODEID_US` means "this node").
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    /// Creates a node id; 0 is allowed only as the "unknown/this node" marker.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public init(_ value: UInt32) { self.rawValue = value }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }

    /// The largest node id we accept (corosync limits node ids to 31 bits in practice).
    public static let maximum = NodeID(0x7FFF_FFFF)
}
