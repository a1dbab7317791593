// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import TotemCore

/// A tiny in-memory network for paper-style tests: datagrams arrive in order after 50 µs unless a filter drops
/// them; time jumps to the next deadline when nothing is in flight.
struct Lockstep {
    var nodes: [Totem.StateMachine?]
    var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    var inflight: [(at: MonotonicInstant, to: Int, bytes: [UInt8])] = []
    var upcalls: [[Totem.Upcall]]
    var persisted: [[UInt64]]
    var sent: [[Totem.Message]]
    /// Back-pressure announcements and submit results, per node, in order.
    var pressure: [[Bool]]
    var submitted: [[Totem.SubmitResult]]
    /// Return false to drop a datagram (from, to, message).
    var filter: (Int, Int, Totem.Message) -> Bool = { _, _, _ in true }
    /// Nodes whose process is gone but whose host answers: senders get `.peerUnreachable`.
    var closedPorts: Set<Int> = []
    /// Links (from, to) a firewall rejects: the packet is dropped and the sender gets `.peerUnreachable(to)`.
    var rejected: Set<[Int]> = []

    init(count: Int, settings: Totem.Settings = Totem.Settings(token: .milliseconds(400)), persisted: [UInt64]? = nil) {
        nodes = (0..<count).map { i in
            Totem.StateMachine(nodeID: NodeID(UInt32(i + 1)), clusterID: 1, settings: settings,
                               persistedRingSequence: persisted?[i] ?? 0)
        }
        upcalls = Array(repeating: [], count: count)
        self.persisted = Array(repeating: [], count: count)
        sent = Array(repeating: [], count: count)
        pressure = Array(repeating: [], count: count)
        submitted = Array(repeating: [], count: count)
    }

    mutating func startAll() {
        for i in nodes.indices { handle(i, .start) }
    }

    mutating func handle(_ i: Int, _ event: Totem.Event) {
        guard var m = nodes[i] else { return }
        let out = m.handle(event, at: now)
        nodes[i] = m
        apply(i, out)
    }

    mutating func apply(_ i: Int, _ out: Totem.Output) {
        if let p = out.ringSequenceToPersist { persisted[i].append(p) }
        upcalls[i] += out.upcalls
        if let b = out.backPressure { pressure[i].append(b) }
        if let r = out.submitted { submitted[i].append(r) }
        for d in out.datagrams {
            guard let packet = try? Totem.Packet.decode(d.bytes) else { continue } // the core's own output always decodes
            sent[i].append(packet.message)
            let targets: [Int]
            switch d.destination {
            case .all: targets = nodes.indices.filter { $0 != i }
            case .node(let n): targets = [Int(n.rawValue) - 1]
            }
            for t in targets where filter(i, t, packet.message) {
                if closedPorts.contains(t) || rejected.contains([i, t]) {
                    inflight.append((now + .microseconds(50), i, Array("unreachable:\(t)".utf8)))
                } else {
                    inflight.append((now + .microseconds(50), t, d.bytes))
                }
            }
        }
    }

    /// Runs until `end`.
    mutating func run(for duration: Duration) { run(for: duration, until: { _ in false }) }

    /// Runs until `end`, or until `stop` holds after an event (returns whether it did).
    @discardableResult
    mutating func run(for duration: Duration, until stop: (Lockstep) -> Bool) -> Bool {
        let end = now + duration
        while true {
            if stop(self) { return true }
            let nextPacket = inflight.first?.at
            let nextDeadline = nodes.compactMap { $0?.nextDeadline }.min()
            let next = [nextPacket, nextDeadline].compactMap { $0 }.min()
            guard let at = next, at <= end else { break }
            now = max(now, at)
            if let p = nextPacket, p <= now {
                let item = inflight.removeFirst()
                let text = String(decoding: item.bytes, as: UTF8.self)
                if text.hasPrefix("unreachable:"), let t = Int(text.dropFirst(12)) {
                    handle(item.to, .peerUnreachable(NodeID(UInt32(t + 1))))
                } else {
                    handle(item.to, .datagram(item.bytes))
                }
            } else {
                for i in nodes.indices where (nodes[i]?.nextDeadline).map({ $0 <= now }) ?? false {
                    handle(i, .deadlineReached)
                }
            }
        }
        now = end
        return stop(self)
    }

    func configurations(_ i: Int) -> [Totem.ConfigurationChange] {
        upcalls[i].compactMap { if case .configurationChange(let c) = $0 { c } else { nil } }
    }

    func deliveries(_ i: Int) -> [Totem.Delivery] {
        upcalls[i].compactMap { if case .message(let d) = $0 { d } else { nil } }
    }

    func isOneRing(_ indices: [Int]) -> Bool {
        let ids = indices.map { NodeID(UInt32($0 + 1)) }
        return indices.allSatisfy { nodes[$0]?.state == .operational && nodes[$0]?.members == ids }
            && Set(indices.compactMap { nodes[$0]?.ringID }).count == 1
    }
}
