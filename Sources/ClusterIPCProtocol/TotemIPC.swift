// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

/// The client protocol of totemd (the library wire; the cluster wire is `Totem.Packet`).
public enum TotemIPC {
    /// The largest multicast payload.
    public static let payloadBytesMax = 1 << 20
    /// Channels a client may open at once.
    public static let channelsMax = 64
    /// The most messages one `Request.multicastBatch` carries, and its most payload bytes: a batch saves an IPC
    /// message and a wake-up of totemd per message, and stays far below the connection's buffer.
    public static let batchCountMax = 256
    public static let batchBytesMax = 128 << 10

    /// One multicast of a batch.
    public struct Multicast: Hashable, Sendable {
        public var channel: UInt16
        public var safe: Bool
        public var payload: [UInt8]
        public init(channel: UInt16, safe: Bool = false, payload: [UInt8]) {
            self.channel = channel
            self.safe = safe
            self.payload = payload
        }
    }

    /// A configuration change as clients see it: the very value totem's core produced.
    public typealias Configuration = ConfigurationChange

    /// One ring's transport status (corosync-cfgtool -s style).
    public struct RingStatus: Hashable, Sendable {
        public var number: UInt32
        public var address: String
        public var status: String
        public init(number: UInt32, address: String, status: String) {
            self.number = number
            self.address = address
            self.status = status
        }
    }

    /// totemd's state for `cman_tool ring` and monitoring.
    public struct Status: Hashable, Sendable {
        public var nodeID: NodeID
        public var clusterName: String
        public var state: String
        public var ringRepresentative: NodeID
        public var ringSequence: UInt64
        public var members: [NodeID]
        public var transport: String
        public var rings: [RingStatus]
        /// Named counters (protocol and transport).
        public var counters: [(name: String, value: UInt64)]

        public init(nodeID: NodeID, clusterName: String, state: String, ringRepresentative: NodeID, ringSequence: UInt64,
                    members: [NodeID], transport: String, rings: [RingStatus], counters: [(name: String, value: UInt64)]) {
            self.nodeID = nodeID
            self.clusterName = clusterName
            self.state = state
            self.ringRepresentative = ringRepresentative
            self.ringSequence = ringSequence
            self.members = members
            self.transport = transport
            self.rings = rings
            self.counters = counters
        }

        public static func == (a: Status, b: Status) -> Bool {
            a.nodeID == b.nodeID && a.clusterName == b.clusterName && a.state == b.state && a.ringRepresentative == b.ringRepresentative
                && a.ringSequence == b.ringSequence && a.members == b.members && a.transport == b.transport && a.rings == b.rings
                && a.counters.map(\.name) == b.counters.map(\.name) && a.counters.map(\.value) == b.counters.map(\.value)
        }

        public func hash(into h: inout Hasher) {
            h.combine(nodeID)
            h.combine(ringSequence)
        }
    }

    public enum Request: IPCRequest, Hashable {
        /// Subscribe this connection to `channels` (replaces an earlier subscription). Answered with `.opened`.
        case open(channels: [UInt16])
        /// Multicast on a channel. One-way: no reply. Under flow control the send fails with "try again".
        case multicast(channel: UInt16, safe: Bool, payload: [UInt8])
        case status
        /// Leave the cluster and stop (root only). One-way: no reply, so a daemon may ask from its event loop.
        case leave
        /// Several multicasts, in order, as one one-way message (at most `batchCountMax` and `batchBytesMax`): what
        /// a daemon's link sends when several pile up in one turn of its loop. Flow control refuses it whole.
        case multicastBatch([Multicast])

        public var messageID: Int32 {
            switch self {
            case .open: 1
            case .multicast: 2
            case .status: 3
            case .leave: 4
            case .multicastBatch: Self.multicastBatchMessageID
            }
        }

