// SPDX-License-Identifier: Apache-2.0
import CQB
import ClusterIPCProtocol
#if canImport(Glibc)
import Glibc
#endif

/// A reply from a daemon: the message id, the status and the body.
public struct IPCReply: Sendable {
    public var messageID: Int32
    public var status: IPCStatus
    public var body: [UInt8]
}

/// An event pushed by a daemon.
public struct IPCEvent: Sendable {
    public var messageID: Int32
    public var body: [UInt8]
}

/// A connection to a daemon's IPC service.
///
/// Requests are synchronous (one outstanding at a time, as with libcman); events arrive on `eventFD`, which a
/// caller's poll loop watches before calling `receiveEvent(timeoutMilliseconds: 0)` until it returns nil.
///
/// Thread-safe: libqb's client connection is not, and neither is the reply buffer nor the batch of unread events,
/// so every use of them (a call, a send, reading an event, disconnecting) is serialised by one lock. A call holds it
/// until its reply; an event reader that waits (a timeout other than 0) waits outside it, so one thread can read
/// events (a dispatch source on `eventFD`) while another makes calls.
public final class IPCClient: @unchecked Sendable {  // every mutable field is touched under `lock` only
    public let service: String
    private let lock = IPCClientLock()
    private var handle: OpaquePointer?
    private var buffer: [UInt8]
    /// The bytes of a batch of events already read (copied out of `buffer` in one piece, as replies reuse that),
    /// handed out one event at a time before anything newer, each decoded where it lies; `batchNext` is where the
    /// next one's header starts.
    private var batch: [UInt8] = []
    private var batchNext = 0
    /// The largest message this connection can carry.
    public let maxMessageBytes: Int
    /// The bound on one-way sends the server has not read yet (nil: none, as libqb; or where the kernel cannot tell).
    private var window: SendAheadWindow?
    private var heldBack = 0

    private static let responseHeaderSize = MemoryLayout<qb_ipc_response_header>.size
    private static let requestHeaderSize = MemoryLayout<qb_ipc_request_header>.size

