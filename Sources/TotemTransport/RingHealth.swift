// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Which redundant rings work, judged from what arrives on each: pure, with the time passed in.
///
/// A ring is faulty towards a peer when that peer was heard on another ring within `window` but not on this one
/// for longer than `window` (so a silent peer, dead or idle, faults no ring). A ring recovers as soon as the peer is
/// heard on it again. ICMP port-unreachable reports are only believed when every ring reports the peer within
/// `window`: a peer unreachable on one ring but alive on another is a ring fault, not a dead process.
public struct RingHealth: Sendable {
    public let ringCount: Int
    public let window: Duration
    private let startedAt: MonotonicInstant
    private var heard: [[NodeID: MonotonicInstant]]
    private var unreachable: [[NodeID: MonotonicInstant]]
    /// Faults last reported, per ring: the peers it cannot reach.
    public private(set) var faults: [Set<NodeID>]

    /// A change worth logging.
    public enum Change: Hashable, Sendable {
        case faulty(ring: Int, peers: [NodeID])
        case recovered(ring: Int)
    }

    public init(ringCount: Int, window: Duration, now: MonotonicInstant) {
        precondition(ringCount >= 1)
        self.ringCount = ringCount
        self.window = window
        startedAt = now
        heard = Array(repeating: [:], count: ringCount)
        unreachable = Array(repeating: [:], count: ringCount)
        faults = Array(repeating: [], count: ringCount)
    }

    /// An authentic packet from `peer` arrived on `ring`.
    public mutating func heard(_ peer: NodeID, on ring: Int, at now: MonotonicInstant) {
        heard[ring][peer] = now
        if !unreachable[ring].isEmpty { unreachable[ring][peer] = nil } // one hash a packet fewer, nearly always
    }

    /// `ring` reported `peer`'s port closed. Returns true when every ring has now said so (the process is gone).
    public mutating func unreachable(_ peer: NodeID, on ring: Int, at now: MonotonicInstant) -> Bool {
        unreachable[ring][peer] = now
        return unreachable.allSatisfy { r in r[peer].map { now - $0 <= window } ?? false }
    }

    /// Whether `ring` may carry traffic (no fault towards any peer).
    public func isHealthy(_ ring: Int) -> Bool { faults[ring].isEmpty }

    /// Re-judges every ring; returns what changed since the last call.
    public mutating func evaluate(at now: MonotonicInstant) -> [Change] {
        guard ringCount > 1, now - startedAt > window else { return [] }
        var changes: [Change] = []
        let peers = Set(heard.flatMap(\.keys))
        for ring in 0..<ringCount {
            var faulty: Set<NodeID> = []
            for peer in peers {
                let here = heard[ring][peer].map { now - $0 <= window } ?? false
                let elsewhere = (0..<ringCount).contains { $0 != ring && (heard[$0][peer].map { now - $0 <= window } ?? false) }
                if !here && elsewhere { faulty.insert(peer) }
            }
            if faulty != faults[ring] {
                if faulty.isEmpty {
                    changes.append(.recovered(ring: ring))
                } else if !faulty.isSubset(of: faults[ring]) {
                    changes.append(.faulty(ring: ring, peers: faulty.sorted()))
                }
                faults[ring] = faulty
            }
        }
        return changes
    }

    /// How long `peer` has not been heard on `ring` (nil if never).
    public func silence(of peer: NodeID, on ring: Int, at now: MonotonicInstant) -> Duration? {
        heard[ring][peer].map { now - $0 }
    }
}
