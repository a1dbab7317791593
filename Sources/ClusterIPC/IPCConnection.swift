// SPDX-License-Identifier: Apache-2.0
import CQB
import ClusterIPCProtocol
import ClusterTypes
import ClusterWire
#if canImport(Glibc)
import Glibc
#endif

/// One client's connection to an `IPCServer`.
///
/// It lives from `connection_created` until libqb destroys the connection; after that `isOpen` is false and every
/// send does nothing. Events that do not fit in the client's ring are queued here (bounded) and retried; a client
/// that lets the queue overflow is disconnected, with the reason logged by the server.
public final class IPCConnection {
    var handle: OpaquePointer?
    /// The peer's credentials, from SO_PEERCRED at connect time.
    public let uid: UInt32
    public let gid: UInt32
    public let pid: Int32
    /// A number unique among this server's connections, for logs and maps.
    public let id: UInt64
    /// Free for the service to attach per-connection state.
    public var userData: AnyObject?
    /// The server this connection belongs to.
    public internal(set) weak var server: IPCServer?

    /// Events that did not fit in the client's ring; bounded by `IPCLimits.eventQueueCountMax` and `eventQueueBytesMax` (a client that
    /// lets it overflow is disconnected).
    private var queued: [[UInt8]] = []
    private var queuedBytes = 0
    private var queueHead = 0
    /// When the queue last moved (an event reached the client's ring); a queue stalled for too long means the
    /// client is not reading at all.
    private var lastProgress = EventLoop.now()
    /// The turn's events, waiting to go as one batch when the turn ends. The buffer starts with room for the batch's
    /// own header (filled in when it goes), so a batch goes to libqb from it as it is, and it keeps its capacity from
    /// turn to turn: no allocation, no copy and no freshly faulted pages per batch. It is empty between turns.
    private var batching = false
    private var batch: [UInt8] = []
    private var batchCount = 0

    init(handle: OpaquePointer, uid: UInt32, gid: UInt32, pid: Int32, id: UInt64, server: IPCServer) {
        self.handle = handle
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.id = id
        self.server = server
    }

    /// True until the client has gone away or been disconnected.
    public var isOpen: Bool { handle != nil }

    /// Events waiting for room in the client's ring.
    public var queuedEventCount: Int { queued.count - queueHead }

    /// Bytes of the events waiting for room in the client's ring.
    public var queuedEventBytes: Int { queuedBytes }

    /// Sends the one response to the request being handled (or a deferred one). Returns false if the client is gone.
    @discardableResult
    public func respond(messageID: Int32, status: IPCStatus, body: [UInt8] = []) -> Bool {
        guard let handle else { return false }
        var header = qb_ipc_response_header()
        header.id = messageID
        header.size = Int32(MemoryLayout<qb_ipc_response_header>.size + body.count)
        header.error = status.rawValue
        let rc = send(header: &header, body: body) { iov, n in qb_ipcs_response_sendv(handle, iov, n) }
        return rc >= 0
    }

    /// Sends a typed response.
    @discardableResult
    public func respond<M: IPCMessage>(_ message: M, status: IPCStatus = .ok) -> Bool {
        respond(messageID: message.messageID, status: status, body: message.body)
    }

    /// Pushes an event to the client, queueing it if the client's event ring is full. Returns false if the client is
    /// known to be gone or was just disconnected for not reading.
    ///
    /// With the server's `batchesEvents`, the events of a turn of the loop wait until the turn ends (`EventLoop.soon`:
    /// the loop's next pass, after what is ready now), then go as one event (`IPCLimits.eventBatchMessageID`) that
    /// `IPCClient` unpacks, or alone if there is one: one IPC message, one notification and at most one wake-up of the
    /// client per turn, in the same order. (Until November 2026 the first event of a turn went at once and only the
    /// rest waited: two notifications and often two wake-ups of the client for every turn with more than one event.)
    /// A batched event returns true; a client that vanishes before the turn ends misses it.
    @discardableResult
    public func sendEvent(messageID: Int32, body: [UInt8]) -> Bool {
        sendEvent(messageID: messageID, bodyBytes: body.count) { $0.writeRaw(body) }
    }

