// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension Totem {
    /// How a message is ordered: agreed (total order, delivered once all earlier messages are) or safe (also held
    /// until every member of the ring is known to have received it).
    public enum Guarantee: UInt8, Sendable, Hashable {
        case agreed = 0
        case safe = 1
    }

    /// An application message delivered in total order.
    public struct Delivery: Hashable, Sendable {
        public var sender: NodeID
        public var channel: UInt16
        public var guarantee: Guarantee
        public var payload: [UInt8]
        /// The ring and sequence number of the frame that completed the message (the old ring's, for a message
        /// delivered while recovering from it): what a checker needs to tell who held it when it was delivered.
        public var ringID: RingID
        public var seq: UInt32
        /// Which of the messages that frame completed this is (frames pack several small messages).
        public var index: UInt16

        /// The message's place in its ring's agreed stream, `seq` × 65536 + `index`: the same on every node that
        /// delivers it, so upper layers can name events by it (a process group's view).
        public var position: UInt64 { UInt64(seq) << 16 | UInt64(index) }
    }
}

/// A piece of an application message inside a frame.
struct Chunk: Hashable {
    enum Kind: UInt8 { case whole = 0, first = 1, middle = 2, last = 3 }
    var kind: Kind
    var channel: UInt16
    /// The whole message's length, on `first` chunks.
    var totalLength: UInt32
    var bytes: ArraySlice<UInt8>

    static let headerBytes = 7
    static let firstHeaderBytes = 11

    static func encode(_ chunks: [Chunk]) -> [UInt8] {
        var w = ByteWriter(capacity: 2 + chunks.reduce(0) { $0 + $1.bytes.count + firstHeaderBytes })
        w.write(UInt16(chunks.count))
        for c in chunks {
            w.write(c.kind.rawValue)
            w.write(c.channel)
            w.write(UInt32(c.bytes.count))
            if c.kind == .first { w.write(c.totalLength) }
            w.writeRaw(c.bytes)
        }
        return w.bytes
    }

    static func decode(_ frame: [UInt8]) throws(WireError) -> [Chunk] {
        var r = ByteReader(frame)
        let n = Int(try r.readUInt16("chunk count"))
        var chunks: [Chunk] = []
        chunks.reserveCapacity(min(n, frame.count / headerBytes))
        for _ in 0..<n {
            guard let kind = Kind(rawValue: try r.readUInt8("chunk kind")) else {
                throw .invalid(field: "chunk kind", reason: "unknown")
            }
            let channel = try r.readUInt16("channel")
            let length = Int(try r.readUInt32("chunk length"))
            let total = kind == .first ? try r.readUInt32("total length") : 0
            if kind == .first && (Int(total) > Totem.Settings.messageBytesMax || Int(total) <= length) {
                throw .invalid(field: "total length", reason: "\(total)")
            }
            chunks.append(Chunk(kind: kind, channel: channel, totalLength: total, bytes: try r.readRaw(length, "chunk")))
        }
        try r.expectEnd()
        return chunks
    }
}

/// Messages waiting to be broadcast, packed into frames when the token allows.
struct SendQueue {
    struct Item {
        var channel: UInt16
        var payload: [UInt8]
        var guarantee: Totem.Guarantee
        /// Bytes already sent in the current ring.
        var offset: Int
    }

    private(set) var items: [Item] = []
    private var head = 0
    private(set) var bytes = 0

    var count: Int { items.count - head }

    /// The backlog flow control counts: frames of `budget` bytes this queue needs at least, never fewer than its
    /// messages (small messages share frames, but each counted one as corosync's backlog does). A queue of a few
    /// 16 KiB messages is dozens of frames, and counted as a few messages it fell under the window, so the ring's
    /// fair-share rule never applied and the nodes that came first after a short rotation took the whole window.
    func backlogFrames(budget: Int) -> Int {
        isEmpty ? 0 : max(count, (bytes + budget - 1) / budget)
    }

    /// The least room (after a piece's header) worth starting or continuing a message in, behind other chunks.
    static let fragmentRoomMin = 128
    var isEmpty: Bool { head == items.count }

    mutating func append(_ item: Item) {
        items.append(item)
        bytes += item.payload.count
    }

