// SPDX-License-Identifier: Apache-2.0
import ClusterWire

/// A message that travels between a client and a daemon: a 32-bit id saying what it is, and a body.
///
/// Every service defines its `Request`, `Response` and `Event` enums conforming to this protocol; the IPC layer moves
/// the id and the encoded body, and the service's codec turns them back into values. Decoding never traps on bad
/// input: it throws `WireError`, and the daemon answers `IPCStatus.invalidRequest`.
public protocol IPCMessage: Sendable {
    /// The id that goes in the libqb header.
    var messageID: Int32 { get }
    /// Appends the body (not the header) to `writer`.
    func encodeBody(into writer: inout ByteWriter)
    /// Decodes a body that arrived with `id`.
    init(messageID id: Int32, body: inout ByteReader) throws(WireError)
}

extension IPCMessage {
    // Both are `@inlinable`, so each caller gets them specialised for its message type: a generic call per message
    // (every event a client reads, every request a daemon decodes) cost metadata passing and indirect copies.

    /// The encoded body.
    @inlinable
    public var body: [UInt8] {
        var w = ByteWriter()
        encodeBody(into: &w)
        return w.bytes
    }

    /// Decodes `bytes`, requiring every byte to be used.
    @inlinable
    public static func decode(messageID: Int32, body bytes: [UInt8]) throws(WireError) -> Self {
        try decode(messageID: messageID, body: bytes, range: bytes.indices)
    }

    /// Decodes the body that lies at `range` of `bytes` (an event inside a batch), requiring all of it to be used.
    @inlinable
    public static func decode(messageID: Int32, body bytes: [UInt8], range: Range<Int>) throws(WireError) -> Self {
        var r = ByteReader(bytes, range: range)
        let value = try Self(messageID: messageID, body: &r)
        try r.expectEnd()
        return value
    }
}

/// A client's request. Each protocol declares which of its ids are one-way: the daemon sends no response to them (a
/// client's send returns at once, and fails with "try again" under flow control), so it must not answer one even
/// when the request is invalid.
public protocol IPCRequest: IPCMessage {
    /// The ids of the requests that get no response.
    static var oneWayMessageIDs: Set<Int32> { get }
}

extension IPCRequest {
    /// Whether the daemon answers a request with this id (an id it cannot decode included).
    public static func expectsReply(messageID: Int32) -> Bool { !oneWayMessageIDs.contains(messageID) }

    /// Whether the daemon answers this request.
    public var expectsReply: Bool { Self.expectsReply(messageID: messageID) }
}

/// Limits shared by every IPC service.
public enum IPCLimits {
    /// The largest request, response or event body. Totem messages are at most 1 MiB; this leaves room for headers.
    public static let messageBytesMax = 1 << 20 + 4096
    /// The libqb ring size each connection asks for.
    public static let bufferBytes = messageBytesMax + 64
    /// Events queued for one slow client before it is disconnected.
    public static let eventQueueCountMax = 1 << 20
    /// Bytes queued for one slow client before it is disconnected.
    public static let eventQueueBytesMax = 512 << 20
    /// A client whose queued events made no progress for this long is not reading: it is disconnected.
    public static let eventQueueStallSecondsMax = 10
    /// The message id of an event that carries several events (each with its own response header), which a server
    /// sends when it has more than one event for a client in one turn of its loop; `IPCClient` unpacks it.
    public static let eventBatchMessageID: Int32 = 0x7FFF_FF00
    /// The most bytes of events one batch carries (a larger event goes alone).
    public static let eventBatchBytesMax = 64 << 10
}
