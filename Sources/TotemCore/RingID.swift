// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem {
    /// Identifies a ring (representative and sequence): the stack's shared `ClusterTypes.RingID`.
    public typealias RingID = ClusterTypes.RingID
}

/// Serial-number comparison for 32-bit message sequence numbers (RFC 1982): correct across the wrap as long as
/// the two numbers are less than 2^31 apart, which the window limits guarantee.
@inline(__always) func seqLT(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) func seqLE(_ a: UInt32, _ b: UInt32) -> Bool { a == b || seqLT(a, b) }
@inline(__always) func seqMin(_ a: UInt32, _ b: UInt32) -> UInt32 { seqLT(a, b) ? a : b }
@inline(__always) func seqMax(_ a: UInt32, _ b: UInt32) -> UInt32 { seqLT(a, b) ? b : a }
/// The number of sequence numbers in (a, b], or 0 if b is not after a.
@inline(__always) func seqDistance(_ a: UInt32, _ b: UInt32) -> Int { seqLT(a, b) ? Int(b &- a) : 0 }
