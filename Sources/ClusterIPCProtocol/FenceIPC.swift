// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

/// fenced's client protocol, service `fenced` (and `fenced-admin`, root only, for the calls that change the domain):
/// what `fence_tool`, `fence_ack_manual` and `fence_node` ask, and the events that tell other daemons (rgmanager,
/// control daemons) that a failed node has been fenced, so they may take over its work.
public enum FenceIPC {
    /// How a node's last failure was settled.
    public enum How: UInt8, Hashable, Sendable, CustomStringConvertible {
        case none = 0
        /// A fence agent of the node's configured methods succeeded.
        case agent = 1
        /// The node rejoined cleanly (restarted) before it was fenced.
        case member = 2
        /// An operator acknowledged it (`fence_ack_manual`).
        case override = 3
        /// `fence_node` fenced it outside the domain.
        case external = 4
        public var description: String {
            switch self {
            case .none: "none"
            case .agent: "agent"
            case .member: "member"
            case .override: "override"
            case .external: "external"
            }
        }
    }

    /// One node as the domain knows it (`fence_tool ls -n`, `cman_tool nodes -f`).
    public struct NodeState: Hashable, Sendable {
        public var node: NodeID
        public var member: Bool
        public var victim: Bool
        /// The member that settled its last failure (0: never failed).
        public var lastFenceMaster: NodeID
        public var lastFenceHow: How
        /// Wall-clock seconds of the last fence (0: never).
        public var lastFenceTime: UInt64
        public var lastFenceAgent: String
        public init(node: NodeID, member: Bool, victim: Bool, lastFenceMaster: NodeID, lastFenceHow: How, lastFenceTime: UInt64,
                    lastFenceAgent: String) {
            self.node = node
            self.member = member
            self.victim = victim
            self.lastFenceMaster = lastFenceMaster
            self.lastFenceHow = lastFenceHow
            self.lastFenceTime = lastFenceTime
            self.lastFenceAgent = lastFenceAgent
        }
    }

    /// The fence domain as this node's fenced sees it (`fence_tool ls`).
    public struct Domain: Hashable, Sendable {
        public var name: String
        /// fenced's phase (joining, member, leaving, outside…) and wait state (none, quorum, fencing, messages…).
        public var phase: String
        public var waitState: String
        public var members: [NodeID]
        public var victimCount: UInt32
        public var victimNow: NodeID
        public var master: NodeID
        public var nodes: [NodeState]
        /// `fence_tool ls` text, as fenced formats it.
        public var listing: String
        public var nodeListing: String
        public init(name: String, phase: String, waitState: String, members: [NodeID], victimCount: UInt32, victimNow: NodeID,
                    master: NodeID, nodes: [NodeState], listing: String, nodeListing: String) {
            self.name = name
            self.phase = phase
            self.waitState = waitState
            self.members = members
            self.victimCount = victimCount
            self.victimNow = victimNow
            self.master = master
            self.nodes = nodes
            self.listing = listing
            self.nodeListing = nodeListing
        }
    }

    /// A victim's fate, as every member of the domain learns it.
    public struct Outcome: Hashable, Sendable {
        public var node: NodeID
        public var how: How
        /// The member that settled it.
        public var by: NodeID
        public var agent: String
        public var wallClockSeconds: UInt64
        /// The line operators grep for ("node N fenced at T by AGENT …").
        public var text: String
        public init(node: NodeID, how: How, by: NodeID, agent: String, wallClockSeconds: UInt64, text: String) {
            self.node = node
            self.how = how
            self.by = by
            self.agent = agent
            self.wallClockSeconds = wallClockSeconds
            self.text = text
        }
    }

    public enum Request: IPCRequest, Hashable {
        /// Join the fence domain (`fence_tool join`); admin.
        case join
        /// Leave it (`fence_tool leave`); admin.
        case leave
        case status
        /// The operator's override for a victim that cannot be fenced (`fence_ack_manual NODE`); admin.
        case acknowledge(node: NodeID)
        /// `fence_node` fenced this node outside the domain; admin.
        case externallyFenced(node: NodeID, agent: String)
        /// Send this connection `victim` and `fenced` events.
        case subscribe

        public var messageID: Int32 {
            switch self {
            case .join: 1
            case .leave: 2
            case .status: 3
            case .acknowledge: 4
            case .externallyFenced: 5
            case .subscribe: 6
            }
        }

