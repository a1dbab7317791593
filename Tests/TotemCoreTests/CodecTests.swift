// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import Testing
@testable import TotemCore

@Suite("Totem wire codec")
struct CodecTests {
    static let ring = Totem.RingID(representative: NodeID(2), sequence: 1234)
    static let samples: [Totem.Message] = [
        .mcast(Totem.Mcast(ringID: ring, seq: 77, sender: NodeID(3), safe: true, encapsulated: nil, frame: [1, 2, 3])),
        .mcast(Totem.Mcast(ringID: ring, seq: 78, sender: NodeID(3), safe: false,
                           encapsulated: Totem.Encapsulated(ringID: Totem.RingID(representative: NodeID(1), sequence: 8), seq: 5, sender: NodeID(4), safe: true),
                           frame: [9])),
        .token(Totem.Token(ringID: ring, tokenSeq: 9, seq: 100, aru: 98, aruAddress: NodeID(3), fcc: 4, backlog: 2,
                           recoveryComplete: true, recoveryPending: [NodeID(1), NodeID(5)], retransmitRequests: [99, 100])),
        .join(Totem.Join(procSet: [NodeID(1), NodeID(2), NodeID(3)], failSet: [NodeID(3)], ringSeq: 1230)),
        .commitToken(Totem.CommitToken(ringID: ring, rotation: 2, members: [NodeID(2), NodeID(7)], entries: [
            Totem.CommitEntry(oldRing: ring, aru: 1, highDelivered: 1, highReceived: 3, filled: true),
            Totem.CommitEntry(oldRing: .none, aru: 0, highDelivered: 0, highReceived: 0, filled: false),
        ])),
        .mergeDetect(ring),
        .tokenHoldCancel(ring),
        .probe,
        .probeReply,
    ]

    @Test("every message type round-trips", arguments: samples.indices)
    func roundTrip(index: Int) throws {
        let packet = Totem.Packet(clusterID: 42, sender: NodeID(2), message: Self.samples[index])
        #expect(try Totem.Packet.decode(packet.encode()) == packet)
    }

    @Test("every truncation of every message is rejected, never trapping")
    func truncations() {
        for message in Self.samples {
            let bytes = Totem.Packet(clusterID: 1, sender: NodeID(1), message: message).encode()
            for n in 0..<bytes.count {
                #expect(throws: WireError.self) { try Totem.Packet.decode(Array(bytes[0..<n])) }
            }
            #expect(throws: WireError.self) { try Totem.Packet.decode(bytes + [0]) }
        }
    }

    @Test("fuzz: random mutations of valid packets decode or fail cleanly, and the core survives them")
    func fuzz() {
        var rng = SeededRandom(seed: 99)
        var machine = Totem.StateMachine(nodeID: NodeID(1), clusterID: 1, settings: Totem.Settings())
        _ = machine.handle(.start, at: .zero)
        var decoded = 0
        let deadline = 40_000
        for i in 0..<deadline {
            var bytes = Totem.Packet(clusterID: 1, sender: NodeID(2), message: Self.samples[i % Self.samples.count]).encode()
            let flips = 1 + Int(rng.next() % 4)
            for _ in 0..<flips {
                switch rng.next() % 3 {
                case 0: bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count)))
                default: if bytes.count > 1 { bytes.remove(at: Int(rng.next() % UInt64(bytes.count))) }
                }
            }
            if (try? Totem.Packet.decode(bytes)) != nil { decoded += 1 } // either outcome is fine; no trap is the test
            _ = machine.handle(.datagram(bytes), at: MonotonicInstant(nanoseconds: UInt64(i) * 1_000))
        }
        #expect(machine.counters.decodeErrors > deadline / 2)
        #expect(decoded > 0)
    }

    @Test("frames: chunks round-trip; bad chunk lengths and totals are rejected")
    func frames() throws {
        var q = SendQueue()
        q.append(.init(channel: 3, payload: Array(repeating: 7, count: 10), guarantee: .agreed, offset: 0))
        q.append(.init(channel: 4, payload: Array(repeating: 8, count: 5000), guarantee: .agreed, offset: 0))
        var r = Reassembler()
        var out: [Totem.Delivery] = []
        var seq: UInt32 = 0
        while let (frame, safe) = q.nextFrame(budget: 1400) {
            seq += 1
            out += r.receive(Totem.Mcast(ringID: Totem.RingID(representative: NodeID(1), sequence: 4), seq: seq,
                                         sender: NodeID(1), safe: safe, encapsulated: nil, frame: frame))
        }
        #expect(out.map(\.channel) == [3, 4])
        #expect(out[1].payload.count == 5000)
        #expect(throws: WireError.self) { try Chunk.decode([0, 1, 1, 0, 0, 0, 0, 0, 9]) }
        #expect(throws: WireError.self) { try Chunk.decode([0, 1, 1, 0, 0, 0, 0, 0, 5, 0, 0, 0, 5, 1, 2, 3, 4, 5]) }
    }
}
