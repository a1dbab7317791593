// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

/// quorumd's client protocol: the libcman API over IPC (services `cman_client` and, for the admin calls,
/// `cman_admin`, which only root may open).
public enum CmanIPC {
    /// One node as `cman_tool nodes` shows it.
    public struct Node: Hashable, Sendable {
        public var id: NodeID
        public var name: String
        public var votes: UInt32
        /// M, X or d.
        public var state: String
        public var incarnation: UInt64
        /// Wall-clock seconds, 0 if never joined.
        public var joinTime: UInt64
        public var addresses: [String]

        public init(id: NodeID, name: String, votes: UInt32, state: String, incarnation: UInt64, joinTime: UInt64, addresses: [String]) {
            self.id = id
            self.name = name
            self.votes = votes
            self.state = state
            self.incarnation = incarnation
            self.joinTime = joinTime
            self.addresses = addresses
        }
    }

    /// The fields of `cman_tool status`.
    public struct Status: Hashable, Sendable {
        public var version: String
        public var configVersion: UInt64
        public var clusterName: String
        public var clusterID: UInt16
        public var member: Bool
        public var generation: UInt64
        public var membershipState: String
        public var nodes: UInt32
        public var expectedVotes: UInt32
        public var totalVotes: UInt32
        public var nodeVotes: UInt32
        public var quorum: UInt32
        public var quorate: Bool
        public var activeSubsystems: UInt32
        public var flags: [String]
        public var portsBound: [UInt8]
        public var nodeName: String
        public var nodeID: NodeID
        public var multicastAddresses: [String]
        public var nodeAddresses: [String]
        public var disallowed: [String]
        public var qdiskVotes: UInt32

        public init(version: String, configVersion: UInt64, clusterName: String, clusterID: UInt16, member: Bool, generation: UInt64,
                    membershipState: String, nodes: UInt32, expectedVotes: UInt32, totalVotes: UInt32, nodeVotes: UInt32,
                    quorum: UInt32, quorate: Bool, activeSubsystems: UInt32, flags: [String], portsBound: [UInt8], nodeName: String,
                    nodeID: NodeID, multicastAddresses: [String], nodeAddresses: [String], disallowed: [String], qdiskVotes: UInt32) {
            self.version = version
            self.configVersion = configVersion
            self.clusterName = clusterName
            self.clusterID = clusterID
            self.member = member
            self.generation = generation
            self.membershipState = membershipState
            self.nodes = nodes
            self.expectedVotes = expectedVotes
            self.totalVotes = totalVotes
            self.nodeVotes = nodeVotes
            self.quorum = quorum
            self.quorate = quorate
            self.activeSubsystems = activeSubsystems
            self.flags = flags
            self.portsBound = portsBound
            self.nodeName = nodeName
            self.nodeID = nodeID
            self.multicastAddresses = multicastAddresses
            self.nodeAddresses = nodeAddresses
            self.disallowed = disallowed
            self.qdiskVotes = qdiskVotes
        }
    }

    /// Why a client is being notified (libcman's CMAN_REASON_*).
    public enum Reason: UInt8, Sendable {
        case stateChange = 1
        case tryShutdown = 2
        case configUpdate = 3
        case portOpened = 4
        case portClosed = 5
    }

    public enum Request: IPCRequest, Hashable {
        case status
        case nodes
        case isQuorate
        /// Receive notifications; `name` identifies the client when it refuses a shutdown.
        case register(name: String)
        /// The answer to a TRY_SHUTDOWN notification (one-way, like cman_replyto_shutdown).
        case replyShutdown(allow: Bool)
        /// This client's daemon holds state (cman_set_dirty).
        case setDirty
        /// Listen on a port (cman_start_recv_data); port messages arrive as `.data` events.
        case bindPort(UInt8)
        case unbindPort(UInt8)
        /// Send a port message to a node (0: every node listening on the port).
        case sendData(port: UInt8, node: NodeID, bytes: [UInt8])
        case isListening(node: NodeID, port: UInt8)
        /// Wait at a named barrier until `nodes` nodes (0: every member) have arrived; answered when it opens.
        case barrierWait(name: String, nodes: UInt32)
        // Admin service only:
        case setExpected(UInt32)
        case setVotes(node: NodeID, votes: UInt32)
        case kill(node: NodeID)
        case leave(remove: Bool, force: Bool)
        /// Validate the local cluster.conf and make it the running config everywhere (cman_tool version -r).
        case reloadConfig(version: UInt64)
        case debug(on: Bool)

