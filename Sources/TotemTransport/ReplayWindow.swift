// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Rejects authentic packets seen before: per peer and session, the highest counter and which of the `width`
/// counters below it have arrived (the sliding window of IPsec's anti-replay). Redundant rings deliver each packet
/// once per ring, so the copies after the first are dropped here; a counter older than the window is refused too.
public struct ReplayWindow: Sendable {
    public static let width: UInt64 = 1024
    /// Sessions tracked per peer (a restarted peer starts a new one).
    public static let sessionsPerPeer = 4

    struct Session: Sendable {
        var id: UInt64
        var highest: UInt64 = 0
        /// Bit i set: counter `highest - i` has arrived.
        var seen = [UInt64](repeating: 0, count: Int(ReplayWindow.width / 64))
    }

    private var peers: [NodeID: [Session]] = [:]

    public init() {}

    public enum Verdict: Equatable, Sendable {
        case fresh, duplicate, tooOld
    }

    /// Whether an authentic packet with this sender, session and counter is new, and records it if so.
    public mutating func check(sender: NodeID, session: UInt64, counter: UInt64) -> Verdict {
        var sessions = peers[sender] ?? []
        let index: Int
        if let i = sessions.firstIndex(where: { $0.id == session }) {
            index = i
        } else {
            sessions.insert(Session(id: session), at: 0)
            if sessions.count > Self.sessionsPerPeer { sessions.removeLast() }
            index = 0
        }
        var s = sessions[index]
        defer {
            sessions[index] = s
            peers[sender] = sessions
        }
        if counter > s.highest {
            shift(&s.seen, by: counter - s.highest)
            s.highest = counter
            s.seen[0] |= 1
            return .fresh
        }
        let age = s.highest - counter
        guard age < Self.width else { return .tooOld }
        let (word, bit) = (Int(age / 64), age % 64)
        if s.seen[word] & (1 << bit) != 0 { return .duplicate }
        s.seen[word] |= 1 << bit
        return .fresh
    }

    /// Moves every bit `distance` places towards older counters.
    private func shift(_ bits: inout [UInt64], by distance: UInt64) {
        guard distance < Self.width else {
            for i in bits.indices { bits[i] = 0 }
            return
        }
        let words = Int(distance / 64), offset = distance % 64
        for i in stride(from: bits.count - 1, through: 0, by: -1) {
            let from = i - words
            var v: UInt64 = from >= 0 ? bits[from] << offset : 0
            if offset > 0, from - 1 >= 0 { v |= bits[from - 1] >> (64 - offset) }
            bits[i] = v
        }
    }
}
