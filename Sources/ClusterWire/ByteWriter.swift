// SPDX-License-Identifier: Apache-2.0

/// Appends values to a byte buffer in network (big-endian) order.
///
/// Every multi-byte integer on the cluster wire and in our IPC payloads is big-endian, written through this type.
/// Its methods are `@inlinable`: every message of every layer is encoded through them, and a call across the module
/// boundary per field (and a byte-at-a-time append) was a visible share of a CPG message's cost.
public struct ByteWriter: Sendable {
    @usableFromInline var storage: [UInt8]

    /// The bytes written so far.
    @inlinable public var bytes: [UInt8] { storage }

    @inlinable
    public init(capacity: Int = 64) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// Appends to `buffer` (which the writer takes over; `take()` hands it back without a copy).
    @inlinable
    public init(appendingTo buffer: [UInt8]) { storage = buffer }

    /// Hands the bytes over and leaves the writer empty, without copying them.
    @inlinable
    public mutating func take() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &storage)
        return out
    }

    @inlinable public var count: Int { storage.count }

    @inlinable public mutating func write(_ value: UInt8) { storage.append(value) }

    @inlinable public mutating func write(_ value: Bool) { storage.append(value ? 1 : 0) }

    @inlinable public mutating func write(_ value: UInt16) { withUnsafeBytes(of: value.bigEndian) { storage.append(contentsOf: $0) } }

    @inlinable public mutating func write(_ value: UInt32) { withUnsafeBytes(of: value.bigEndian) { storage.append(contentsOf: $0) } }

    @inlinable public mutating func write(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { storage.append(contentsOf: $0) } }

    @inlinable public mutating func write(_ value: Int32) { write(UInt32(bitPattern: value)) }

    @inlinable public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }

    /// Raw bytes with no length prefix.
    @inlinable
    public mutating func writeRaw<C: Collection>(_ data: C) where C.Element == UInt8 { storage.append(contentsOf: data) }

    /// Bytes preceded by a 32-bit length.
    @inlinable
    public mutating func writeBlob<C: Collection>(_ data: C) where C.Element == UInt8 {
        write(UInt32(data.count))
        storage.append(contentsOf: data)
    }

    /// A UTF-8 string preceded by a 32-bit length (straight from the string's storage when it is contiguous).
    @inlinable
    public mutating func write(_ string: String) {
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { writeBlob($0) }
        if done == nil { writeBlob(Array(string.utf8)) }
    }

    /// Overwrites a previously written 32-bit value at `offset` (for lengths known only later).
    @inlinable
    public mutating func patch(_ value: UInt32, at offset: Int) {
        precondition(offset + 4 <= storage.count, "patch beyond the written bytes")
        for i in 0..<4 { storage[offset + i] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * i)) }
    }
}
