// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import Testing
@testable import TotemCore

/// Application messages packed into frames (corosync's totempg layer): `SendQueue` fills each frame up to the budget,
/// whole messages first and the message that does not fit split across frames; `Reassembler` gives the messages back
/// in order.
@Suite("Totem packing of messages into frames")
struct PackingTests {
    static let budget = Totem.Settings().framePayloadBytesMax // MTU 1500: 1340 bytes

    /// Frames of `messages` as the queue cuts them, and what a receiver makes of them.
    static func run(_ messages: [(channel: UInt16, payload: [UInt8], guarantee: Totem.Guarantee)], budget: Int = budget)
        -> (frames: [(bytes: [UInt8], safe: Bool)], delivered: [Totem.Delivery], dropped: Int) {
        var q = SendQueue()
        for m in messages { q.append(.init(channel: m.channel, payload: m.payload, guarantee: m.guarantee, offset: 0)) }
        var frames: [(bytes: [UInt8], safe: Bool)] = []
        var r = Reassembler()
        var delivered: [Totem.Delivery] = []
        while let (frame, safe) = q.nextFrame(budget: budget) {
            frames.append((frame, safe))
            delivered += r.receive(mcast(frame, seq: UInt32(frames.count), safe: safe))
        }
        #expect(q.isEmpty && q.bytes == 0)
        return (frames, delivered, r.dropped)
    }

    static func mcast(_ frame: [UInt8], seq: UInt32, safe: Bool = false, sender: NodeID = NodeID(1)) -> Totem.Mcast {
        Totem.Mcast(ringID: Totem.RingID(representative: NodeID(1), sequence: 4), seq: seq, sender: sender, safe: safe,
                    encapsulated: nil, frame: frame)
    }