        /// Multicasts, batches of them and leave are one-way: a daemon's loop never waits for totemd.
        public static let oneWayMessageIDs: Set<Int32> = [2, 4, 5]

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .open(let channels):
                w.write(UInt32(channels.count))
                for c in channels { w.write(c) }
            case .multicast(let channel, let safe, let payload):
                w.write(channel)
                w.write(safe)
                w.writeBlob(payload)
            case .status, .leave:
                break
            case .multicastBatch(let list):
                Self.encodeBatch(list, count: list.count, into: &w)
            }
        }

        /// The id of `.multicastBatch`.
        public static let multicastBatchMessageID: Int32 = 5

        /// The body of a `.multicastBatch` of `count` multicasts (for a sender that encodes a batch without building
        /// the request first). `@inlinable`: unspecialised, the generic walk over the list cost groupd about three
        /// allocations a message.
        @inlinable
        public static func encodeBatch<S: Sequence<Multicast>>(_ list: S, count: Int, into w: inout ByteWriter) {
            w.write(UInt32(count))
            for m in list {
                w.write(m.channel)
                w.write(m.safe)
                w.writeBlob(m.payload)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1:
                let n = try r.readCount("channels", limit: TotemIPC.channelsMax, minimumElementBytes: 2)
                var c: [UInt16] = []
                for _ in 0..<n { c.append(try r.readUInt16("channel")) }
                self = .open(channels: c)
            case 2:
                self = .multicast(channel: try r.readUInt16("channel"), safe: try r.readBool("safe"),
                                  payload: try r.readBlob("payload", limit: TotemIPC.payloadBytesMax))
            case 3: self = .status
            case 4: self = .leave
            case 5:
                let n = try r.readCount("batch", limit: TotemIPC.batchCountMax, minimumElementBytes: 7)
                var list: [Multicast] = []
                list.reserveCapacity(n)
                var bytes = 0
                for _ in 0..<n {
                    let m = Multicast(channel: try r.readUInt16("channel"), safe: try r.readBool("safe"),
                                      payload: try r.readBlob("payload", limit: TotemIPC.payloadBytesMax))
                    bytes += m.payload.count
                    list.append(m)
                }
                guard bytes <= TotemIPC.batchBytesMax || n == 1 else { throw .invalid(field: "batch", reason: "\(bytes) bytes") }
                self = .multicastBatch(list)
            default: throw .invalid(field: "request", reason: "unknown id \(id)")
            }
        }
    }

    public enum Response: IPCMessage, Hashable {
        /// This node's id and, once one exists, the current regular configuration.
        case opened(nodeID: NodeID, configuration: Configuration?)
        case status(Status)
        case done

        public var messageID: Int32 {
            switch self {
            case .opened: 1
            case .status: 2
            case .done: 3
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .opened(let node, let conf):
                w.write(node.rawValue)
                if let conf {
                    w.write(true)
                    conf.encode(into: &w)
                } else {
                    w.write(false)
                }
            case .status(let s):
                w.write(s.nodeID.rawValue)
                w.write(s.clusterName)
                w.write(s.state)
                w.write(s.ringRepresentative.rawValue)
                w.write(s.ringSequence)
                w.write(UInt32(s.members.count))
                for m in s.members { w.write(m.rawValue) }
                w.write(s.transport)
                w.write(UInt32(s.rings.count))
                for r in s.rings {
                    w.write(r.number)
                    w.write(r.address)
                    w.write(r.status)
                }
                w.write(UInt32(s.counters.count))
                for c in s.counters {
                    w.write(c.name)
                    w.write(c.value)
                }
            case .done:
                break
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1:
                let node = NodeID(try r.readUInt32("node id"))
                self = .opened(nodeID: node, configuration: try r.readBool("has configuration") ? try Configuration.decode(from: &r) : nil)
            case 2:
                let node = NodeID(try r.readUInt32("node id"))
                let name = try r.readString("cluster name", limit: 256)
                let state = try r.readString("state", limit: 64)
                let rep = NodeID(try r.readUInt32("ring representative"))
                let seq = try r.readUInt64("ring sequence")
                let n = try r.readCount("members", limit: 1024, minimumElementBytes: 4)
                var members: [NodeID] = []
                for _ in 0..<n { members.append(NodeID(try r.readUInt32("member"))) }
                let transport = try r.readString("transport", limit: 64)
                let nr = try r.readCount("rings", limit: 16, minimumElementBytes: 12)
                var rings: [RingStatus] = []
                for _ in 0..<nr {
                    rings.append(RingStatus(number: try r.readUInt32("ring"), address: try r.readString("address", limit: 256),
                                            status: try r.readString("ring status", limit: 256)))
                }
                let nc = try r.readCount("counters", limit: 256, minimumElementBytes: 12)
                var counters: [(name: String, value: UInt64)] = []
                for _ in 0..<nc { counters.append((try r.readString("counter", limit: 64), try r.readUInt64("value"))) }
                self = .status(Status(nodeID: node, clusterName: name, state: state, ringRepresentative: rep, ringSequence: seq,
                                      members: members, transport: transport, rings: rings, counters: counters))
            case 3: self = .done
            default: throw .invalid(field: "response", reason: "unknown id \(id)")
            }
        }
    }

    public enum Event: IPCMessage, Hashable {
        case configuration(Configuration)
        /// `position`: the message's place in its ring's agreed stream, the same on every node that delivers it (see
        /// `Totem.Delivery.position`).
        case delivery(channel: UInt16, sender: NodeID, safe: Bool, payload: [UInt8], position: UInt64)
        /// totemd takes multicasts again: its flow control went off. Sent to the connections that have multicast and
        /// opened a channel, so a sender told "try again" resends now instead of polling.
        case sendReady

        /// The id of `.delivery`, for a sender that encodes one body for many clients.
        public static let deliveryMessageID: Int32 = 11

        public var messageID: Int32 {
            switch self {
            case .configuration: 10
            case .delivery: Self.deliveryMessageID
            case .sendReady: 12
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .configuration(let c): c.encode(into: &w)
            case .delivery(let channel, let sender, let safe, let payload, let position):
                w.write(channel)
                w.write(sender.rawValue)
                w.write(safe)
                w.write(position)
                w.writeBlob(payload)
            case .sendReady: break
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 10: self = .configuration(try Configuration.decode(from: &r))
            case Self.deliveryMessageID:
                let channel = try r.readUInt16("channel"), sender = NodeID(try r.readUInt32("sender"))
                let safe = try r.readBool("safe"), position = try r.readUInt64("position")
                self = .delivery(channel: channel, sender: sender, safe: safe,
                                 payload: try r.readBlob("payload", limit: TotemIPC.payloadBytesMax), position: position)
            case 12: self = .sendReady
            default: throw .invalid(field: "event", reason: "unknown id \(id)")
            }
        }
    }
}