    /// Pushes a typed event, its body encoded straight behind its header (into the turn's batch when one is open).
    @discardableResult
    public func sendEvent<M: IPCMessage>(_ message: M) -> Bool {
        sendEvent(messageID: message.messageID, bodyBytes: 64) { message.encodeBody(into: &$0) }
    }

    /// The common path of both `sendEvent`s: no intermediate body or frame array per event. `encode` appends the body.
    private func sendEvent(messageID: Int32, bodyBytes: Int, encode: (inout ByteWriter) -> Void) -> Bool {
        guard handle != nil else { return false }
        guard let server, server.batchesEvents else { return deliver(Self.frame(messageID: messageID, bodyBytes: bodyBytes, encode: encode)) }
        let h = Self.responseHeaderBytes
        if batch.isEmpty {
            batch.reserveCapacity(h + IPCLimits.eventBatchBytesMax)
            batch.append(contentsOf: repeatElement(0, count: h))
        }
        let start = batch.count
        var w = ByteWriter(appendingTo: batch)
        batch = []
        Self.appendFrame(messageID: messageID, to: &w, encode: encode)
        batch = w.take()
        if !batching {
            batching = true
            server.endTurnLater(self)
        }
        let size = batch.count - start
        if batch.count - h <= IPCLimits.eventBatchBytesMax {
            batchCount += 1
            return true
        }
        // It does not fit: the batch so far goes first, then this event alone or as the start of the next batch.
        _ = flushBatch(end: start)
        guard handle != nil, batch.count == start + size else { return false }  // disconnected meanwhile
        batch.removeSubrange(h..<start)
        if size > IPCLimits.eventBatchBytesMax {
            let sent = deliverBuffered(h..<batch.count)
            resetBatch()
            return sent
        }
        batchCount = 1
        return true
    }

    /// The bytes of the header in front of every event (and of every event inside a batch).
    public static let responseHeaderBytes = MemoryLayout<qb_ipc_response_header>.size

