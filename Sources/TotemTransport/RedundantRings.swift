// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Totem's redundant rings (openais RRP): one `UDPTransport` per ring, ring 0 from the node names and one more per
/// `<altname>`. Packets are sealed once and sent on the rings the mode picks; what arrives on any ring goes to the
/// protocol, which already discards duplicates.
///
/// - `active` (cman's choice when altnames exist): every packet on every ring, so losing a ring loses nothing.
/// - `passive`: each destination's packets take the healthy rings in turn; a faulty ring gets a copy of a packet at
///   most every `probeInterval`, so its recovery is noticed.
///
/// `RingHealth` judges the rings from what arrives; a port-unreachable report reaches the protocol only when every
/// ring reports the peer, so a broken ring is not mistaken for a dead process.
public final class RedundantRings {
    public enum Mode: String, Sendable {
        case active, passive
    }

    public let rings: [UDPTransport]
    public let mode: Mode
    public private(set) var health: RingHealth
    private let crypto: PacketCrypto
    private var replay = ReplayWindow()
    private var replayed = 0
    private var nextRing: [Int: Int] = [:]
    private var lastProbe: [MonotonicInstant?]
    private let clock: () -> MonotonicInstant
    /// Called with each authentic datagram's sender and plaintext, once, from whichever ring it came first.
    public var onDatagram: (NodeID, [UInt8]) -> Void = { _, _ in }
    /// Called when every ring reports `peer`'s port closed.
    public var onUnreachable: (NodeID) -> Void = { _ in }
    /// How often a faulty ring gets a probe copy in passive mode.
    public static let probeInterval: Duration = .milliseconds(250)

    /// `window`: how long a ring may hear nothing from a peer that another ring hears before it is faulty.
    public init(rings: [UDPTransport], mode: Mode, crypto: PacketCrypto, window: Duration, clock: @escaping () -> MonotonicInstant) {
        precondition(!rings.isEmpty)
        self.rings = rings
        self.mode = mode
        self.crypto = crypto
        self.clock = clock
        health = RingHealth(ringCount: rings.count, window: window, now: clock())
        lastProbe = Array(repeating: nil, count: rings.count)
        for (i, ring) in rings.enumerated() {
            ring.onDatagram = { [unowned self] sender, opened in
                // Every copy shows the ring works; only the first goes on (the others, or a replay, are dropped).
                health.heard(sender, on: i, at: self.clock())
                if self.crypto.mode == .encrypted,
                   replay.check(sender: sender, session: opened.session, counter: opened.counter) != .fresh {
                    replayed += 1
                    return
                }
                onDatagram(sender, opened.plaintext)
            }
            ring.onUnreachable = { [unowned self] peer in
                if health.unreachable(peer, on: i, at: self.clock()) { onUnreachable(peer) }
            }
        }
    }

    /// Opens every ring's sockets; a ring that cannot open stops the start.
    public func open() throws(TransportError) {
        for ring in rings { try ring.open() }
    }

    public func close() { for ring in rings { ring.close() } }

    /// The descriptors to watch, with the ring that reads each.
    public var descriptors: [(Int32, UDPTransport)] { rings.flatMap { ring in ring.descriptors.map { ($0, ring) } } }

    /// Seals `bytes` once and sends it on the rings the mode picks.
    public func send(_ bytes: [UInt8], to destination: UDPTransport.Destination) {
        let packet = crypto.seal(bytes)
        if rings.count == 1 || mode == .active {
            for ring in rings { ring.send(packet: packet, to: destination) }
            return
        }
        let key: Int
        switch destination {
        case .all: key = -1
        case .node(let n): key = Int(n.rawValue)
        }
        let healthy = rings.indices.filter { health.isHealthy($0) }
        let candidates = healthy.isEmpty ? Array(rings.indices) : healthy
        let turn = nextRing[key, default: 0]
        nextRing[key] = turn &+ 1
        let chosen = candidates[turn % candidates.count]
        rings[chosen].send(packet: packet, to: destination)
        let now = clock()
        for i in rings.indices where i != chosen && !candidates.contains(i) {
            if lastProbe[i].map({ now - $0 >= Self.probeInterval }) ?? true {
                lastProbe[i] = now
                rings[i].send(packet: packet, to: destination)
            }
        }
    }

    /// Seals each datagram once and sends them in order, with as few system calls as possible on each ring
    /// (passive mode picks a ring per datagram, as `send` does).
    public func send(batch: [(bytes: [UInt8], destination: UDPTransport.Destination)]) {
        guard rings.count == 1 || mode == .active else {
            for item in batch { send(item.bytes, to: item.destination) }
            return
        }
        let sealed = batch.map { (packet: crypto.seal($0.bytes), destination: $0.destination) }
        for ring in rings { ring.send(batch: sealed) }
    }

    /// Re-judges the rings; returns what changed (for the log).
    public func evaluate() -> [RingHealth.Change] { health.evaluate(at: clock()) }

    /// Every ring's counters added up.
    public var counters: UDPTransport.Counters {
        var total = rings.map(\.counters).reduce(into: UDPTransport.Counters()) { sum, c in
            sum.sent += c.sent
            sum.received += c.received
            sum.sendErrors += c.sendErrors
            sum.unauthentic += c.unauthentic
            sum.unknownSource += c.unknownSource
            sum.wrongSender += c.wrongSender
            sum.unreachable += c.unreachable
            sum.sendCalls += c.sendCalls
            sum.receiveCalls += c.receiveCalls
            sum.segmentedSends += c.segmentedSends
            sum.segmentationRefused += c.segmentationRefused
            sum.coalescedReads += c.coalescedReads
        }
        total.replayed = replayed
        return total
    }
}
