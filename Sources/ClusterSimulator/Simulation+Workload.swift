// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// The application workload: messages submitted at random, identified so their deliveries can be checked.
extension Simulation {
    // MARK: - Workload

    func workload() {
        guard workloadOn else { return }
        for n in nodes where n.isUp && workRandom.chance(options.submitProbability) {
            let large = workRandom.chance(options.largeMessageProbability)
            let size = large ? Int(workRandom.next() % 200_000) + 2_000 : Int(workRandom.next() % 300)
            let safe = workRandom.chance(options.safeProbability)
            let id = MessageID(origin: n.index, counter: n.nextCounter)
            let payload = Workload.encode(id, size: size)
            guard var m = n.machine else { continue }
            let out = m.handle(.submit(channel: 100, payload: payload, guarantee: safe ? .safe : .agreed), at: localTime(n))
            n.machine = m
            if out.submitted == .accepted {
                n.nextCounter += 1
                checker.submittedMessage(id, incarnation: n.incarnation, at: now)
                stats.submitted += 1
            }
            carryOut(n, out)
        }
    }
}

/// The workload's payloads: origin and counter, then filler, so deliveries can be identified and checked.
enum Workload {
    static func encode(_ id: MessageID, size: Int) -> [UInt8] {
        var w = ByteWriter(capacity: size + 8)
        w.write(UInt32(id.origin))
        w.write(id.counter)
        let filler = max(0, size - 8)
        var x = UInt32(truncatingIfNeeded: id.origin * 7919) &+ id.counter
        for _ in 0..<filler {
            x = x &* 1_103_515_245 &+ 12345
            w.write(UInt8(truncatingIfNeeded: x >> 16))
        }
        return w.bytes
    }

    /// The id, if the payload is intact (filler included).
    static func decode(_ payload: [UInt8]) -> MessageID? {
        var r = ByteReader(payload)
        guard let origin = try? r.readUInt32(), let counter = try? r.readUInt32() else { return nil } // not ours
        let id = MessageID(origin: Int(origin), counter: counter)
        return encode(id, size: payload.count) == payload ? id : nil
    }
}