    /// The next frame of at most `budget` bytes, packing whole messages and fragments of the same guarantee, in
    /// order; only the message at the head of the queue is ever partly sent.
    mutating func nextFrame(budget: Int) -> (frame: [UInt8], safe: Bool)? {
        guard head < items.count else { return nil }
        let guarantee = items[head].guarantee
        var chunks: [Chunk] = []
        var used = 2
        while head < items.count, items[head].guarantee == guarantee {
            let item = items[head]
            let remaining = item.payload.count - item.offset
            if used + Chunk.headerBytes + remaining <= budget {
                chunks.append(Chunk(kind: item.offset == 0 ? .whole : .last, channel: item.channel, totalLength: 0,
                                    bytes: item.payload[item.offset...]))
                used += Chunk.headerBytes + remaining
                bytes -= item.payload.count
                items[head] = Item(channel: 0, payload: [], guarantee: .agreed, offset: 0)
                head += 1
                continue
            }
            // The frame is filled up to the budget, as corosync's totempg does: a message that does not fit whole
            // starts (or goes on) in the room left, and the rest follows at the start of the next frame. Without this
            // a 1 KiB CPG message took a frame of its own at MTU 1500 (a fifth of every frame left empty) and the
            // last piece of a large one left most of its frame empty. Small messages are not split for a few bytes
            // of room: a piece needs `fragmentRoomMin` bytes unless the frame is still empty.
            let room = budget - used - Chunk.firstHeaderBytes
            if room >= (chunks.isEmpty ? 1 : Self.fragmentRoomMin) {
                let take = min(room, remaining - 1)
                let kind: Chunk.Kind = item.offset == 0 ? .first : .middle
                chunks.append(Chunk(kind: kind, channel: item.channel, totalLength: UInt32(item.payload.count),
                                    bytes: item.payload[item.offset..<(item.offset + take)]))
                items[head].offset += take
            }
            break
        }
        compact()
        return chunks.isEmpty ? nil : (Chunk.encode(chunks), guarantee == .safe)
    }

    /// A new ring starts: a message whose start went out in the old ring is sent again from the beginning.
    mutating func restartPartial() {
        if head < items.count { items[head].offset = 0 }
    }

    private mutating func compact() {
        if head > 256 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}

/// Rebuilds application messages from frames, per sender, in delivery order.
struct Reassembler {
    /// A message being rebuilt from its sender's pieces.
    private struct Partial {
        var sender: NodeID
        var channel: UInt16
        var total: Int
        var bytes: [UInt8]
    }

    /// At most one per sender, and few senders: a short array searched in place. (A dictionary cost two hashes a
    /// piece, and its value, copied out to be appended to, copied the whole message so far at every piece.)
    private var partials: [Partial] = []
    /// Frames that could not be decoded or fragments that did not fit, dropped.
    private(set) var dropped = 0
    /// `Totem.Mutations.piecesJoinAnySender`: later pieces go to the last partial message kept. Tests only.
    private let piecesJoinAnySender: Bool

    init(piecesJoinAnySender: Bool = false) { self.piecesJoinAnySender = piecesJoinAnySender }

    private func partialIndex(_ sender: NodeID) -> Int? { partials.firstIndex { $0.sender == sender } }

    private mutating func discardPartial(_ sender: NodeID) {
        if !partials.isEmpty, let i = partialIndex(sender) { partials.remove(at: i) }
    }

    /// The complete messages a delivered frame yields.
    mutating func receive(_ m: Totem.Mcast) -> [Totem.Delivery] {
        let sender = m.sender
        guard let chunks = try? Chunk.decode(m.frame) else { // A bad frame from an authenticated peer: count and drop.
            dropped += 1
            discardPartial(sender)
            return []
        }
        let guarantee: Totem.Guarantee = m.safe ? .safe : .agreed
        var out: [Totem.Delivery] = []
        out.reserveCapacity(chunks.count)
        for c in chunks {
            switch c.kind {
            case .whole:
                discardPartial(sender)
                out.append(Totem.Delivery(sender: sender, channel: c.channel, guarantee: guarantee, payload: Array(c.bytes),
                                          ringID: m.ringID, seq: m.seq, index: UInt16(truncatingIfNeeded: out.count)))
            case .first:
                var buffer: [UInt8] = []
                buffer.reserveCapacity(Int(c.totalLength))
                buffer += c.bytes
                let p = Partial(sender: sender, channel: c.channel, total: Int(c.totalLength), bytes: buffer)
                if let i = partialIndex(sender) { partials[i] = p } else { partials.append(p) }
            case .middle, .last:
                guard let i = piecesJoinAnySender ? partials.indices.last : partialIndex(sender), partials[i].channel == c.channel,
                      partials[i].bytes.count + c.bytes.count <= partials[i].total else {
                    dropped += 1
                    discardPartial(sender)
                    continue
                }
                partials[i].bytes += c.bytes
                guard c.kind == .last else { continue }
                let p = partials.remove(at: i)
                if p.bytes.count == p.total {
                    out.append(Totem.Delivery(sender: sender, channel: c.channel, guarantee: guarantee, payload: p.bytes,
                                              ringID: m.ringID, seq: m.seq, index: UInt16(truncatingIfNeeded: out.count)))
                } else {
                    dropped += 1
                }
            }
        }
        return out
    }

    /// A configuration change: fragments of unfinished messages can never be completed.
    mutating func reset() { partials = [] }
}
