// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem {
    /// Identifies a ring: its representative (the member with the lowest node id) and a ring sequence number that
    /// grows with every ring a node takes part in, and is persisted before a ring is used.
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

        public var description: String { "\(representative)/\(sequence)" }

        /// The ring id a node has before it has formed any ring.
        public static let none = RingID(representative: NodeID(0), sequence: 0)
    }
}

/// Serial-number comparison for 32-bit message sequence numbers (RFC 1982): correct across the wrap as long as
/// the two numbers are less than 2^31 apart, which the window limits guarantee.
@inline(__always) func seqLT(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) func seqLE(_ a: UInt32, _ b: UInt32) -> Bool { a == b || seqLT(a, b) }
@inline(__always) func seqMin(_ a: UInt32, _ b: UInt32) -> UInt32 { seqLT(a, b) ? a : b }
@inline(__always) func seqMax(_ a: UInt32, _ b: UInt32) -> UInt32 { seqLT(a, b) ? b : a }
/// The number of sequence numbers in (a, b], or 0 if b is not after a.
@inline(__always) func seqDistance(_ a: UInt32, _ b: UInt32) -> Int { seqLT(a, b) ? Int(b &- a) : 0 }
