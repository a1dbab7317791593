// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// The simulated network: loss, duplication, corruption, delays, partitions and port-unreachable reports.
extension Simulation {
    // MARK: - Network

    func transmit(from n: SimNode, _ d: Totem.Datagram) {
        let targets: [Int]
        switch d.destination {
        case .all: targets = nodes.indices.filter { $0 != n.index }
        case .node(let id): targets = [Int(id.rawValue) - 1]
        }
        let sealed = Integrity.seal(d.bytes)
        for t in targets {
            stats.packets += 1
            if nodes[t].machine == nil {
                // The process is gone but its host answers: port unreachable (the fast path under test).
                if options.unreachableReports && !blocked.contains(Link(from: n.index, to: t)) {
                    queue.push(.unreachable(to: n.index, about: t), at: now + options.delayBase * 2)
                }
                continue
            }
            if let s = straggler, s.from == n.index, now < s.until, Self.isMcast(d.bytes) {
                // A dying node's last multicasts: lost to all but one peer, which gets them only once it is in
                // recovery (the late old-ring message of the Totem review).
                if t == s.to { heldForRecovery[t, default: []].append((from: n.index, bytes: sealed)) }
                stats.dropped += 1
                continue
            }
            if blocked.contains(Link(from: n.index, to: t)) || (!healed && netRandom.chance(options.lossProbability))
                || (healed && ambientLoss > 0 && netRandom.chance(ambientLoss)) {
                stats.dropped += 1
                continue
            }
            var bytes = sealed
            if !healed && netRandom.chance(options.corruptProbability) && !bytes.isEmpty {
                let i = Int(netRandom.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(1 << (netRandom.next() % 8))
            }
            let link = Link(from: n.index, to: t)
            queue.push(.packet(to: t, from: n.index, bytes: bytes), at: now + delay(link))
            if !healed && netRandom.chance(options.duplicateProbability) {
                queue.push(.packet(to: t, from: n.index, bytes: bytes), at: now + delay(link))
            }
        }
    }

    func delay(_ link: Link) -> Duration {
        var d = options.delayBase + .nanoseconds(Int64(netRandom.next() % 50_000))
        if !healed && netRandom.chance(options.delayTailProbability) {
            d += .nanoseconds(Int64(netRandom.next() % UInt64(options.delayTail.nanosecondsClamped)))
        }
        if !healed, let clog = clogged[link], now < clog.until {
            // A clogged link holds each packet a different while: they arrive late and out of order.
            d += .nanoseconds(Int64(netRandom.next() % UInt64(clog.delayMax.nanosecondsClamped)))
        }
        return d
    }
}

/// Stands in for the transport's authentication: a checksum sealed onto every datagram, so corrupted packets are
/// rejected before the protocol sees them, as HMAC-failing packets are in production.
enum Integrity {
    static func seal(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        var w = ByteWriter()
        w.write(hash(bytes))
        out += w.bytes
        return out
    }

    static func open(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 8 else { return nil }
        let body = Array(bytes[0..<(bytes.count - 8)])
        var r = ByteReader(Array(bytes[(bytes.count - 8)...]))
        guard let h = try? r.readUInt64(), h == hash(body) else { return nil } // corrupted: dropped
        return body
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x100_0000_01B3
        }
        return h
    }
}
