// SPDX-License-Identifier: Apache-2.0

/// Appends values to a byte buffer in network (big-endian) order.
///
/// Every multi-byte integer on the cluster wire and in our IPC payloads is big-endian, written through this type.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func write(_ value: UInt8) { bytes.append(value) }

    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    public mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func write(_ value: Int32) { write(UInt32(bitPattern: value)) }

    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }

    /// Raw bytes with no length prefix.
    public mutating func writeRaw<C: Collection>(_ data: C) where C.Element == UInt8 { bytes.append(contentsOf: data) }

    /// Bytes preceded by a 32-bit length.
    public mutating func writeBlob<C: Collection>(_ data: C) where C.Element == UInt8 {
        write(UInt32(data.count))
        bytes.append(contentsOf: data)
    }

    /// A UTF-8 string preceded by a 32-bit length.
    public mutating func write(_ string: String) { writeBlob(Array(string.utf8)) }

    /// Overwrites a previously written 32-bit value at `offset` (for lengths known only later).
    public mutating func patch(_ value: UInt32, at offset: Int) {
        precondition(offset + 4 <= bytes.count, "patch beyond the written bytes")
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * i)) }
    }
}
