// SPDX-License-Identifier: Apache-2.0
import CQB
import ClusterIPCProtocol
#if canImport(Glibc)
import Glibc
#endif

/// What a service does with its connections. All calls arrive on the event loop's thread.
public protocol IPCServiceHandler: AnyObject {
    /// A client connected (after the uid check). Default: nothing.
    func connected(_ connection: IPCConnection)
    /// A request arrived. The handler must answer it exactly once with `connection.respond`, now or later, unless
    /// the service declares the message one-way.
    func received(messageID: Int32, body: [UInt8], from connection: IPCConnection)
    /// The client went away (closed, crashed or was disconnected). Free its state here.
    func disconnected(_ connection: IPCConnection)
}

extension IPCServiceHandler {
    public func connected(_ connection: IPCConnection) {}
}

/// A libqb IPC service served from an `EventLoop`.
///
/// Clients connect by name (`IPCClient.connect`). An admin server (`rootOnly`) refuses every uid but 0 with
/// EACCES, as cman's admin socket did. Diagnostics about misbehaving clients go to `log`.
public final class IPCServer {
    public let name: String
    public let rootOnly: Bool
    private var service: OpaquePointer?
    private let eventLoop: EventLoop
    /// Unowned: the handler must outlive its server (every daemon's does: both live as long as the process). A weak
    /// reference would give the handler a side table, which makes every retain and release of it slower.
    private unowned let handler: any IPCServiceHandler
    private var connections: [UInt64: IPCConnection] = [:]
    private var nextID: UInt64 = 1
    private var flushScheduled = false
    /// Whether flow control is on (see `setFlowControl`).
    public private(set) var flowControlled = false
    /// Receives one line per client problem (slow reader, oversized event).
    public var log: (String) -> Void = { _ in }
    /// A client whose queued events do not move for this long is disconnected.
    public var eventStallLimit: Duration = .seconds(IPCLimits.eventQueueStallSecondsMax)
    /// Whether several events for one client in one turn of the loop go as one batch (see `IPCConnection.sendEvent`).
    /// Only clients built on `IPCClient` understand batches: a service for unmodified libqb clients turns it off.
    public let batchesEvents: Bool
    private var turnEnders: [IPCConnection] = []

    /// A server on `loop` that calls `handler`, which it does not retain: the handler must outlive the server.
    public init(name: String, rootOnly: Bool = false, batchesEvents: Bool = true, loop: EventLoop, handler: any IPCServiceHandler) {
        self.name = name
        self.rootOnly = rootOnly
        self.batchesEvents = batchesEvents
        self.eventLoop = loop
        self.handler = handler
    }

    /// Starts listening. Throws if the name is taken or libqb cannot create the service.
    public func start() throws(IPCError) {
        precondition(service == nil, "IPC server \(name) started twice")
        var handlers = qb_ipcs_service_handlers(
            connection_accept: serverAccept, connection_created: serverCreated, msg_process: serverMessage,
            connection_closed: serverClosed, connection_destroyed: serverDestroyed)
        guard let s = qb_ipcs_create(name, 0, QB_IPC_NATIVE, &handlers) else {
            throw .system(operation: "create IPC service \(name)", errno: errno)
        }
        var poll = LoopRegistry.pollHandlers
        qb_ipcs_poll_handlers_set(s, &poll)
        qb_ipcs_service_context_set(s, Unmanaged.passUnretained(self).toOpaque())
        qb_ipcs_enforce_buffer_size(s, UInt32(IPCLimits.bufferBytes))
        let rc = qb_ipcs_run(s)
        if rc != 0 {
            // libqb has already released the service when qb_ipcs_run fails: destroying it again trips its
            // reference-count assertion (a second daemon of the same instance aborted instead of saying why).
            throw rc == -EADDRINUSE ? .addressInUse(name) : .system(operation: "listen on IPC service \(name)", errno: -rc)
        }
        service = s
        // libqb reads at most 5 requests of a connection per wake-up at its normal rate, 50 at the fast one (at the
        // loop's high priority, beside the daemons' sockets): a client that sends a burst costs a tenth of the turns.
        qb_ipcs_request_rate_limit(s, QB_IPCS_RATE_FAST)
    }

    /// Stops listening and disconnects every client.
    public func stop() {
        guard let s = service else { return }
        // Events still batched for this turn go first.
        for c in turnEnders { c.endTurn() }
        turnEnders = []
        service = nil
        qb_ipcs_destroy(s)
        for c in connections.values { c.closed() }
        connections = [:]
    }

    deinit { stop() }

    /// The open connections, in connection order.
    public var openConnections: [IPCConnection] { connections.values.sorted { $0.id < $1.id } }

    /// Turns flow control of one-way messages on (clients' `send` fails with "try again", so they retry) or off.
    /// While it is on libqb reads no requests at all, so calls that expect a reply wait until it is off again.
    ///
    /// While it is on, the connections are parked (`LoopRegistry`): libqb would not read them anyway, and their
    /// descriptors would otherwise wake the loop on every turn.
    public func setFlowControl(blocked: Bool) {
        guard blocked != flowControlled else { return }
        flowControlled = blocked
        guard let s = service else { return }
        qb_ipcs_request_rate_limit(s, blocked ? QB_IPCS_RATE_OFF_2 : QB_IPCS_RATE_FAST)
        for c in connections.values { park(c, blocked) }
    }

