// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

/// rgmanager's client protocol, service `rgmanager`: what `clustat` shows and what `clusvcadm` asks.
///
/// Service states and flags travel as rgmanager's numbers (`RG_STATE_*` from 110, `RG_FLAG_*`), so this module needs
/// nothing of ResourceCore; the tools turn them back into its types.
public enum ResourceIPC {
    /// Longest service or node name accepted.
    public static let nameBytesMax = 255
    /// Most members or services in one status.
    public static let entriesMax = 65_536

    /// One cluster member as clustat lists it.
    public struct Member: Hashable, Sendable {
        public var name: String
        public var id: NodeID
        public var online: Bool
        public var local: Bool
        /// In the membership but not in cluster.conf.
        public var estranged: Bool
        /// Its rgmanager is in the rgmanager group.
        public var rgmanager: Bool
        /// It is the group's coordinator (clustat's RG-Master).
        public var rgmanagerMaster: Bool
        public init(name: String, id: NodeID, online: Bool, local: Bool, estranged: Bool, rgmanager: Bool, rgmanagerMaster: Bool) {
            self.name = name
            self.id = id
            self.online = online
            self.local = local
            self.estranged = estranged
            self.rgmanager = rgmanager
            self.rgmanagerMaster = rgmanagerMaster
        }
    }

    /// One row of the agreed service table.
    public struct Service: Hashable, Sendable {
        /// The service's name, without `service:`.
        public var name: String
        /// rgmanager's state number (110 stopped … 119 disabled).
        public var state: UInt16
        /// rgmanager's flag bits (1 frozen, 2 partial).
        public var flags: UInt32
        /// NodeID 0: none.
        public var owner: NodeID
        public var lastOwner: NodeID
        public var restarts: UInt32
        /// Wall-clock seconds of the last transition.
        public var lastTransition: UInt64
        public init(name: String, state: UInt16, flags: UInt32, owner: NodeID, lastOwner: NodeID, restarts: UInt32, lastTransition: UInt64) {
            self.name = name
            self.state = state
            self.flags = flags
            self.owner = owner
            self.lastOwner = lastOwner
            self.restarts = restarts
            self.lastTransition = lastTransition
        }
    }

    /// Everything clustat prints, as this node's rgmanager knows it.
    public struct Status: Hashable, Sendable {
        public var clusterName: String
        public var clusterID: UInt32
        /// The ring sequence of the current membership (clustat's generation).
        public var generation: UInt64
        public var quorate: Bool
        /// This node's rgmanager is in the group and has the agreed table.
        public var groupMember: Bool
        /// Wall-clock seconds when the status was taken.
        public var time: UInt64
        public var localNode: NodeID
        public var members: [Member]
        public var services: [Service]
        /// One line on what rgmanager is doing or waiting for ("waiting for node 3 to be fenced; fenced is not
        /// running"), as systemd's status shows it.
        public var activity: String
        public init(clusterName: String, clusterID: UInt32, generation: UInt64, quorate: Bool, groupMember: Bool, time: UInt64,
                    localNode: NodeID, members: [Member], services: [Service], activity: String) {
            self.clusterName = clusterName
            self.clusterID = clusterID
            self.generation = generation
            self.quorate = quorate
            self.groupMember = groupMember
            self.time = time
            self.localNode = localNode
            self.members = members
            self.services = services
            self.activity = activity
        }
    }

    /// A clusvcadm operation.
    public enum Action: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// `-e`: start a stopped or disabled service (on `-m` if given).
        case enable = 1
        /// `-d`: stop it and keep it stopped.
        case disable = 2
        /// `-r`: stop it and start it on another member (`-m` if given).
        case relocate = 3
        /// `-R`: stop and start it in place.
        case restart = 4
        /// `-s`: stop it until it is enabled again or the membership changes.
        case stop = 5
        /// `-Z`: no status checks, no failover.
        case freeze = 6
        /// `-U`: undo `-Z`.
        case unfreeze = 7

