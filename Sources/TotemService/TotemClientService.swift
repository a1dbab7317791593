// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterTypes
import TotemCore

/// totemd's IPC side: channels, multicasts in, deliveries and configuration changes out, status and leave.
///
/// Multicasts are one-way. They pass through a FIFO here on their way into the core; when the core pushes back, the
/// FIFO holds them and IPC flow control makes clients' sends fail with "try again", so nothing is dropped and
/// nothing grows without bound.
final class TotemClientService: IPCServiceHandler {
    unowned let daemon: TotemDaemon
    private var subscriptions: [UInt64: Set<UInt16>] = [:]
    private var byChannel: [UInt16: [IPCConnection]] = [:]
    private var pending: [(UInt16, Totem.Guarantee, [UInt8])] = []
    private var pendingHead = 0
    private var coreBlocked = false
    private var flowControlOn = false
    /// Connections that have multicast: told `.sendReady` when flow control goes off, if they also read events (they
    /// have opened a channel; one that only sends would let the events pile up unread).
    private var senders: [UInt64: IPCConnection] = [:]
    /// Messages (and bytes) waiting here before IPC flow control engages. Small, so that a saturated ring's
    /// queueing delay stays low; the core's own queue is small for the same reason.
    static let pendingCountMax = 256
    /// A batch from groupd (at most 128 KiB, `TotemIPC.batchBytesMax`) is taken whole, so this holds one at most.
    static let pendingBytesMax = 64 << 10
    private(set) var pendingBytes = 0
    /// Multicasts waiting here for the core.
    var pendingCount: Int { pending.count - pendingHead }
    /// Whether clients are being told to back off.
    var isFlowControlled: Bool { flowControlOn }

    init(daemon: TotemDaemon) { self.daemon = daemon }

    func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        let request: TotemIPC.Request
        do { request = try TotemIPC.Request.decode(messageID: messageID, body: body) } catch {
            daemon.logger.warning("client pid \(c.pid) sent an invalid request \(messageID): \(error)")
            if TotemIPC.Request.expectsReply(messageID: messageID) { c.respond(messageID: messageID, status: .invalidRequest) }
            return
        }
        switch request {
        case .open(let channels):
            subscribe(c, to: Set(channels))
            c.respond(TotemIPC.Response.opened(nodeID: daemon.core.nodeID, configuration: daemon.currentConfiguration))
        case .multicast(let channel, let safe, let payload):
            guard accepting(from: c) else { return }
            senders[c.id] = c
            pending.append((channel, safe ? .safe : .agreed, payload))
            pendingBytes += payload.count
            drain()
        case .multicastBatch(let list):
            guard accepting(from: c) else { return }
            senders[c.id] = c
            for m in list {
                pending.append((m.channel, m.safe ? .safe : .agreed, m.payload))
                pendingBytes += m.payload.count
            }
            drain()
        case .status:
            c.respond(TotemIPC.Response.status(daemon.status()))
        case .leave:
            // One-way: a refusal is logged, not answered.
            guard c.uid == 0 else {
                daemon.logger.warning("pid \(c.pid) (uid \(c.uid)) asked totemd to leave; only root may")
                return
            }
            daemon.shutdown(reason: "leave requested by pid \(c.pid)")
        }
    }

    /// False (and the client disconnected) when a client keeps sending while flow control is on: it ignores it.
    private func accepting(from c: IPCConnection) -> Bool {
        guard pending.count - pendingHead >= Self.pendingCountMax * 8 else { return true }
        daemon.logger.warning("client pid \(c.pid) ignores flow control (\(pending.count - pendingHead) multicasts waiting); disconnecting it")
        c.disconnect()
        return false
    }

    func disconnected(_ c: IPCConnection) {
        subscribe(c, to: [])
        senders[c.id] = nil
    }

    private func subscribe(_ c: IPCConnection, to channels: Set<UInt16>) {
        for ch in subscriptions[c.id] ?? [] {
            byChannel[ch]?.removeAll { $0 === c }
            if byChannel[ch]?.isEmpty == true { byChannel[ch] = nil }
        }
        subscriptions[c.id] = channels.isEmpty ? nil : channels
        for ch in channels.sorted() { byChannel[ch, default: []].append(c) }
    }

    /// Moves queued multicasts into the core while it accepts them.
    private func drain() {
        while pendingHead < pending.count && !coreBlocked {
            let (channel, guarantee, payload) = pending[pendingHead]
            // Never called while the driver carries out an output (see coreBackPressure), so the answer is immediate.
            guard let out = daemon.driver.feed(.submit(channel: channel, payload: payload, guarantee: guarantee)) else {
                preconditionFailure("a multicast was submitted from inside the core's output")
            }
            if out.submitted == .tryAgain {
                coreBlocked = true
                break
            }
            pendingBytes -= payload.count
            pending[pendingHead].2 = []
            pendingHead += 1
            if out.submitted == .tooLarge { daemon.logger.warning("dropped a multicast of \(payload.count) bytes: too large") }
        }
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
        updateFlowControl()
    }

    /// The core announces when its queue fills (true) and when it has drained below half (false).
    /// Called while an output is carried out: the queue is drained on the next turn of the loop, not from inside it.
    func coreBackPressure(_ on: Bool) {
        if !on {
            coreBlocked = false
            daemon.runner.loop.soon { [unowned self] in drain() }
        }
        updateFlowControl()
    }

    private func updateFlowControl() {
        let backlog = pending.count - pendingHead
        let shouldBlock = backlog >= Self.pendingCountMax || pendingBytes >= Self.pendingBytesMax || (coreBlocked && backlog > 0)
        if shouldBlock != flowControlOn {
            flowControlOn = shouldBlock
            daemon.clientServer.setFlowControl(blocked: shouldBlock)
            if !shouldBlock {
                // A sender refused meanwhile would otherwise find out only when it next tries (groupd: 2 ms later).
                for c in senders.values where subscriptions[c.id] != nil { c.sendEvent(TotemIPC.Event.sendReady) }
            }
        }
    }

    // MARK: - Upcalls

    func broadcast(configuration: TotemIPC.Configuration) {
        let event = TotemIPC.Event.configuration(configuration)
        let body = event.body
        for c in daemon.clientServer.openConnections where subscriptions[c.id] != nil {
            c.sendEvent(messageID: event.messageID, body: body)
        }
    }

    func deliver(_ d: Totem.Delivery) {
        guard let targets = byChannel[d.channel], !targets.isEmpty else { return }
        // Encoded straight into each subscriber's batch: no body array in between (one copy of the payload each).
        let event = TotemIPC.Event.delivery(channel: d.channel, sender: d.sender, safe: d.guarantee == .safe, payload: d.payload,
                                            position: d.position)
        for c in targets { c.sendEvent(event) }
    }
}