    /// Connects to `service`. Fails with `.notRunning` or `.permissionDenied` when those are the reasons. With
    /// `sendAhead`, one-way sends throw `.tryAgain` while the server is that far behind (see `SendAhead`).
    public init(service: String, bufferBytes: Int = IPCLimits.bufferBytes, sendAhead: SendAhead? = nil) throws(IPCError) {
        self.service = service
        guard let c = qb_ipcc_connect(service, bufferBytes) else {
            throw IPCError.connectFailure(service: service, errno: errno)
        }
        handle = c
        let size = Int(qb_ipcc_get_buffer_size(c))
        maxMessageBytes = max(size, 4096) - 64
        buffer = [UInt8](repeating: 0, count: max(size, 4096))
        if let sendAhead, let notification = Self.notificationBytes, let fd = eventFDLocked {
            // libqb's own send must never find the socket full (it would spin): stay within three quarters of the
            // socket's room for notifications.
            var sendBuffer: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            let room = getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sendBuffer, &length) == 0 ? Int(sendBuffer) / notification : Int.max
            window = SendAheadWindow(limit: sendAhead.capped(requests: room / 4 * 3), notificationBytes: notification)
        }
    }

    /// The kernel's size of an unread one-byte send on a unix stream socket (nil where it cannot be read).
    private static let notificationBytes: Int? = {
        let n = Int(cqb_one_byte_send_truesize())
        return n > 0 ? n : nil
    }()

    /// One-way sends refused so far because the server was too far behind (`SendAhead`).
    public var sendsHeldBack: Int { lock.locked { heldBack } }

    deinit { disconnectLocked() }

    /// Closes the connection; a call or event read under way on another thread finishes first.
    public func disconnect() { lock.locked { disconnectLocked() } }

    private func disconnectLocked() {
        if let h = handle {
            qb_ipcc_disconnect(h)
            handle = nil
        }
    }

    /// True while connected.
    public var isConnected: Bool {
        lock.locked {
            guard let h = handle else { return false }
            return qb_ipcc_is_connected(h) != 0
        }
    }

    /// The descriptor that becomes readable when events (or a hang-up) are waiting.
    public var eventFD: Int32? { lock.locked { eventFDLocked } }

    private var eventFDLocked: Int32? {
        guard let h = handle else { return nil }
        var fd: Int32 = -1
        return qb_ipcc_fd_get(h, &fd) == 0 ? fd : nil
    }

    /// Sends a request and waits for its reply. A reply with a status other than ok is returned, not thrown.
    public func call(messageID: Int32, body: [UInt8], timeoutMilliseconds: Int32 = 30_000) throws(IPCError) -> IPCReply {
        try lock.locked { () throws(IPCError) -> IPCReply in try callLocked(messageID: messageID, body: body, timeoutMilliseconds: timeoutMilliseconds) }
    }

    private func callLocked(messageID: Int32, body: [UInt8], timeoutMilliseconds: Int32) throws(IPCError) -> IPCReply {
        guard let h = handle else { throw .peerGone(service: service) }
        try checkSize(body.count)
        let n = withRequest(messageID: messageID, body: body) { iov, count in
            buffer.withUnsafeMutableBytes { out in
                qb_ipcc_sendv_recv(h, iov, UInt32(count), out.baseAddress, out.count, timeoutMilliseconds)
            }
        }
        if n >= 0 { window?.sent(Self.requestHeaderSize + body.count) }
        if n < 0 {
            // A late reply would be taken as the answer to the next request: after a timeout the connection is
            // unusable, so close it.
            if Int32(-n) == ETIMEDOUT { disconnectLocked() }
            throw mapFailure(Int32(-n), timeout: timeoutMilliseconds)
        }
        return try parseReply(count: n)
    }

    /// Sends a typed request and decodes a typed reply; a non-ok status throws `.status`.
    public func call<Request: IPCMessage, Response: IPCMessage>(_ request: Request, expecting: Response.Type,
                                                              timeoutMilliseconds: Int32 = 30_000) throws(IPCError) -> Response {
        let reply = try call(messageID: request.messageID, body: request.body, timeoutMilliseconds: timeoutMilliseconds)
        guard reply.status == .ok else { throw .status(reply.status, service: service) }
        do {
            return try Response.decode(messageID: reply.messageID, body: reply.body)
        } catch {
            throw .protocolError("\(service) sent an undecodable reply \(reply.messageID): \(error)")
        }
    }

    /// Sends a message that gets no reply (one-way). Throws `.tryAgain` under flow control, and with a `SendAhead`
    /// bound while the server is that far behind: wait (poll `eventFD` for a millisecond, or the events that arrive)
    /// and send it again.
    ///
    /// Servers throttle one-way messages with libqb's second flow-control level, which only blocks a send when the
    /// client allows level 2 for it (as libcpg does around its multicasts); requests with replies stay unblocked.
    public func send(messageID: Int32, body: [UInt8]) throws(IPCError) {
        try lock.locked { () throws(IPCError) in try sendLocked(messageID: messageID, body: body) }
    }

    private func sendLocked(messageID: Int32, body: [UInt8]) throws(IPCError) {
        guard let h = handle else { throw .peerGone(service: service) }
        try checkSize(body.count)
        let size = Self.requestHeaderSize + body.count
        if window != nil, let fd = eventFDLocked, window?.admits(size, socketBytes: Int(cqb_unread_out_bytes(fd))) == false {
            heldBack += 1
            throw .tryAgain
        }
        qb_ipcc_fc_enable_max_set(h, 2)
        defer { qb_ipcc_fc_enable_max_set(h, 1) }
        let n = withRequest(messageID: messageID, body: body) { iov, count in qb_ipcc_sendv(h, iov, count) }
        if n < 0 { throw mapFailure(Int32(-n), timeout: 0) }
        window?.sent(size)
    }

    /// Events already read from a batch and not yet returned: `eventFD` does not show them, so a caller that waits
    /// on it must read until `receiveEvent` returns nil (or check this first).
    public var hasBufferedEvents: Bool { lock.locked { batchNext < batch.count } }

    /// The next event, waiting up to `timeoutMilliseconds` (0: don't wait, -1: forever). Nil if none arrived. Events
    /// that came as one batch (`IPCLimits.eventBatchMessageID`) are returned one at a time, in order.
    ///
    /// A wait happens outside the connection's lock (a poll of `eventFD`), so calls from other threads go on.
    public func receiveEvent(timeoutMilliseconds: Int32) throws(IPCError) -> IPCEvent? {
        var event: IPCEvent?
        try receiveEvent(timeoutMilliseconds: timeoutMilliseconds) { id, bytes, range throws(IPCError) in
            event = IPCEvent(messageID: id, body: Array(bytes[range]))
        }
        return event
    }

    /// The next event decoded as `M`, as `receiveEvent(timeoutMilliseconds:)` but read where it lies in the receive
    /// buffer (no array for each event's body first: one allocation an event fewer). An event that does not decode
    /// throws `.protocolError` naming it.
    ///
    /// Inlinable, so that each caller gets it specialised for its `M`; the wait it calls is not generic. (Generic,
    /// every event looked up the metadata of `M?` and of a tuple of it in the runtime's locked caches: about 5 %
    /// of groupd's time under a 64-byte load.)
    @inlinable
    public func receiveEvent<M: IPCMessage>(_ type: M.Type, timeoutMilliseconds: Int32) throws(IPCError) -> M? {
        var event: M?
        var failure: (id: Int32, error: any Error)?
        try receiveEvent(timeoutMilliseconds: timeoutMilliseconds) { id, bytes, range throws(IPCError) in
            do { event = try M.decode(messageID: id, body: bytes, range: range) } catch { failure = (id, error) }
        }
        if let failure { throw undecodableEvent(failure.id, failure.error) }
        return event
    }

    /// The error for an event that did not decode.
    @usableFromInline
    func undecodableEvent(_ id: Int32, _ error: any Error) -> IPCError {
        .protocolError("undecodable event \(id) from \(service): \(error)")
    }

    /// The wait, shared by both: `take` gets the event's id and where its body lies (bytes and range), under the
    /// connection's lock; false if no event came.
    @usableFromInline @discardableResult
    func receiveEvent(timeoutMilliseconds: Int32,
                      _ take: (Int32, [UInt8], Range<Int>) throws(IPCError) -> Void) throws(IPCError) -> Bool {
        let deadline = timeoutMilliseconds > 0 ? ContinuousClock.now + .milliseconds(timeoutMilliseconds) : nil
        while true {
            var fd: Int32?
            let got = try lock.locked { () throws(IPCError) -> Bool in
                fd = eventFDLocked
                return try receiveEventLocked(take)
            }
            if got { return true }
            if timeoutMilliseconds == 0 { return false }
            guard let fd else { throw .peerGone(service: service) }
            var wait: Int32 = -1
            if let deadline {
                let left = deadline - ContinuousClock.now
                if left <= .zero { return false }
                wait = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, wait)
            if ready < 0 && errno != EINTR { throw .system(operation: "poll of \(service)'s events", errno: errno) }
            if ready == 0 {  // timed out: one last look, as libqb's own wait would have
                return try lock.locked { () throws(IPCError) -> Bool in try receiveEventLocked(take) }
            }
            if ready > 0 && p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {  // hung up: no busy loop on it
                return try lock.locked { () throws(IPCError) -> Bool in
                    if try receiveEventLocked(take) { return true }
                    disconnectLocked()
                    throw .peerGone(service: service)
                }
            }
        }
    }

    /// Hands the next event to `take` now, if there is one (true); under the lock.
    private func receiveEventLocked(_ take: (Int32, [UInt8], Range<Int>) throws(IPCError) -> Void) throws(IPCError) -> Bool {
        let timeoutMilliseconds: Int32 = 0
        if batchNext < batch.count {
            let (id, body) = try nextInBatch()
            try take(id, batch, body)
            return true
        }
        guard let h = handle else { throw .peerGone(service: service) }
        let n = buffer.withUnsafeMutableBytes { qb_ipcc_event_recv(h, $0.baseAddress, $0.count, timeoutMilliseconds) }
        if n < 0 {
            let e = Int32(-n)
            if e == EAGAIN || e == ETIMEDOUT { return false }
            throw mapFailure(e, timeout: timeoutMilliseconds)
        }
        guard n >= Self.responseHeaderSize else { throw .protocolError("\(service) sent a \(n)-byte event, shorter than its header") }
        let id = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: Int32.self) }
        guard id == IPCLimits.eventBatchMessageID else {
            try take(id, buffer, Self.responseHeaderSize..<n)
            return true
        }
        guard n > Self.responseHeaderSize else { throw .protocolError("\(service) sent an empty batch of events") }
        // One copy of the whole batch (into capacity kept from the last one), no array per event.
        batch.removeAll(keepingCapacity: true)
        batch.append(contentsOf: buffer[Self.responseHeaderSize..<n])
        batchNext = 0
        let (first, body) = try nextInBatch()
        try take(first, batch, body)
        return true
    }

    /// The id and body range of the batch's next event: a response header (id, size) followed by its body. A batch
    /// that does not parse is dropped from there on.
    private func nextInBatch() throws(IPCError) -> (Int32, Range<Int>) {
        let offset = batchNext
        let left = batch.count - offset
        guard left >= Self.responseHeaderSize else {
            batchNext = batch.count
            throw .protocolError("\(service) sent a batch of events with a truncated header")
        }
        let (id, size) = batch.withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self), Int(raw.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self)))
        }
        guard size >= Self.responseHeaderSize, size <= left, id != IPCLimits.eventBatchMessageID else {
            batchNext = batch.count
            throw .protocolError("\(service) sent a batch of events with an event of \(size) bytes")
        }
        batchNext = offset + size
        return (id, (offset + Self.responseHeaderSize)..<(offset + size))
    }

    /// Calls `send` with the request header and body as an iovec array (one entry when the body is empty).
    private func withRequest(messageID: Int32, body: [UInt8], _ send: (UnsafeMutablePointer<iovec>, Int) -> Int) -> Int {
        var header = qb_ipc_request_header()
        header.id = messageID
        header.size = Int32(Self.requestHeaderSize + body.count)
        return withUnsafeMutableBytes(of: &header) { hdr in
            body.withUnsafeBytes { b in
                var iov = [iovec(iov_base: hdr.baseAddress, iov_len: hdr.count),
                           iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)]
                return iov.withUnsafeMutableBufferPointer { send($0.baseAddress!, body.isEmpty ? 1 : 2) }
            }
        }
    }

    private func checkSize(_ bodyCount: Int) throws(IPCError) {
        if bodyCount + Self.requestHeaderSize > maxMessageBytes {
            throw .messageTooLarge(size: bodyCount, limit: maxMessageBytes - Self.requestHeaderSize)
        }
    }

    private func parseReply(count n: Int) throws(IPCError) -> IPCReply {
        guard n >= Self.responseHeaderSize else { throw .protocolError("\(service) sent a \(n)-byte reply, shorter than its header") }
        return buffer.withUnsafeBytes { raw in
            let id = raw.loadUnaligned(fromByteOffset: 0, as: Int32.self)
            let err = raw.loadUnaligned(fromByteOffset: 16, as: Int32.self)
            let body = Array(raw[Self.responseHeaderSize..<n])
            return IPCReply(messageID: id, status: IPCStatus(rawValue: err) ?? .internalError, body: body)
        }
    }

    private func mapFailure(_ e: Int32, timeout: Int32) -> IPCError {
        switch e {
        case EAGAIN: return .tryAgain
        case ETIMEDOUT: return .timedOut(service: service, milliseconds: Int(timeout))
        case ENOTCONN, EPIPE, ECONNRESET, ESHUTDOWN:
            disconnectLocked()
            return .peerGone(service: service)
        case EMSGSIZE: return .messageTooLarge(size: -1, limit: maxMessageBytes)
        default: return .system(operation: "IPC call to \(service)", errno: e)
        }
    }
}

/// A pthread mutex (the connection's lock; `Synchronization.Mutex` needs a newer macOS than the package supports).
private final class IPCClientLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }
    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}