extension ConfigurationChange {
    /// The wire form inside totemd's events and replies: kind (0 transitional, 1 regular), ring, three node lists.
    func encode(into w: inout ByteWriter) {
        w.write(kind == .regular ? UInt8(1) : UInt8(0))
        w.write(ringID.representative.rawValue)
        w.write(ringID.sequence)
        for list in [members, joined, left] {
            w.write(UInt32(list.count))
            for n in list { w.write(n.rawValue) }
        }
    }

    static func decode(from r: inout ByteReader) throws(WireError) -> ConfigurationChange {
        let kind: ConfigurationKind
        switch try r.readUInt8("kind") {
        case 0: kind = .transitional
        case 1: kind = .regular
        default: throw .invalid(field: "kind", reason: "unknown")
        }
        let rep = NodeID(try r.readUInt32("ring representative"))
        let seq = try r.readUInt64("ring sequence")
        var lists: [[NodeID]] = []
        for field in ["members", "joined", "left"] {
            let n = try r.readCount(field, limit: 1024, minimumElementBytes: 4)
            var l: [NodeID] = []
            for _ in 0..<n { l.append(NodeID(try r.readUInt32(field))) }
            lists.append(l)
        }
        return ConfigurationChange(kind: kind, ringID: RingID(representative: rep, sequence: seq), members: lists[0],
                                   joined: lists[1], left: lists[2])
    }
}
