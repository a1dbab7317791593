// SPDX-License-Identifier: Apache-2.0

/// Why a buffer could not be decoded. Hostile input produces one of these, never a trap.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The buffer ended before the field named.
    case truncated(field: String)
    /// A field's value is outside what the format allows.
    case invalid(field: String, reason: String)
    /// A length field exceeds the limit for that field.
    case tooLong(field: String, length: Int, limit: Int)
    /// Bytes remained after the last field.
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let field): "truncated at \(field)"
        case .invalid(let field, let reason): "invalid \(field): \(reason)"
        case .tooLong(let field, let length, let limit): "\(field) length \(length) exceeds \(limit)"
        case .trailingBytes(let n): "\(n) unexpected trailing bytes"
        }
    }
}

/// Reads big-endian values from a byte buffer, checking every length before use.
/// `@inlinable` for the same reason as `ByteWriter`: every decoded field of every message goes through it.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    /// Bytes read so far.
    @inlinable public var offset: Int { position - start }
    @usableFromInline var position: Int
    @usableFromInline let start: Int
    @usableFromInline let end: Int

    @inlinable
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        position = 0
        start = 0
        self.end = bytes.count
    }

    /// Reads only `range` of `bytes` (a message inside a larger buffer, read where it lies: no copy of it).
    @inlinable
    public init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "a reader's range lies inside its bytes")
        self.bytes = bytes
        position = range.lowerBound
        start = range.lowerBound
        end = range.upperBound
    }

    public init<C: Collection>(bytes: C) where C.Element == UInt8 { self.init(Array(bytes)) }

    @inlinable public var remaining: Int { end - position }

    @inlinable public var isAtEnd: Bool { position == end }

    @inlinable
    mutating func take(_ n: Int, _ field: String) throws(WireError) -> Int {
        guard n >= 0, n <= remaining else { throw .truncated(field: field) }
        let start = position
        position += n
        return start
    }

    @inlinable
    public mutating func readUInt8(_ field: String = "u8") throws(WireError) -> UInt8 {
        bytes[try take(1, field)]
    }

    @inlinable
    public mutating func readBool(_ field: String = "bool") throws(WireError) -> Bool {
        let v = try readUInt8(field)
        guard v <= 1 else { throw .invalid(field: field, reason: "boolean byte \(v)") }
        return v == 1
    }

    @inlinable
    public mutating func readUInt16(_ field: String = "u16") throws(WireError) -> UInt16 {
        let s = try take(2, field)
        return bytes.withUnsafeBytes { UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: s, as: UInt16.self)) }
    }

    @inlinable
    public mutating func readUInt32(_ field: String = "u32") throws(WireError) -> UInt32 {
        let s = try take(4, field)
        return bytes.withUnsafeBytes { UInt32(bigEndian: $0.loadUnaligned(fromByteOffset: s, as: UInt32.self)) }
    }

    @inlinable
    public mutating func readUInt64(_ field: String = "u64") throws(WireError) -> UInt64 {
        let s = try take(8, field)
        return bytes.withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: s, as: UInt64.self)) }
    }

    @inlinable
    public mutating func readInt32(_ field: String = "i32") throws(WireError) -> Int32 {
        Int32(bitPattern: try readUInt32(field))
    }

    @inlinable
    public mutating func readInt64(_ field: String = "i64") throws(WireError) -> Int64 {
        Int64(bitPattern: try readUInt64(field))
    }

    /// Exactly `count` raw bytes.
    @inlinable
    public mutating func readRaw(_ count: Int, _ field: String = "bytes") throws(WireError) -> ArraySlice<UInt8> {
        let s = try take(count, field)
        return bytes[s..<(s + count)]
    }

    /// A 32-bit length followed by that many bytes, at most `limit`.
    @inlinable
    public mutating func readBlob(_ field: String = "blob", limit: Int) throws(WireError) -> [UInt8] {
        let length = Int(try readUInt32(field))
        guard length <= limit else { throw .tooLong(field: field, length: length, limit: limit) }
        return Array(try readRaw(length, field))
    }

    /// A length-prefixed UTF-8 string of at most `limit` bytes.
    @inlinable
    public mutating func readString(_ field: String = "string", limit: Int) throws(WireError) -> String {
        let length = Int(try readUInt32(field))
        guard length <= limit else { throw .tooLong(field: field, length: length, limit: limit) }
        let s = try take(length, field)
        // Validated straight from the buffer: no intermediate array. ASCII (every group and resource name in practice,
        // read for every CPG message) takes the fast path: it is valid UTF-8 as it is, so it is decoded without the
        // stdlib's generic validation (a tenth of groupd's own work per message, most of it generic metadata look-ups).
        let string = bytes.withUnsafeBufferPointer { all -> String? in
            let utf8 = UnsafeBufferPointer(rebasing: all[s..<(s + length)])
            var high: UInt8 = 0
            for byte in utf8 { high |= byte }
            if high < 0x80 { return String(decoding: utf8, as: UTF8.self) }
            return String(validating: utf8, as: UTF8.self)
        }
        guard let string else { throw .invalid(field: field, reason: "not UTF-8") }
        return string
    }

    /// A 32-bit element count, checked against `limit` and against the bytes left (each element at least
    /// `minimumElementBytes`), so a hostile count cannot make the caller allocate.
    @inlinable
    public mutating func readCount(_ field: String, limit: Int, minimumElementBytes: Int = 1) throws(WireError) -> Int {
        let n = Int(try readUInt32(field))
        guard n <= limit else { throw .tooLong(field: field, length: n, limit: limit) }
        guard n * max(minimumElementBytes, 0) <= remaining else { throw .truncated(field: field) }
        return n
    }

    /// Throws if any bytes remain.
    @inlinable
    public func expectEnd() throws(WireError) {
        if remaining != 0 { throw .trailingBytes(remaining) }
    }
}