        public var description: String {
            switch self {
            case .enable: "enable"
            case .disable: "disable"
            case .relocate: "relocate"
            case .restart: "restart"
            case .stop: "stop"
            case .freeze: "freeze"
            case .unfreeze: "unfreeze"
            }
        }
    }

    public enum Request: IPCRequest, Hashable {
        case status
        /// `service` without `service:`; `target` a member's name or node id as the operator wrote it.
        case admin(Action, service: String, target: String?)
        /// `clusvcadm -l` (true) / `-u` (false): lock or unlock this node's rgmanager (no service starts here while
        /// locked). Answered with `lockState`.
        case lock(Bool)
        /// `clusvcadm -S`: answered with `lockState`.
        case lockState

        public var messageID: Int32 {
            switch self {
            case .status: 1
            case .admin: 2
            case .lock: 3
            case .lockState: 4
            }
        }

        /// Every request is answered.
        public static let oneWayMessageIDs: Set<Int32> = []

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .status, .lockState: break
            case .lock(let on): w.write(on)
            case .admin(let action, let service, let target):
                w.write(action.rawValue); w.write(service); w.write(target != nil); w.write(target ?? "")
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1: self = .status
            case 2:
                guard let action = Action(rawValue: try r.readUInt8("action")) else { throw .invalid(field: "action", reason: "unknown") }
                let service = try r.readString("service", limit: ResourceIPC.nameBytesMax)
                let hasTarget = try r.readBool("has target")
                let target = try r.readString("target", limit: ResourceIPC.nameBytesMax)
                self = .admin(action, service: service, target: hasTarget ? target : nil)
            case 3: self = .lock(try r.readBool("lock"))
            case 4: self = .lockState
            default: throw .invalid(field: "request", reason: "unknown id \(id)")
            }
        }
    }

    public enum Response: IPCMessage, Hashable {
        case status(Status)
        /// The request was agreed by every member; the text says what follows.
        case done(String)
        /// Not done, and why (names the service, member or state at fault).
        case refused(String)
        /// This node's lock (`clusvcadm -l/-u/-S`): true while no service may start here.
        case lockState(Bool)

        public var messageID: Int32 {
            switch self {
            case .status: 1
            case .done: 2
            case .refused: 3
            case .lockState: 4
            }
        }

        public func encodeBody(into w: inout ByteWriter) {
            switch self {
            case .status(let s):
                w.write(s.clusterName); w.write(s.clusterID); w.write(s.generation); w.write(s.quorate); w.write(s.groupMember)
                w.write(s.time); w.write(s.localNode.rawValue)
                w.write(UInt32(s.members.count))
                for m in s.members {
                    w.write(m.name); w.write(m.id.rawValue); w.write(m.online); w.write(m.local); w.write(m.estranged)
                    w.write(m.rgmanager); w.write(m.rgmanagerMaster)
                }
                w.write(UInt32(s.services.count))
                for v in s.services {
                    w.write(v.name); w.write(v.state); w.write(v.flags); w.write(v.owner.rawValue); w.write(v.lastOwner.rawValue)
                    w.write(v.restarts); w.write(v.lastTransition)
                }
                w.write(s.activity)
            case .done(let text), .refused(let text): w.write(text)
            case .lockState(let on): w.write(on)
            }
        }

        public init(messageID id: Int32, body r: inout ByteReader) throws(WireError) {
            switch id {
            case 1:
                let name = try r.readString("cluster name", limit: ResourceIPC.nameBytesMax)
                let clusterID = try r.readUInt32("cluster id"), generation = try r.readUInt64("generation")
                let quorate = try r.readBool("quorate"), groupMember = try r.readBool("group member")
                let time = try r.readUInt64("time"), local = NodeID(try r.readUInt32("local node"))
                let memberCount = try r.readCount("members", limit: ResourceIPC.entriesMax, minimumElementBytes: 13)
                var members: [Member] = []
                for _ in 0..<memberCount {
                    members.append(Member(name: try r.readString("member name", limit: ResourceIPC.nameBytesMax), id: NodeID(try r.readUInt32("id")),
                                          online: try r.readBool("online"), local: try r.readBool("local"), estranged: try r.readBool("estranged"),
                                          rgmanager: try r.readBool("rgmanager"), rgmanagerMaster: try r.readBool("master")))
                }
                let serviceCount = try r.readCount("services", limit: ResourceIPC.entriesMax, minimumElementBytes: 30)
                var services: [Service] = []
                for _ in 0..<serviceCount {
                    services.append(Service(name: try r.readString("service name", limit: ResourceIPC.nameBytesMax), state: try r.readUInt16("state"),
                                            flags: try r.readUInt32("flags"), owner: NodeID(try r.readUInt32("owner")),
                                            lastOwner: NodeID(try r.readUInt32("last owner")), restarts: try r.readUInt32("restarts"),
                                            lastTransition: try r.readUInt64("last transition")))
                }
                self = .status(Status(clusterName: name, clusterID: clusterID, generation: generation, quorate: quorate, groupMember: groupMember,
                                      time: time, localNode: local, members: members, services: services,
                                      activity: try r.readString("activity", limit: 4096)))
            case 2: self = .done(try r.readString("text", limit: 4096))
            case 3: self = .refused(try r.readString("reason", limit: 4096))
            case 4: self = .lockState(try r.readBool("locked"))
            default: throw .invalid(field: "response", reason: "unknown id \(id)")
            }
        }
    }
}