    static func payload(_ n: Int, _ tag: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ tag) } }

    @Test("a message exactly at the frame's limit goes whole in one full frame; one byte more is split in two")
    func exactlyAtTheLimit() throws {
        let fits = Self.budget - 2 - Chunk.headerBytes
        let a = Self.run([(1, Self.payload(fits, 1), .agreed)])
        #expect(a.frames.count == 1 && a.frames[0].bytes.count == Self.budget)
        #expect(try Chunk.decode(a.frames[0].bytes).map(\.kind) == [.whole])
        #expect(a.delivered.map(\.payload) == [Self.payload(fits, 1)])
        let b = Self.run([(1, Self.payload(fits + 1, 2), .agreed)])
        #expect(b.frames.count == 2 && b.frames.allSatisfy { $0.bytes.count <= Self.budget })
        #expect(try b.frames.map { try Chunk.decode($0.bytes).map(\.kind) } == [[.first], [.last]])
        #expect(b.delivered.map(\.payload) == [Self.payload(fits + 1, 2)])
    }

    @Test("small messages are packed many to a frame and never split for a few bytes of room")
    func smallMessages() throws {
        let messages = (0..<100).map { (UInt16(1), Self.payload(64, $0), Totem.Guarantee.agreed) }
        let r = Self.run(messages)
        let perFrame = (Self.budget - 2) / (64 + Chunk.headerBytes)
        #expect(r.frames.count == (100 + perFrame - 1) / perFrame)
        for f in r.frames { #expect(try Chunk.decode(f.bytes).allSatisfy { $0.kind == .whole }) }
        #expect(r.delivered.map(\.payload) == messages.map(\.1))
        // Within a frame the messages are numbered in order, so every delivery has its own position.
        #expect(r.delivered.map(\.position) == r.delivered.map(\.position).sorted())
        #expect(Set(r.delivered.map(\.position)).count == 100)
    }

    @Test("1 KiB messages fill their frames: the one that does not fit starts in the room left and ends in the next frame")
    func framesAreFilled() throws {
        let messages = (0..<40).map { (UInt16(2), Self.payload(1046, $0), Totem.Guarantee.agreed) }
        let r = Self.run(messages)
        // A frame each before; filled, about 1.27 messages a frame.
        #expect(r.frames.count == 32)
        for f in r.frames.dropLast() { #expect(f.bytes.count > Self.budget - SendQueue.fragmentRoomMin - Chunk.firstHeaderBytes) }
        #expect(r.frames.allSatisfy { $0.bytes.count <= Self.budget })
        #expect(r.delivered.map(\.payload) == messages.map(\.1))
        #expect(r.delivered.allSatisfy { $0.channel == 2 })
        #expect(r.dropped == 0)
        // The tail of a large message shares its frame with the next one.
        let large = Self.run([(3, Self.payload(16_406, 1), .agreed), (3, Self.payload(16_406, 2), .agreed)])
        #expect(large.frames.count == 25) // 26 when each message started a frame of its own
        #expect(large.delivered.map(\.payload) == [Self.payload(16_406, 1), Self.payload(16_406, 2)])
    }

    @Test("mixed sizes and guarantees: order kept, no frame over the budget, agreed and safe never share a frame")
    func mixedSizesAndGuarantees() throws {
        var rng = SplitMix(seed: 14)
        var messages: [(channel: UInt16, payload: [UInt8], guarantee: Totem.Guarantee)] = []
        for i in 0..<600 {
            let size = switch rng.next() % 10 {
            case 0: Int(rng.next() % 20_000) + 1
            case 1, 2: Self.budget - 2 - Chunk.headerBytes + Int(rng.next() % 3) - 1 // around the limit
            default: Int(rng.next() % 1500) + 1
            }
            messages.append((UInt16(rng.next() % 4), Self.payload(size, i), rng.next() % 5 == 0 ? .safe : .agreed))
        }
        for budget in [Self.budget, 256, 9000] {
            let r = Self.run(messages, budget: budget)
            #expect(r.frames.allSatisfy { $0.bytes.count <= budget })
            #expect(r.delivered.map(\.payload) == messages.map(\.payload))
            #expect(r.delivered.map(\.channel) == messages.map(\.channel))
            #expect(r.delivered.map(\.guarantee) == messages.map(\.guarantee))
            #expect(r.dropped == 0)
            for f in r.frames { #expect(try Chunk.decode(f.bytes).count >= 1) }
        }
    }

    @Test("three senders' large messages, their frames interleaved in the ring's order, are each rebuilt whole")
    func interleavedSenders() throws {
        var rng = SplitMix(seed: 3)
        var streams: [[(frame: [UInt8], safe: Bool)]] = []
        var sent: [[[UInt8]]] = []
        for s in 0..<3 {
            var q = SendQueue()
            let payloads = (0..<6).map { Self.payload(Int(rng.next() % 40_000) + 1, s * 10 + $0) }
            for p in payloads { q.append(.init(channel: UInt16(s), payload: p, guarantee: .agreed, offset: 0)) }
            var frames: [(frame: [UInt8], safe: Bool)] = []
            while let f = q.nextFrame(budget: Self.budget) { frames.append(f) }
            streams.append(frames)
            sent.append(payloads)
        }
        var r = Reassembler()
        var delivered: [[[UInt8]]] = [[], [], []]
        var next = [0, 0, 0]
        var seq: UInt32 = 0
        while next != streams.map(\.count) {
            let s = Int(rng.next() % 3)
            guard next[s] < streams[s].count else { continue }
            seq += 1
            let m = Self.mcast(streams[s][next[s]].frame, seq: seq, sender: NodeID(UInt32(s + 1)))
            next[s] += 1
            for d in r.receive(m) {
                #expect(d.sender == NodeID(UInt32(s + 1)) && d.channel == UInt16(s))
                delivered[s].append(d.payload)
            }
        }
        #expect(delivered == sent)
        #expect(r.dropped == 0)
    }

    @Test("a message cut off by a new ring is sent again from its start, and the receiver's reset drops the old piece")
    func restartAfterRingChange() throws {
        var q = SendQueue()
        q.append(.init(channel: 1, payload: Self.payload(1000, 1), guarantee: .agreed, offset: 0))
        q.append(.init(channel: 1, payload: Self.payload(1000, 2), guarantee: .agreed, offset: 0))
        var r = Reassembler()
        let next = q.nextFrame(budget: Self.budget)
        let first = try #require(next)
        #expect(try Chunk.decode(first.frame).map(\.kind) == [.whole, .first])
        #expect(r.receive(Self.mcast(first.frame, seq: 1)).map(\.payload) == [Self.payload(1000, 1)])
        q.restartPartial()
        r.reset()
        let nextAgain = q.nextFrame(budget: Self.budget)
        let again = try #require(nextAgain)
        #expect(try Chunk.decode(again.frame).map(\.kind) == [.whole])
        #expect(r.receive(Self.mcast(again.frame, seq: 1)).map(\.payload) == [Self.payload(1000, 2)])
        let last = q.nextFrame(budget: Self.budget)
        #expect(last == nil && r.dropped == 0)
    }

    @Test("garbled frames are rejected with the field named, counted, and the stream goes on with the next message")
    func garbledFrames() throws {
        func field(_ bytes: [UInt8]) -> String {
            do { _ = try Chunk.decode(bytes); return "accepted" } catch { return "\(error)" }
        }
        #expect(field([0, 1, 9, 0, 1, 0, 0, 0, 0]) == "invalid chunk kind: unknown")
        #expect(field([0, 1, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 7, 7]) == "invalid total length: 2")
        #expect(field([0, 1, 0, 0, 1, 0, 0, 0, 5, 1, 2]) == "truncated at chunk")
        #expect(field([0, 2, 0, 0, 1, 0, 0, 0, 1, 7]) == "truncated at chunk kind")
        #expect(field([0, 1, 0, 0, 1, 0, 0, 0, 1, 7, 0]) == "1 unexpected trailing bytes")
        #expect(field([0, 1, 1, 0, 1, 0x7F, 0, 0, 0]) == "truncated at total length")

        let a = Self.run([(1, Self.payload(2000, 1), .agreed), (1, Self.payload(30, 2), .agreed)])
        #expect(a.frames.count == 2)
        var r = Reassembler()
        // The first frame garbled: its piece of the large message is lost, so the rest of it is dropped too, and the
        // whole message after it still arrives.
        var garbled = a.frames[0].bytes
        garbled[2] = 9
        #expect(r.receive(Self.mcast(garbled, seq: 1)).isEmpty)
        #expect(r.receive(Self.mcast(a.frames[1].bytes, seq: 2)).map(\.payload) == [Self.payload(30, 2)])
        #expect(r.dropped == 2)
        // Another sender's stream is its own: a piece of node 2's message does not complete node 1's.
        var s = Reassembler()
        #expect(s.receive(Self.mcast(a.frames[0].bytes, seq: 1, sender: NodeID(1))).isEmpty)
        #expect(s.receive(Self.mcast(a.frames[1].bytes, seq: 2, sender: NodeID(2))).map(\.payload) == [Self.payload(30, 2)])
        #expect(s.dropped == 1)
    }
}

/// A small deterministic generator for the tests' sizes.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