        /// `replyShutdown` is one-way (libcman's `cman_replyto_shutdown` gets no answer).
        public static let oneWayMessageIDs: Set<Int32> = [5]

        public var messageID: Int32 {
            switch self {
            case .status: 1
            case .nodes: 2
            case .isQuorate: 3
            case .register: 4
            case .replyShutdown: 5
            case .setDirty: 6
            case .bindPort: 7
            case .unbindPort: 8
            case .sendData: 9
            case .isListening: 16
            case .barrierWait: 17
            case .setExpected: 10
            case .setVotes: 11
            case .kill: 12
            case .leave: 13
            case .reloadConfig: 14
            case .debug: 15
            }
        }

        /// Requests only the admin service accepts.
        public var isAdmin: Bool { (10...15).contains(messageID) }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .status, .nodes, .isQuorate, .setDirty: break
            case .register(let name): w.write(name)
            case .replyShutdown(let allow): w.write(allow)
            case .setExpected(let n): w.write(n)
            case .setVotes(let node, let votes): w.write(node.rawValue); w.write(votes)
            case .kill(let node): w.write(node.rawValue)
            case .leave(let remove, let force): w.write(remove); w.write(force)
            case .reloadConfig(let v): w.write(v)
            case .debug(let on): w.write(on)
            case .bindPort(let p), .unbindPort(let p): w.write(p)
            case .sendData(let port, let node, let bytes): w.write(port); w.write(node.rawValue); w.writeBlob(bytes)
            case .isListening(let node, let port): w.write(node.rawValue); w.write(port)
            case .barrierWait(let name, let nodes): w.write(name); w.write(nodes)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1: self = .status
            case 2: self = .nodes
            case 3: self = .isQuorate
            case 4: self = .register(name: try r.readString("name", limit: 256))
            case 5: self = .replyShutdown(allow: try r.readBool("allow"))
            case 6: self = .setDirty
            case 10: self = .setExpected(try r.readUInt32("expected"))
            case 11: self = .setVotes(node: NodeID(try r.readUInt32("node")), votes: try r.readUInt32("votes"))
            case 12: self = .kill(node: NodeID(try r.readUInt32("node")))
            case 13: self = .leave(remove: try r.readBool("remove"), force: try r.readBool("force"))
            case 14: self = .reloadConfig(version: try r.readUInt64("version"))
            case 15: self = .debug(on: try r.readBool("on"))
            case 7: self = .bindPort(try r.readUInt8("port"))
            case 8: self = .unbindPort(try r.readUInt8("port"))
            case 9: self = .sendData(port: try r.readUInt8("port"), node: NodeID(try r.readUInt32("node")), bytes: try r.readBlob("data", limit: 64 << 10))
            case 16: self = .isListening(node: NodeID(try r.readUInt32("node")), port: try r.readUInt8("port"))
            case 17: self = .barrierWait(name: try r.readString("barrier", limit: 256), nodes: try r.readUInt32("nodes"))
            default: throw .invalid(field: "request", reason: "unknown id \(id)")
            }
        }
    }

    public enum Response: IPCMessage, Hashable {
        case status(Status)
        case nodes([Node])
        case quorate(Bool)
        case done
        /// A refusal with the reason an operator needs (who said no, which rule).
        case refused(String)

        public var messageID: Int32 {
            switch self {
            case .status: 1
            case .nodes: 2
            case .quorate: 3
            case .done: 4
            case .refused: 5
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .status(let s):
                w.write(s.version); w.write(s.configVersion); w.write(s.clusterName); w.write(s.clusterID); w.write(s.member)
                w.write(s.generation); w.write(s.membershipState); w.write(s.nodes); w.write(s.expectedVotes); w.write(s.totalVotes)
                w.write(s.nodeVotes); w.write(s.quorum); w.write(s.quorate); w.write(s.activeSubsystems)
                w.writeStrings(s.flags); w.writeBlob(s.portsBound); w.write(s.nodeName); w.write(s.nodeID.rawValue)
                w.writeStrings(s.multicastAddresses); w.writeStrings(s.nodeAddresses); w.writeStrings(s.disallowed); w.write(s.qdiskVotes)
            case .nodes(let list):
                w.write(UInt32(list.count))
                for n in list {
                    w.write(n.id.rawValue); w.write(n.name); w.write(n.votes); w.write(n.state); w.write(n.incarnation)
                    w.write(n.joinTime); w.writeStrings(n.addresses)
                }
            case .quorate(let q): w.write(q)
            case .done: break
            case .refused(let why): w.write(why)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1:
                self = .status(Status(
                    version: try r.readString("version", limit: 64), configVersion: try r.readUInt64("config version"),
                    clusterName: try r.readString("cluster name", limit: 64), clusterID: try r.readUInt16("cluster id"),
                    member: try r.readBool("member"), generation: try r.readUInt64("generation"),
                    membershipState: try r.readString("membership state", limit: 64), nodes: try r.readUInt32("nodes"),
                    expectedVotes: try r.readUInt32("expected"), totalVotes: try r.readUInt32("total"), nodeVotes: try r.readUInt32("node votes"),
                    quorum: try r.readUInt32("quorum"), quorate: try r.readBool("quorate"), activeSubsystems: try r.readUInt32("subsystems"),
                    flags: try r.readStrings("flags"), portsBound: try r.readBlob("ports", limit: 256), nodeName: try r.readString("node name", limit: 256),
                    nodeID: NodeID(try r.readUInt32("node id")), multicastAddresses: try r.readStrings("multicast"),
                    nodeAddresses: try r.readStrings("addresses"), disallowed: try r.readStrings("disallowed"), qdiskVotes: try r.readUInt32("qdisk votes")))
            case 2:
                let n = try r.readCount("nodes", limit: 1024, minimumElementBytes: 20)
                var list: [Node] = []
                for _ in 0..<n {
                    list.append(Node(id: NodeID(try r.readUInt32("id")), name: try r.readString("name", limit: 256), votes: try r.readUInt32("votes"),
                                     state: try r.readString("state", limit: 4), incarnation: try r.readUInt64("inc"),
                                     joinTime: try r.readUInt64("joined"), addresses: try r.readStrings("addresses")))
                }
                self = .nodes(list)
            case 3: self = .quorate(try r.readBool("quorate"))
            case 4: self = .done
            case 5: self = .refused(try r.readString("reason", limit: 64 << 10))
            default: throw .invalid(field: "response", reason: "unknown id \(id)")
            }
        }
    }

    public enum Event: IPCMessage, Hashable {
        case notification(Reason)
        /// A port message.
        case data(from: NodeID, port: UInt8, bytes: [UInt8])

        public var messageID: Int32 {
            switch self {
            case .notification: 20
            case .data: 21
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .notification(let reason): w.write(reason.rawValue)
            case .data(let from, let port, let bytes): w.write(from.rawValue); w.write(port); w.writeBlob(bytes)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 20:
                guard let reason = Reason(rawValue: try r.readUInt8("reason")) else { throw .invalid(field: "reason", reason: "unknown") }
                self = .notification(reason)
            case 21:
                self = .data(from: NodeID(try r.readUInt32("from")), port: try r.readUInt8("port"), bytes: try r.readBlob("data", limit: 64 << 10))
            default: throw .invalid(field: "event", reason: "unknown id \(id)")
            }
        }
    }
}

extension ByteWriter {
    mutating func writeStrings(_ list: [String]) {
        write(UInt32(list.count))
        for s in list { write(s) }
    }
}

extension ByteReader {
    mutating func readStrings(_ field: String) throws(WireError) -> [String] {
        let n = try readCount(field, limit: 1024, minimumElementBytes: 4)
        var out: [String] = []
        for _ in 0..<n { out.append(try readString(field, limit: 1024)) }
        return out
    }
}