    private func park(_ c: IPCConnection, _ on: Bool) {
        guard let h = c.handle else { return }
        eventLoop.registry.setParked(UnsafeMutableRawPointer(h), on)
    }

    func report(_ c: IPCConnection, _ message: String) {
        log("\(name): client pid \(c.pid) (connection \(c.id)): \(message)")
    }

    /// Ends `c`'s turn (sends its batch) once the loop has handled what is ready now.
    func endTurnLater(_ c: IPCConnection) {
        turnEnders.append(c)
        guard turnEnders.count == 1 else { return }
        eventLoop.soon { [unowned self] in
            let ending = turnEnders
            turnEnders = []
            for c in ending { c.endTurn() }
        }
    }

    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.schedule(after: .milliseconds(1)) { [unowned self] in flushQueues() }
    }

    private func flushQueues() {
        flushScheduled = false
        var pending = false
        for c in openConnections where c.queuedEventCount > 0 {
            if !c.flush() && !c.disconnectIfStalled() { pending = true }
        }
        if pending { scheduleFlush() }
    }

    // MARK: - libqb callbacks

    fileprivate func accept(uid: UInt32) -> Int32 {
        if rootOnly && uid != 0 { return -EACCES }
        return 0
    }

    fileprivate func created(_ c: OpaquePointer) {
        var stats = qb_ipcs_connection_stats()
        _ = qb_ipcs_connection_stats_get(c, &stats, 0)
        let (uid, gid) = pendingCredentials.removeValue(forKey: c) ?? (UInt32.max, UInt32.max)
        let connection = IPCConnection(handle: c, uid: uid, gid: gid, pid: stats.client_pid, id: nextID, server: self)
        nextID += 1
        connections[connection.id] = connection
        qb_ipcs_context_set(c, Unmanaged.passRetained(connection).toOpaque())
        // libqb flow-controls only the connections open when the limit was set: a client that connects while it is
        // on would not be told to back off. (libqb answers the client's connect just before this callback, so a fast
        // client may still slip a few one-way sends in first; totemd's queue has room for such a burst.)
        if flowControlled, let s = service {
            // Not parked: a connection just created may still have set-up traffic for libqb to read (parking it here
            // let a client's first sends through unrefused). It is parked with the others at the next flow control.
            qb_ipcs_request_rate_limit(s, QB_IPCS_RATE_OFF_2)
        }
        handler.connected(connection)
    }

    /// Credentials seen by `connection_accept`, until libqb reports the same connection created: at most one entry per
    /// connection being accepted (libqb calls created, or destroyed, right after accept).
    fileprivate var pendingCredentials: [OpaquePointer: (UInt32, UInt32)] = [:]

    fileprivate func message(_ c: IPCConnection, _ data: UnsafeRawPointer, _ size: Int) {
        let headerSize = MemoryLayout<qb_ipc_request_header>.size
        guard size >= headerSize else {
            report(c, "request of \(size) bytes is shorter than its header; disconnecting")
            c.disconnect()
            return
        }
        let id = data.loadUnaligned(fromByteOffset: 0, as: Int32.self)
        let body = Array(UnsafeRawBufferPointer(start: data + headerSize, count: size - headerSize))
        handler.received(messageID: id, body: body, from: c)
    }

    fileprivate func destroyed(_ c: IPCConnection) {
        park(c, false) // libqb may reuse the pointer for a later connection
        connections.removeValue(forKey: c.id)
        c.closed()
        handler.disconnected(c)
    }
}

private func serverOf(_ c: OpaquePointer?) -> IPCServer? {
    guard let c, let ctx = qb_ipcs_connection_service_context_get(c) else { return nil }
    return Unmanaged<IPCServer>.fromOpaque(ctx).takeUnretainedValue()
}

private func connectionOf(_ c: OpaquePointer?) -> IPCConnection? {
    guard let c, let ctx = qb_ipcs_context_get(c) else { return nil }
    return Unmanaged<IPCConnection>.fromOpaque(ctx).takeUnretainedValue()
}

private let serverAccept: qb_ipcs_connection_accept_fn = { c, uid, gid in
    guard let server = serverOf(c) else { return -EINVAL }
    let rc = server.accept(uid: uid)
    if rc == 0, let c { server.pendingCredentials[c] = (uid, gid) }
    return rc
}

private let serverCreated: qb_ipcs_connection_created_fn = { c in
    guard let c, let server = serverOf(c) else { return }
    server.created(c)
}

private let serverMessage: qb_ipcs_msg_process_fn = { c, data, size in
    guard let server = serverOf(c), let connection = connectionOf(c), let data else { return 0 }
    server.message(connection, data, size)
    return 0
}

private let serverClosed: qb_ipcs_connection_closed_fn = { _ in 0 }

private let serverDestroyed: qb_ipcs_connection_destroyed_fn = { c in
    guard let c else { return }
    serverOf(c)?.pendingCredentials.removeValue(forKey: c)
    guard let ctx = qb_ipcs_context_get(c) else { return }
    qb_ipcs_context_set(c, nil)
    let connection = Unmanaged<IPCConnection>.fromOpaque(ctx).takeRetainedValue()
    connection.server?.destroyed(connection)
}
