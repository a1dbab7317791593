// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterWire
import ClusterSystem
import ClusterTypes

/// A connection to the local totemd: totally ordered multicast on channels, with configuration changes in their
/// place in the message stream (extended virtual synchrony).
///
/// Use it from one thread. Watch `eventFD` in a poll loop and call `nextEvent(timeoutMilliseconds: 0)` until it
/// returns nil, or block in `nextEvent(timeoutMilliseconds:)`.
public final class TotemClient {
    private let ipc: IPCClient
    public let service: String

    /// Connects to totemd of `instance` (the admin service with `admin`, root only). One-way sends run at most
    /// `SendAhead.totemClient` ahead of totemd's reads: past it they throw `.tryAgain`, as flow control does.
    public init(instance: NodeInstance, admin: Bool = false) throws(IPCError) {
        service = instance.ipcName(admin ? ServiceName.totemAdmin : ServiceName.totem)
        ipc = try IPCClient(service: service, sendAhead: .totemClient)
    }

    /// Subscribes to `channels`; returns this node's id and the current regular configuration, if any.
    public func open(channels: [UInt16]) throws(IPCError) -> (nodeID: NodeID, configuration: TotemIPC.Configuration?) {
        let reply = try ipc.call(TotemIPC.Request.open(channels: channels), expecting: TotemIPC.Response.self)
        guard case .opened(let node, let conf) = reply else { throw .protocolError("unexpected reply to open: \(reply)") }
        return (node, conf)
    }

    /// Multicasts several messages, in order, as one IPC message (a `Request.multicastBatch`). All or none are taken:
    /// throws `.tryAgain` while the ring is saturated.
    public func multicast(batch: [TotemIPC.Multicast]) throws(IPCError) {
        precondition(!batch.isEmpty && batch.count <= TotemIPC.batchCountMax, "a batch holds 1-\(TotemIPC.batchCountMax) messages, not \(batch.count)")
        let request = TotemIPC.Request.multicastBatch(batch)
        try ipc.send(messageID: request.messageID, body: request.body)
    }

    /// A batch of multicasts on one channel encoded once as a `Request.multicastBatch`, so that a sender told to try
    /// again offers the same bytes again instead of encoding the batch anew every time.
    public struct EncodedBatch: Sendable {
        /// How many messages it carries.
        public let count: Int
        let body: [UInt8]

        /// Encodes `payloads` (1 to `TotemIPC.batchCountMax` of them) for `channel`.
        public init(channel: UInt16, payloads: ArraySlice<[UInt8]>) {
            precondition(!payloads.isEmpty && payloads.count <= TotemIPC.batchCountMax,
                         "a batch holds 1-\(TotemIPC.batchCountMax) messages, not \(payloads.count)")
            count = payloads.count
            var w = ByteWriter(capacity: 4 + payloads.reduce(0) { $0 + $1.count + 7 })
            TotemIPC.Request.encodeBatch(payloads.lazy.map { TotemIPC.Multicast(channel: channel, payload: $0) }, count: count, into: &w)
            body = w.take()
        }
    }

    /// Multicasts an encoded batch, in order, as one IPC message. All or none are taken: throws `.tryAgain` while the
    /// ring is saturated (offer the same batch again later).
    public func multicast(_ batch: EncodedBatch) throws(IPCError) {
        try ipc.send(messageID: TotemIPC.Request.multicastBatchMessageID, body: batch.body)
    }

    /// Multicasts `payload` on `channel`. Throws `.tryAgain` while the ring is saturated: wait and retry.
    public func multicast(channel: UInt16, payload: [UInt8], safe: Bool = false) throws(IPCError) {
        guard payload.count <= TotemIPC.payloadBytesMax else {
            throw .messageTooLarge(size: payload.count, limit: TotemIPC.payloadBytesMax)
        }
        let request = TotemIPC.Request.multicast(channel: channel, safe: safe, payload: payload)
        try ipc.send(messageID: request.messageID, body: request.body)
    }

    /// One-way sends refused so far because totemd had not read this connection's earlier ones
    /// (`SendAhead.totemClient`), as opposed to totemd's flow control.
    public var sendsHeldBack: Int { ipc.sendsHeldBack }

    /// totemd's ring state and counters.
    public func status() throws(IPCError) -> TotemIPC.Status {
        let reply = try ipc.call(TotemIPC.Request.status, expecting: TotemIPC.Response.self)
        guard case .status(let s) = reply else { throw .protocolError("unexpected reply to status: \(reply)") }
        return s
    }

    /// Asks totemd to leave the cluster and stop (root only). One-way: returns once the request is sent, without
    /// waiting for totemd, so a daemon may call it from its event loop.
    public func leave() throws(IPCError) {
        let request = TotemIPC.Request.leave
        try ipc.send(messageID: request.messageID, body: request.body)
    }

    /// The descriptor that becomes readable when events are waiting.
    public var eventFD: Int32? { ipc.eventFD }

    /// The next event, waiting up to `timeoutMilliseconds` (0: poll, -1: forever); nil if none came.
    public func nextEvent(timeoutMilliseconds: Int32) throws(IPCError) -> TotemIPC.Event? {
        try ipc.receiveEvent(TotemIPC.Event.self, timeoutMilliseconds: timeoutMilliseconds)
    }

    public func close() { ipc.disconnect() }
}
