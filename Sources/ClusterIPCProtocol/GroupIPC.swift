// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

/// groupd's client protocol: closed process groups (the libcpg calls) over IPC, service `groupd`.
public enum GroupIPC {
    /// A process in a group (the stack's shared `ProcessAddress`).
    public typealias Address = ProcessAddress

    /// CPG's reasons, same numbers: join 1, leave 2, node down 3, node up 4, process down 5.
    public enum Reason: UInt8, Hashable, Sendable, CustomStringConvertible {
        case join = 1, leave = 2, nodeDown = 3, nodeUp = 4, processDown = 5
        public var description: String {
            switch self {
            case .join: "join"
            case .leave: "leave"
            case .nodeDown: "node down"
            case .nodeUp: "node up"
            case .processDown: "process down"
            }
        }
    }

    public struct Change: Hashable, Sendable {
        public var address: Address
        public var reason: Reason
        public init(address: Address, reason: Reason) {
            self.address = address
            self.reason = reason
        }
    }

    /// A group and its members (iteration, `cpgtool`, `group_tool ls`).
    public struct GroupInfo: Hashable, Sendable {
        public var name: String
        public var members: [Address]
        /// True while groupd is exchanging memberships after a configuration change.
        public var syncing: Bool
        public init(name: String, members: [Address], syncing: Bool) {
            self.name = name
            self.members = members
            self.syncing = syncing
        }
    }

    public enum Request: IPCRequest, Hashable {
        /// Join as the calling process (its pid); `totemEvents` also delivers totem configuration changes.
        case join(group: String, totemEvents: Bool)
        case leave(group: String)
        /// One-way: no reply; under flow control the send fails with "try again".
        case mcast(group: String, payload: [UInt8])
        case members(group: String)
        case groups
        case localNodeID

        /// `mcast` is one-way (libcpg's `cpg_mcast_joined` waits for no answer).
        public static let oneWayMessageIDs: Set<Int32> = [3]

        public var messageID: Int32 {
            switch self {
            case .join: 1
            case .leave: 2
            case .mcast: 3
            case .members: 4
            case .groups: 5
            case .localNodeID: 6
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .join(let g, let t): w.write(g); w.write(t)
            case .leave(let g), .members(let g): w.write(g)
            case .mcast(let g, let p): w.write(g); w.writeBlob(p)
            case .groups, .localNodeID: break
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1: self = .join(group: try r.readString("group", limit: 256), totemEvents: try r.readBool("totem events"))
            case 2: self = .leave(group: try r.readString("group", limit: 256))
            case 3: self = .mcast(group: try r.readString("group", limit: 256), payload: try r.readBlob("payload", limit: 1 << 20))
            case 4: self = .members(group: try r.readString("group", limit: 256))
            case 5: self = .groups
            case 6: self = .localNodeID
            default: throw .invalid(field: "request", reason: "unknown id \(id)")
            }
        }
    }

    public enum Response: IPCMessage, Hashable {
        case done
        case members([Address])
        case groups([GroupInfo])
        case nodeID(NodeID)
        case refused(String)

        public var messageID: Int32 {
            switch self {
            case .done: 1
            case .members: 2
            case .groups: 3
            case .nodeID: 4
            case .refused: 5
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .done: break
            case .members(let list): w.writeAddresses(list)
            case .groups(let list):
                w.write(UInt32(list.count))
                for g in list { w.write(g.name); w.writeAddresses(g.members); w.write(g.syncing) }
            case .nodeID(let n): w.write(n.rawValue)
            case .refused(let why): w.write(why)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1: self = .done
            case 2: self = .members(try r.readAddresses())
            case 3:
                let n = try r.readCount("groups", limit: 65_536, minimumElementBytes: 9)
                var list: [GroupInfo] = []
                for _ in 0..<n {
                    list.append(GroupInfo(name: try r.readString("group", limit: 256), members: try r.readAddresses(), syncing: try r.readBool("syncing")))
                }
                self = .groups(list)
            case 4: self = .nodeID(NodeID(try r.readUInt32("node")))
            case 5: self = .refused(try r.readString("reason", limit: 4096))
            default: throw .invalid(field: "response", reason: "unknown id \(id)")
            }
        }
    }

    public enum Event: IPCMessage, Hashable {
        case configurationChange(group: String, members: [Address], joined: [Change], left: [Change], ringSequence: UInt64, viewNumber: UInt64)
        case delivery(group: String, sender: Address, payload: [UInt8])
        case totemConfiguration(ringSequence: UInt64, ringRepresentative: NodeID, members: [NodeID])

        public var messageID: Int32 {
            switch self {
            case .configurationChange: 10
            case .delivery: 11
            case .totemConfiguration: 12
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .configurationChange(let g, let members, let joined, let left, let ring, let view):
                w.write(g); w.writeAddresses(members)
                for list in [joined, left] {
                    w.write(UInt32(list.count))
                    for c in list { w.write(c.address.node.rawValue); w.write(c.address.pid); w.write(c.reason.rawValue) }
                }
                w.write(ring); w.write(view)
            case .delivery(let g, let sender, let payload):
                w.write(g); w.write(sender.node.rawValue); w.write(sender.pid); w.writeBlob(payload)
            case .totemConfiguration(let ring, let rep, let members):
                w.write(ring); w.write(rep.rawValue)
                w.write(UInt32(members.count))
                for m in members { w.write(m.rawValue) }
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 10:
                let g = try r.readString("group", limit: 256)
                let members = try r.readAddresses()
                var lists: [[Change]] = []
                for field in ["joined", "left"] {
                    let n = try r.readCount(field, limit: 1024, minimumElementBytes: 9)
                    var l: [Change] = []
                    for _ in 0..<n {
                        let a = Address(node: NodeID(try r.readUInt32("node")), pid: try r.readUInt32("pid"))
                        guard let reason = Reason(rawValue: try r.readUInt8("reason")) else { throw .invalid(field: "reason", reason: "unknown") }
                        l.append(Change(address: a, reason: reason))
                    }
                    lists.append(l)
                }
                self = .configurationChange(group: g, members: members, joined: lists[0], left: lists[1],
                                            ringSequence: try r.readUInt64("ring"), viewNumber: try r.readUInt64("view"))
            case 11:
                self = .delivery(group: try r.readString("group", limit: 256),
                                 sender: Address(node: NodeID(try r.readUInt32("node")), pid: try r.readUInt32("pid")),
                                 payload: try r.readBlob("payload", limit: 1 << 20))
            case 12:
                let ring = try r.readUInt64("ring"), rep = NodeID(try r.readUInt32("representative"))
                let n = try r.readCount("members", limit: 1024, minimumElementBytes: 4)
                var m: [NodeID] = []
                for _ in 0..<n { m.append(NodeID(try r.readUInt32("member"))) }
                self = .totemConfiguration(ringSequence: ring, ringRepresentative: rep, members: m)
            default: throw .invalid(field: "event", reason: "unknown id \(id)")
            }
        }
    }
}

extension ByteWriter {
    mutating func writeAddresses(_ list: [GroupIPC.Address]) {
        write(UInt32(list.count))
        for a in list { write(a.node.rawValue); write(a.pid) }
    }
}

extension ByteReader {
    mutating func readAddresses() throws(WireError) -> [GroupIPC.Address] {
        let n = try readCount("members", limit: 65_536, minimumElementBytes: 8)
        var out: [GroupIPC.Address] = []
        for _ in 0..<n { out.append(GroupIPC.Address(node: NodeID(try readUInt32("node")), pid: try readUInt32("pid"))) }
        return out
    }
}