    /// A response header for `messageID` followed by the body `encode` writes.
    private static func frame(messageID: Int32, bodyBytes: Int, encode: (inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter(capacity: responseHeaderBytes + bodyBytes)
        appendFrame(messageID: messageID, to: &w, encode: encode)
        return w.take()
    }

    /// Appends a response header and the body `encode` writes, then sets the header's size (native byte order, as
    /// libqb's headers are).
    private static func appendFrame(messageID: Int32, to w: inout ByteWriter, encode: (inout ByteWriter) -> Void) {
        let start = w.count
        var header = qb_ipc_response_header()
        header.id = messageID
        header.error = IPCStatus.ok.rawValue
        withUnsafeBytes(of: &header) { w.writeRaw($0) }
        encode(&w)
        var bytes = w.take()
        setHeader(of: &bytes, at: start, messageID: messageID, size: Int32(bytes.count - start))
        w = ByteWriter(appendingTo: bytes)
    }

    /// Writes a response header (`messageID`, `size`, status ok) at `offset`.
    private static func setHeader(of bytes: inout [UInt8], at offset: Int, messageID: Int32, size: Int32) {
        var header = qb_ipc_response_header()
        header.id = messageID
        header.size = size
        header.error = IPCStatus.ok.rawValue
        bytes.withUnsafeMutableBytes { raw in
            withUnsafeBytes(of: &header) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }
    }

    /// Sends one frame (an event or a batch), or queues it behind earlier ones.
    private func deliver(_ frame: [UInt8]) -> Bool {
        if queuedEventCount == 0 {
            switch frame.withUnsafeBytes({ trySendEvent($0) }) {
            case .sent: return true
            case .gone: return false
            case .full: break
            }
        }
        return enqueue(frame)
    }

    /// Sends the bytes `range` of the batch buffer as one frame, or queues a copy of them behind earlier ones.
    private func deliverBuffered(_ range: Range<Int>) -> Bool {
        if queuedEventCount == 0 {
            switch batch.withUnsafeBytes({ trySendEvent(UnsafeRawBufferPointer(rebasing: $0[range])) }) {
            case .sent: return true
            case .gone: return false
            case .full: break
            }
        }
        return enqueue(Array(batch[range]))
    }

    /// The turn of the loop is over: what waits in the batch goes now, and the next event goes at once again.
    func endTurn() {
        _ = flushBatch(end: batch.count)
        resetBatch()
        batching = false
    }

    /// Sends the first `end` bytes of the buffer: nothing, the one event alone, or a batch under its own header.
    private func flushBatch(end: Int) -> Bool {
        let count = batchCount
        batchCount = 0
        switch count {
        case 0: return true
        case 1: return deliverBuffered(Self.responseHeaderBytes..<end)
        default:
            Self.setHeader(of: &batch, at: 0, messageID: IPCLimits.eventBatchMessageID, size: Int32(end))
            return deliverBuffered(0..<end)
        }
    }

    /// Empties the batch buffer, keeping its capacity unless an oversized event grew it.
    private func resetBatch() {
        batch.removeAll(keepingCapacity: batch.capacity <= 2 * (Self.responseHeaderBytes + IPCLimits.eventBatchBytesMax))
        batchCount = 0
    }

    /// Closes the connection from the server side.
    public func disconnect() {
        guard let handle else { return }
        qb_ipcs_disconnect(handle)
    }

    // MARK: - Internals

    enum SendOutcome { case sent, full, gone }

    private func trySendEvent(_ frame: UnsafeRawBufferPointer) -> SendOutcome {
        guard let handle else { return .gone }
        var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: frame.baseAddress), iov_len: frame.count)
        let rc = qb_ipcs_event_sendv(handle, &iov, 1)
        if rc >= 0 { return .sent }
        if rc == -Int(EAGAIN) || rc == -Int(ENOBUFS) { return .full }
        if rc == -Int(EMSGSIZE) {
            server?.report(self, "dropped an event of \(frame.count) bytes: larger than the client's buffer")
            return .sent
        }
        return .gone
    }

    private func enqueue(_ frame: [UInt8]) -> Bool {
        if queuedEventCount == 0 { lastProgress = EventLoop.now() }
        if disconnectIfStalled() { return false }
        if queuedEventCount >= IPCLimits.eventQueueCountMax || queuedBytes + frame.count > IPCLimits.eventQueueBytesMax {
            server?.report(self, "disconnecting: the client is not reading its events fast enough (\(queuedEventCount) events, \(queuedBytes) bytes queued)")
            drop()
            disconnect()
            return false
        }
        queued.append(frame)
        queuedBytes += frame.count
        server?.scheduleFlush()
        return true
    }

    /// Disconnects a client whose queued events have not moved for the server's stall limit. Returns true if it did.
    func disconnectIfStalled() -> Bool {
        guard queuedEventCount > 0, let limit = server?.eventStallLimit, EventLoop.now() - lastProgress > limit else { return false }
        server?.report(self, "disconnecting: the client is not reading its events (none read for \(limit), \(queuedEventCount) events queued)")
        drop()
        disconnect()
        return true
    }

    /// Sends as many queued events as fit. Returns true when the queue is empty.
    func flush() -> Bool {
        while queueHead < queued.count {
            switch queued[queueHead].withUnsafeBytes({ trySendEvent($0) }) {
            case .sent:
                lastProgress = EventLoop.now()
                queuedBytes -= queued[queueHead].count
                queued[queueHead] = []
                queueHead += 1
            case .full:
                compact()
                return false
            case .gone:
                drop()
                return true
            }
        }
        drop()
        return true
    }

    private func compact() {
        if queueHead > 1024 && queueHead * 2 > queued.count {
            queued.removeFirst(queueHead)
            queueHead = 0
        }
    }

    private func drop() {
        queued = []
        queueHead = 0
        queuedBytes = 0
    }

    func closed() {
        handle = nil
        drop()
        batch = []
        batchCount = 0
    }

    private func send(header: inout qb_ipc_response_header, body: [UInt8],
                      _ sendv: (UnsafeMutablePointer<iovec>, Int) -> Int) -> Int {
        withUnsafeMutableBytes(of: &header) { h in
            body.withUnsafeBytes { b in
                var iov = [
                    iovec(iov_base: h.baseAddress, iov_len: h.count),
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count),
                ]
                return iov.withUnsafeMutableBufferPointer { sendv($0.baseAddress!, body.isEmpty ? 1 : 2) }
            }
        }
    }
}
