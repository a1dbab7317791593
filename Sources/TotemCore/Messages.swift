// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension Totem {
    /// An ordinary message of the ring, carrying one frame of application data. In recovery it carries a message of
    /// the old ring instead (`encapsulated`), retransmitted under a new-ring sequence number.
    public struct Mcast: Hashable, Sendable {
        public var ringID: RingID
        public var seq: UInt32
        /// The node that broadcast it first (retransmissions come from others).
        public var sender: NodeID
        public var safe: Bool
        /// The original old-ring message, when this is a recovery retransmission.
        public var encapsulated: Encapsulated?
        public var frame: [UInt8]
    }

    /// An old-ring message carried through recovery.
    public struct Encapsulated: Hashable, Sendable {
        public var ringID: RingID
        public var seq: UInt32
        public var sender: NodeID
        public var safe: Bool
    }

    /// The regular token (the paper's ORF token).
    public struct Token: Hashable, Sendable {
        public var ringID: RingID
        /// Incremented by every holder; lets a node drop retransmitted copies of a token it already processed.
        public var tokenSeq: UInt32
        public var seq: UInt32
        public var aru: UInt32
        /// The node that last lowered `aru`, or 0.
        public var aruAddress: NodeID
        /// Messages broadcast during the last rotation (flow control count).
        public var fcc: UInt32
        /// Messages waiting to be sent, summed over all members.
        public var backlog: UInt32
        /// Set once recovery is known complete on this ring.
        public var recoveryComplete: Bool
        /// Members that still have old-ring messages to retransmit.
        public var recoveryPending: [NodeID]
        public var retransmitRequests: [UInt32]
    }

    /// A join message of the gather phase: the sender's view of who is alive and who failed.
    public struct Join: Hashable, Sendable {
        public var procSet: [NodeID]
        public var failSet: [NodeID]
        /// The highest ring sequence the sender has seen.
        public var ringSeq: UInt64
    }

    /// What each member reports about its old ring in the commit token.
    public struct CommitEntry: Hashable, Sendable {
        public var oldRing: RingID
        public var aru: UInt32
        public var highDelivered: UInt32
        public var highReceived: UInt32
        public var filled: Bool

        static let empty = CommitEntry(oldRing: .none, aru: 0, highDelivered: 0, highReceived: 0, filled: false)
    }

    /// The commit token: created by the new ring's representative, it goes round the new members twice.
    public struct CommitToken: Hashable, Sendable {
        public var ringID: RingID
        /// 1 on the first rotation, 2 on the second.
        public var rotation: UInt8
        public var members: [NodeID]
        public var entries: [CommitEntry]
    }

    /// A message of the ring protocol.
    public enum Message: Hashable, Sendable {
        case mcast(Mcast)
        case token(Token)
        case join(Join)
        case commitToken(CommitToken)
        /// Sent by a ring's representative so that other rings in reach notice it and merge.
        case mergeDetect(RingID)
        /// Asks the representative holding an idle token to pass it on now.
        case tokenHoldCancel(RingID)
        /// Asks a peer reported unreachable to show it is alive (not in the paper: see `Totem`'s deviations).
        case probe
        /// The answer to a probe: any packet from the peer would do, this one exists so the answer is immediate.
        case probeReply
    }

    /// A datagram's content: who sent it, from which cluster, and the message.
    public struct Packet: Hashable, Sendable {
        public var clusterID: UInt16
        public var sender: NodeID
        public var message: Message

        public init(clusterID: UInt16, sender: NodeID, message: Message) {
            self.clusterID = clusterID
            self.sender = sender
            self.message = message
        }
    }
}

// MARK: - Wire encoding

extension Totem.Packet {
    static let magic: UInt16 = 0x544D
    static let version: UInt8 = 1

