// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes

/// A daemon's connection to its node's totemd on one channel, driven from the daemon's `EventLoop`: connects (and
/// retries while totemd starts), hands every configuration change and delivery to `onEvent`, and multicasts in order,
/// holding messages while totemd pushes back.
public final class TotemChannel {
    public let instance: NodeInstance
    public let channel: UInt16
    private let loop: EventLoop
    private var client: TotemClient?
    private var outbox: [[UInt8]] = []
    private var outboxHead = 0
    private var outboxBytes = 0
    private var retryScheduled = false
    private var flushScheduled = false
    /// The batch at the head of the outbox, encoded, while totemd refuses it.
    private var heldBatch: TotemClient.EncodedBatch?
    /// Configuration changes and deliveries, in totem's order (`.sendReady` is the channel's own business).
    public var onEvent: (TotemIPC.Event) -> Void = { _ in }
    /// Called once connected, with this node's id and the current configuration if there is one.
    public var onConnected: (NodeID, TotemIPC.Configuration?) -> Void = { _, _ in }
    /// Called when totemd cannot be reached or goes away.
    public var onFailure: (IPCError) -> Void = { _ in }

    /// How long to keep retrying the first connection.
    public static let connectAttemptsMax = 300

    public init(instance: NodeInstance, channel: UInt16, loop: EventLoop) {
        self.instance = instance
        self.channel = channel
        self.loop = loop
    }

    /// Starts connecting (retrying every 100 ms while totemd is not up yet).
    public func connect() { attempt(0) }

    /// Messages waiting for totemd to accept them.
    public var backlog: Int { outbox.count - outboxHead }

    /// Payload bytes of the messages waiting for totemd to accept them.
    public var backlogBytes: Int { outboxBytes }

    /// Messages totemd has taken from this channel so far (a running count, for pacing).
    public private(set) var taken = 0

    /// Whether totemd is connected (not yet, or gone: false).
    public var isConnected: Bool { client != nil }

    private func attempt(_ n: Int) {
        do throws(IPCError) {
            let c = try TotemClient(instance: instance)
            let (node, conf) = try c.open(channels: [channel])
            client = c
            guard let fd = c.eventFD else { throw IPCError.peerGone(service: c.service) }
            loop.watch(fd: fd, events: [.readable, .error, .hangup]) { [unowned self] _ in self.readable() }
            onConnected(node, conf)
        } catch {
            if n < Self.connectAttemptsMax {
                loop.schedule(after: .milliseconds(100)) { [unowned self] in attempt(n + 1) }
            } else {
                onFailure(error)
            }
        }
    }

    private func readable() {
        guard let c = client else { return }
        do {
            var heard = false
            while let e = try c.nextEvent(timeoutMilliseconds: 0) {
                heard = true
                if case .sendReady = e { continue }
                onEvent(e)
            }
            // Whatever waits goes now, not at the 2-ms retry: after `.sendReady` (totemd takes multicasts again), and
            // after a refusal because totemd had not read what this channel sent before (`SendAhead.totemClient`),
            // which nothing announces but any event from totemd hints at (its loop ran). A lone 16 KiB sender lost up
            // to 40 % of its throughput waiting for the timer.
            if heard && backlog > 0 && !flushScheduled { flush() }
        } catch {
            fail(error)
        }
    }

    /// Multicasts `payload` after everything queued before it. Messages queued in one turn of the loop go to totemd
    /// together, as batches, at the end of the turn: one IPC message and one wake-up of totemd per batch.
    public func multicast(_ payload: [UInt8]) {
        outbox.append(payload)
        outboxBytes += payload.count
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.soon { [unowned self] in
            flushScheduled = false
            flush()
        }
    }

    private func flush() {
        guard let c = client else { return }
        while outboxHead < outbox.count {
            var end = outboxHead
            var bytes = 0
            while end < outbox.count && end - outboxHead < TotemIPC.batchCountMax
                && (end == outboxHead || bytes + outbox[end].count <= TotemIPC.batchBytesMax) {
                bytes += outbox[end].count
                end += 1
            }
            do {
                if end - outboxHead == 1 {
                    try c.multicast(channel: channel, payload: outbox[outboxHead])
                } else {
                    // Encoded once: while totemd pushes back, the same batch is offered again every retry.
                    let batch = heldBatch ?? TotemClient.EncodedBatch(channel: channel, payloads: outbox[outboxHead..<end])
                    heldBatch = batch
                    end = outboxHead + batch.count
                    try c.multicast(batch)
                    heldBatch = nil
                }
                for i in outboxHead..<end {
                    outboxBytes -= outbox[i].count
                    outbox[i] = []
                }
                taken += end - outboxHead
                outboxHead = end
            } catch {
                if error == .tryAgain {
                    if !retryScheduled {
                        retryScheduled = true
                        loop.schedule(after: .milliseconds(2)) { [unowned self] in
                            retryScheduled = false
                            flush()
                        }
                    }
                } else {
                    fail(error)
                }
                return
            }
        }
        outbox.removeAll(keepingCapacity: true)
        outboxHead = 0
        outboxBytes = 0
    }

    private func fail(_ error: IPCError) {
        if let fd = client?.eventFD { loop.unwatch(fd: fd) }
        client = nil
        onFailure(error)
    }

    /// Asks totemd to leave the ring and stop (`cman_tool leave` stops the node's whole stack), on this channel's
    /// connection and without waiting: the request is one-way. Nothing is sent if totemd is not connected (it is gone
    /// already); messages still held by flow control are not waited for.
    public func leave() {
        flush()
        guard let c = client else { return }
        do { try c.leave() } catch {
            // It may be gone already, or saturated: nothing here can wait for it.
            onLeaveFailure(error)
        }
    }

    /// Called when `leave` could not be sent.
    public var onLeaveFailure: (IPCError) -> Void = { _ in }

    /// Sends what is still queued (best effort: totemd may refuse it) and closes the connection.
    public func close() {
        flush()
        client?.close()
    }
}
