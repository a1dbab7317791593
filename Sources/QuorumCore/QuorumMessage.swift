// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension Quorum {
    /// What a node tells the others about itself after every configuration change and whenever it changes.
    public struct NodeInfo: Hashable, Sendable {
        public var nodeID: NodeID
        public var clusterName: String
        public var name: String
        public var votes: UInt32
        public var expectedVotes: UInt32
        public var configVersion: UInt64
        /// The ring sequence of the first configuration this quorumd process saw: a new value means a restart.
        public var incarnation: UInt64
        /// Wall-clock seconds when this quorumd joined.
        public var joinTime: UInt64
        /// Its daemons hold state that must not be merged blindly (cman_set_dirty).
        public var dirty: Bool
        /// Votes its quorum disk offers to its partition right now (0 when not the master's partition).
        public var qdiskVotes: UInt32
        /// The members it has already seen together (wait_for_all).
        public var seenAll: Bool
        /// Ports its local clients are listening on (cman_start_recv_data).
        public var ports: [UInt8] = []
        /// Its quorum-disk offer is the master's (kept across membership changes; other offers are not).
        public var qdiskMaster = false
        /// The first announcement of this quorumd process: everyone announces again, so a quorumd that restarts
        /// while the ring stays the same learns its peers (no configuration change would make them announce).
        public var fresh = false

        public init(nodeID: NodeID, clusterName: String, name: String, votes: UInt32, expectedVotes: UInt32, configVersion: UInt64,
                    incarnation: UInt64, joinTime: UInt64, dirty: Bool, qdiskVotes: UInt32, seenAll: Bool, ports: [UInt8] = [],
                    qdiskMaster: Bool = false, fresh: Bool = false) {
            self.ports = ports
            self.qdiskMaster = qdiskMaster
            self.fresh = fresh
            self.nodeID = nodeID
            self.clusterName = clusterName
            self.name = name
            self.votes = votes
            self.expectedVotes = expectedVotes
            self.configVersion = configVersion
            self.incarnation = incarnation
            self.joinTime = joinTime
            self.dirty = dirty
            self.qdiskVotes = qdiskVotes
            self.seenAll = seenAll
        }
    }

    /// Daemon-to-daemon messages, multicast over totem (channel `Quorum.channel`).
    public enum Message: Hashable, Sendable {
        case nodeInfo(NodeInfo)
        /// An administrator set expected votes (cman_tool expected -e).
        case setExpected(UInt32)
        /// An administrator set a node's votes (cman_tool votes -v).
        case setVotes(node: NodeID, votes: UInt32)
        /// Remove a node: it stops its stack when it receives this (cman_tool kill, or a quorate side ridding itself
        /// of a Disallowed node).
        case kill(node: NodeID, reason: String)
        /// A node is leaving on purpose; with `remove`, the others lower expected votes by its votes.
        case leaving(node: NodeID, remove: Bool)
        /// A proposed new cluster.conf (cman_tool version -r).
        case configPropose(origin: NodeID, version: UInt64, bytes: [UInt8])
        /// A member's verdict on a proposal: empty reason means valid.
        case configVote(node: NodeID, version: UInt64, refusal: String)
        /// Port messaging (cman_send_data): to one node, or to all (node 0).
        case data(port: UInt8, to: NodeID, bytes: [UInt8])
        /// A node arrived at a barrier that needs `expected` nodes (0: every member).
        case barrierWait(name: String, expected: UInt32)
    }

    /// The totem channel quorumd uses.
    public static let channel: UInt16 = 1
    /// Largest cluster.conf distributed through totem.
    public static let configBytesMax = 512 << 10
    /// Largest port message (cman_send_data).
    public static let dataBytesMax = 64 << 10
}

extension Quorum.Message {
    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.write(UInt8(1))  // version
        switch self {
        case .nodeInfo(let i):
            w.write(UInt8(1))
            w.write(i.nodeID.rawValue); w.write(i.clusterName); w.write(i.name); w.write(i.votes); w.write(i.expectedVotes)
            w.write(i.configVersion); w.write(i.incarnation); w.write(i.joinTime); w.write(i.dirty)
            w.write(i.qdiskVotes); w.write(i.seenAll); w.writeBlob(i.ports); w.write(i.qdiskMaster); w.write(i.fresh)
        case .setExpected(let n):
            w.write(UInt8(2)); w.write(n)
        case .setVotes(let node, let votes):
            w.write(UInt8(3)); w.write(node.rawValue); w.write(votes)
        case .kill(let node, let reason):
            w.write(UInt8(4)); w.write(node.rawValue); w.write(reason)
        case .leaving(let node, let remove):
            w.write(UInt8(5)); w.write(node.rawValue); w.write(remove)
        case .configPropose(let origin, let version, let bytes):
            w.write(UInt8(6)); w.write(origin.rawValue); w.write(version); w.writeBlob(bytes)
        case .configVote(let node, let version, let refusal):
            w.write(UInt8(7)); w.write(node.rawValue); w.write(version); w.write(refusal)
        case .data(let port, let to, let bytes):
            w.write(UInt8(8)); w.write(port); w.write(to.rawValue); w.writeBlob(bytes)
        case .barrierWait(let name, let expected):
            w.write(UInt8(9)); w.write(name); w.write(expected)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Quorum.Message {
        var r = ByteReader(bytes)
        guard try r.readUInt8("version") == 1 else { throw .invalid(field: "version", reason: "unsupported") }
        let m: Quorum.Message
        switch try r.readUInt8("type") {
        case 1:
            m = .nodeInfo(Quorum.NodeInfo(
                nodeID: NodeID(try r.readUInt32("node")), clusterName: try r.readString("cluster name", limit: 64),
                name: try r.readString("name", limit: 256), votes: try r.readUInt32("votes"),
                expectedVotes: try r.readUInt32("expected"), configVersion: try r.readUInt64("config version"),
                incarnation: try r.readUInt64("incarnation"), joinTime: try r.readUInt64("join time"), dirty: try r.readBool("dirty"),
                qdiskVotes: try r.readUInt32("qdisk votes"), seenAll: try r.readBool("seen all"),
                ports: try r.readBlob("ports", limit: 256), qdiskMaster: try r.readBool("qdisk master"),
                fresh: try r.readBool("fresh")))
        case 2: m = .setExpected(try r.readUInt32("expected"))
        case 3: m = .setVotes(node: NodeID(try r.readUInt32("node")), votes: try r.readUInt32("votes"))
        case 4: m = .kill(node: NodeID(try r.readUInt32("node")), reason: try r.readString("reason", limit: 1024))
        case 5: m = .leaving(node: NodeID(try r.readUInt32("node")), remove: try r.readBool("remove"))
        case 6:
            m = .configPropose(origin: NodeID(try r.readUInt32("origin")), version: try r.readUInt64("version"),
                               bytes: try r.readBlob("config", limit: Quorum.configBytesMax))
        case 7: m = .configVote(node: NodeID(try r.readUInt32("node")), version: try r.readUInt64("version"),
                                refusal: try r.readString("refusal", limit: 64 << 10))
        case 8: m = .data(port: try r.readUInt8("port"), to: NodeID(try r.readUInt32("to")), bytes: try r.readBlob("data", limit: Quorum.dataBytesMax))
        case 9: m = .barrierWait(name: try r.readString("barrier", limit: 256), expected: try r.readUInt32("expected"))
        default: throw .invalid(field: "type", reason: "unknown quorum message")
        }
        try r.expectEnd()
        return m
    }
}