        /// Every request is answered.
        public static let oneWayMessageIDs: Set<Int32> = []

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .join, .leave, .status, .subscribe: break
            case .acknowledge(let n): w.write(n.rawValue)
            case .externallyFenced(let n, let agent): w.write(n.rawValue); w.write(agent)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1: self = .join
            case 2: self = .leave
            case 3: self = .status
            case 4: self = .acknowledge(node: NodeID(try r.readUInt32("node")))
            case 5: self = .externallyFenced(node: NodeID(try r.readUInt32("node")), agent: try r.readString("agent", limit: 1024))
            case 6: self = .subscribe
            default: throw .invalid(field: "request", reason: "unknown id \(id)")
            }
        }
    }

    public enum Response: IPCMessage, Hashable {
        case done
        case domain(Domain)
        case refused(String)

        public var messageID: Int32 {
            switch self {
            case .done: 1
            case .domain: 2
            case .refused: 3
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .done: break
            case .domain(let d):
                w.write(d.name); w.write(d.phase); w.write(d.waitState); w.writeNodes(d.members)
                w.write(d.victimCount); w.write(d.victimNow.rawValue); w.write(d.master.rawValue)
                w.write(UInt32(d.nodes.count))
                for n in d.nodes {
                    w.write(n.node.rawValue); w.write(n.member); w.write(n.victim); w.write(n.lastFenceMaster.rawValue)
                    w.write(n.lastFenceHow.rawValue); w.write(n.lastFenceTime); w.write(n.lastFenceAgent)
                }
                w.write(d.listing); w.write(d.nodeListing)
            case .refused(let why): w.write(why)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1: self = .done
            case 2:
                let name = try r.readString("name", limit: 256), phase = try r.readString("phase", limit: 64)
                let wait = try r.readString("wait state", limit: 64), members = try r.readNodes()
                let count = try r.readUInt32("victim count"), now = NodeID(try r.readUInt32("victim now"))
                let master = NodeID(try r.readUInt32("master"))
                let n = try r.readCount("nodes", limit: 65_536, minimumElementBytes: 24)
                var nodes: [NodeState] = []
                for _ in 0..<n {
                    let node = NodeID(try r.readUInt32("node")), member = try r.readBool("member"), victim = try r.readBool("victim")
                    let by = NodeID(try r.readUInt32("master"))
                    guard let how = How(rawValue: try r.readUInt8("how")) else { throw .invalid(field: "how", reason: "unknown") }
                    nodes.append(NodeState(node: node, member: member, victim: victim, lastFenceMaster: by, lastFenceHow: how,
                                           lastFenceTime: try r.readUInt64("time"), lastFenceAgent: try r.readString("agent", limit: 1024)))
                }
                self = .domain(Domain(name: name, phase: phase, waitState: wait, members: members, victimCount: count, victimNow: now,
                                      master: master, nodes: nodes, listing: try r.readString("listing", limit: 1 << 20),
                                      nodeListing: try r.readString("node listing", limit: 1 << 20)))
            case 3: self = .refused(try r.readString("reason", limit: 4096))
            default: throw .invalid(field: "response", reason: "unknown id \(id)")
            }
        }
    }

    public enum Event: IPCMessage, Hashable {
        /// A member left the domain without a clean leave: it will be fenced.
        case victim(node: NodeID)
        /// A victim's failure is settled: fenced (or acknowledged, or back after a restart). Work it held may be
        /// recovered elsewhere from now on.
        case fenced(Outcome)

        public var messageID: Int32 {
            switch self {
            case .victim: 30
            case .fenced: 31
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .victim(let n): w.write(n.rawValue)
            case .fenced(let o):
                w.write(o.node.rawValue); w.write(o.how.rawValue); w.write(o.by.rawValue); w.write(o.agent)
                w.write(o.wallClockSeconds); w.write(o.text)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 30: self = .victim(node: NodeID(try r.readUInt32("node")))
            case 31:
                let node = NodeID(try r.readUInt32("node"))
                guard let how = How(rawValue: try r.readUInt8("how")) else { throw .invalid(field: "how", reason: "unknown") }
                self = .fenced(Outcome(node: node, how: how, by: NodeID(try r.readUInt32("by")), agent: try r.readString("agent", limit: 1024),
                                       wallClockSeconds: try r.readUInt64("time"), text: try r.readString("text", limit: 4096)))
            default: throw .invalid(field: "event", reason: "unknown id \(id)")
            }
        }
    }
}

extension ByteWriter {
    mutating func writeNodes(_ nodes: [NodeID]) {
        write(UInt32(nodes.count))
        for n in nodes { write(n.rawValue) }
    }
}

extension ByteReader {
    mutating func readNodes() throws(WireError) -> [NodeID] {
        let n = try readCount("nodes", limit: 65_536, minimumElementBytes: 4)
        var out: [NodeID] = []
        for _ in 0..<n { out.append(NodeID(try readUInt32("node"))) }
        return out
    }
}