    /// Encodes the packet (big-endian, every list length-prefixed).
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.write(Self.magic)
        w.write(Self.version)
        switch message {
        case .mcast(let m):
            w.write(UInt8(1)); header(&w)
            w.write(m.ringID); w.write(m.seq); w.write(m.sender.rawValue); w.write(m.safe)
            if let e = m.encapsulated {
                w.write(true); w.write(e.ringID); w.write(e.seq); w.write(e.sender.rawValue); w.write(e.safe)
            } else {
                w.write(false)
            }
            w.writeBlob(m.frame)
        case .token(let t):
            w.write(UInt8(2)); header(&w)
            w.write(t.ringID); w.write(t.tokenSeq); w.write(t.seq); w.write(t.aru); w.write(t.aruAddress.rawValue)
            w.write(t.fcc); w.write(t.backlog); w.write(t.recoveryComplete)
            w.write(t.recoveryPending)
            w.write(UInt32(t.retransmitRequests.count))
            for s in t.retransmitRequests { w.write(s) }
        case .join(let j):
            w.write(UInt8(3)); header(&w)
            w.write(j.procSet); w.write(j.failSet); w.write(j.ringSeq)
        case .commitToken(let c):
            w.write(UInt8(4)); header(&w)
            w.write(c.ringID); w.write(c.rotation); w.write(c.members)
            w.write(UInt32(c.entries.count))
            for e in c.entries {
                w.write(e.oldRing); w.write(e.aru); w.write(e.highDelivered); w.write(e.highReceived); w.write(e.filled)
            }
        case .mergeDetect(let r):
            w.write(UInt8(5)); header(&w); w.write(r)
        case .tokenHoldCancel(let r):
            w.write(UInt8(6)); header(&w); w.write(r)
        case .probe:
            w.write(UInt8(7)); header(&w)
        case .probeReply:
            w.write(UInt8(8)); header(&w)
        }
        return w.bytes
    }

    private func header(_ w: inout ByteWriter) {
        w.write(clusterID)
        w.write(sender.rawValue)
    }

    /// The sender a datagram claims, read from its fixed header without decoding the rest (nil if too short). The
    /// shell compares it with the node the transport authenticated, so one member cannot speak for another.
    public static func claimedSender(of bytes: [UInt8]) -> NodeID? {
        guard bytes.count >= 10 else { return nil }
        let v = UInt32(bytes[6]) << 24 | UInt32(bytes[7]) << 16 | UInt32(bytes[8]) << 8 | UInt32(bytes[9])
        return NodeID(v)
    }

    /// Decodes a datagram, checking every field; never traps on hostile input.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Totem.Packet {
        var r = ByteReader(bytes)
        guard try r.readUInt16("magic") == magic else { throw .invalid(field: "magic", reason: "not a totem packet") }
        let v = try r.readUInt8("version")
        guard v == version else { throw .invalid(field: "version", reason: "version \(v) is not \(version)") }
        let type = try r.readUInt8("type")
        let clusterID = try r.readUInt16("cluster id")
        let sender = try r.readNodeID("sender")
        let message: Totem.Message
        switch type {
        case 1:
            let ring = try r.readRingID()
            let seq = try r.readUInt32("seq")
            let origin = try r.readNodeID("originator")
            let safe = try r.readBool("safe")
            var enc: Totem.Encapsulated?
            if try r.readBool("encapsulated") {
                enc = Totem.Encapsulated(ringID: try r.readRingID(), seq: try r.readUInt32("old seq"),
                                         sender: try r.readNodeID("old sender"), safe: try r.readBool("old safe"))
            }
            let frame = try r.readBlob("frame", limit: 65_536)
            message = .mcast(Totem.Mcast(ringID: ring, seq: seq, sender: origin, safe: safe, encapsulated: enc, frame: frame))
        case 2:
            let ring = try r.readRingID()
            let tokenSeq = try r.readUInt32("token seq"), seq = try r.readUInt32("seq"), aru = try r.readUInt32("aru")
            let aruAddress = NodeID(try r.readUInt32("aru address"))
            let fcc = try r.readUInt32("fcc"), backlog = try r.readUInt32("backlog")
            let complete = try r.readBool("recovery complete")
            let pending = try r.readNodeList("recovery pending")
            let n = try r.readCount("rtr", limit: Totem.Settings.retransmitRequestsMax, minimumElementBytes: 4)
            var rtr: [UInt32] = []
            rtr.reserveCapacity(n)
            for _ in 0..<n { rtr.append(try r.readUInt32("rtr")) }
            message = .token(Totem.Token(ringID: ring, tokenSeq: tokenSeq, seq: seq, aru: aru, aruAddress: aruAddress,
                                         fcc: fcc, backlog: backlog, recoveryComplete: complete,
                                         recoveryPending: pending, retransmitRequests: rtr))
        case 3:
            message = .join(Totem.Join(procSet: try r.readNodeList("proc set"), failSet: try r.readNodeList("fail set"),
                                       ringSeq: try r.readUInt64("ring seq")))
        case 4:
            let ring = try r.readRingID()
            let rotation = try r.readUInt8("rotation")
            guard rotation == 1 || rotation == 2 else { throw .invalid(field: "rotation", reason: "\(rotation)") }
            let members = try r.readNodeList("members")
            let n = try r.readCount("entries", limit: Totem.Settings.membersMax, minimumElementBytes: 25)
            guard n == members.count else { throw .invalid(field: "entries", reason: "\(n) entries for \(members.count) members") }
            var entries: [Totem.CommitEntry] = []
            for _ in 0..<n {
                entries.append(Totem.CommitEntry(oldRing: try r.readRingID(), aru: try r.readUInt32("aru"),
                                                 highDelivered: try r.readUInt32("high delivered"),
                                                 highReceived: try r.readUInt32("high received"), filled: try r.readBool("filled")))
            }
            message = .commitToken(Totem.CommitToken(ringID: ring, rotation: rotation, members: members, entries: entries))
        case 5: message = .mergeDetect(try r.readRingID())
        case 6: message = .tokenHoldCancel(try r.readRingID())
        case 7: message = .probe
        case 8: message = .probeReply
        default: throw .invalid(field: "type", reason: "unknown message type \(type)")
        }
        try r.expectEnd()
        return Totem.Packet(clusterID: clusterID, sender: sender, message: message)
    }
}

extension ByteWriter {
    mutating func write(_ r: Totem.RingID) {
        write(r.representative.rawValue)
        write(r.sequence)
    }

    mutating func write(_ nodes: [NodeID]) {
        write(UInt32(nodes.count))
        for n in nodes { write(n.rawValue) }
    }
}

extension ByteReader {
    mutating func readNodeID(_ field: String) throws(WireError) -> NodeID {
        let v = try readUInt32(field)
        guard v != 0, v <= NodeID.maximum.rawValue else { throw .invalid(field: field, reason: "node id \(v)") }
        return NodeID(v)
    }

    mutating func readRingID() throws(WireError) -> Totem.RingID {
        Totem.RingID(representative: NodeID(try readUInt32("ring representative")), sequence: try readUInt64("ring seq"))
    }

    /// A list of distinct node ids, sorted ascending on the wire by every sender.
    mutating func readNodeList(_ field: String) throws(WireError) -> [NodeID] {
        let n = try readCount(field, limit: Totem.Settings.membersMax, minimumElementBytes: 4)
        var nodes: [NodeID] = []
        nodes.reserveCapacity(n)
        for _ in 0..<n {
            let id = try readNodeID(field)
            if let last = nodes.last, last >= id { throw .invalid(field: field, reason: "not strictly ascending") }
            nodes.append(id)
        }
        return nodes
    }
}
