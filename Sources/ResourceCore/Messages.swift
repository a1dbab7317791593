// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension ResourceManager {
    /// A group view: the rgmanager group's members, named by the totem ring and the view's number in it.
    public struct ViewID: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var ring: UInt64
        public var number: UInt32
        public init(ring: UInt64, number: UInt32) {
            self.ring = ring
            self.number = number
        }
        public static func < (a: ViewID, b: ViewID) -> Bool { (a.ring, a.number) < (b.ring, b.number) }
        public var description: String { "\(ring).\(number)" }
    }

    /// What a member tells the group about itself: its lock (`clusvcadm -l`), and which services its configuration
    /// defines (the coordinator places a service only where every member defines it).
    public struct MemberAbout: Sendable, Hashable {
        public var locked: Bool
        public var configVersion: UInt64
        /// Service names, sorted.
        public var services: [String]
        public init(locked: Bool, configVersion: UInt64, services: [String]) {
            self.locked = locked
            self.configVersion = configVersion
            self.services = services
        }
    }

    /// rgmanager's messages in its process group (agreed order). Each names the view it was sent in and is
    /// ignored in any other, so a decision made in one view never lands in the next.
    public enum Message: Sendable, Hashable {
        /// After every view: the sender's whole table, the services it holds resources of, and the nodes it knows
        /// were fenced since they were last members.
        case sync(view: ViewID, records: [String: Record], active: [String], fenced: [NodeID], quorate: Bool, about: MemberAbout)
        /// The sender's quorum changed (so every member agrees who may coordinate).
        case quorum(view: ViewID, quorate: Bool)
        /// The sender's lock or configuration changed.
        case about(view: ViewID, MemberAbout)
        /// A table change by the coordinator or the service's owner, valid only from `generation`.
        case change(view: ViewID, service: String, generation: UInt64, record: Record)
        /// An administrator's request, applied by every member alike (`time`: the origin's wall clock, for the
        /// row's last transition, so every member writes the same).
        case admin(view: ViewID, origin: NodeID, requestID: UInt64, request: AdminRequest, time: UInt64)

        public var view: ViewID {
            switch self {
            case .sync(let v, _, _, _, _, _), .change(let v, _, _, _), .admin(let v, _, _, _, _), .quorum(let v, _), .about(let v, _): v
            }
        }
    }
}

// MARK: - Wire

extension ResourceManager.Message {
    static let nameBytesMax = 255
    static let version: UInt8 = 1

    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.write(Self.version)
        switch self {
        case .sync(let view, let records, let active, let fenced, let quorate, let about):
            w.write(UInt8(1))
            Self.write(view, &w)
            w.write(UInt32(records.count))
            for name in records.keys.sorted() {
                w.write(name)
                Self.write(records[name]!, &w)
            }
            w.write(UInt32(active.count))
            for a in active.sorted() { w.write(a) }
            w.write(UInt32(fenced.count))
            for n in fenced.sorted() { w.write(n.rawValue) }
            w.write(quorate)
            Self.write(about, &w)
        case .about(let view, let about):
            w.write(UInt8(5))
            Self.write(view, &w)
            Self.write(about, &w)
        case .quorum(let view, let quorate):
            w.write(UInt8(4))
            Self.write(view, &w)
            w.write(quorate)
        case .change(let view, let service, let generation, let record):
            w.write(UInt8(2))
            Self.write(view, &w)
            w.write(service)
            w.write(generation)
            Self.write(record, &w)
        case .admin(let view, let origin, let id, let request, let time):
            w.write(UInt8(3))
            Self.write(view, &w)
            w.write(origin.rawValue)
            w.write(id)
            Self.write(request, &w)
            w.write(time)
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ResourceManager.Message {
        var r = ByteReader(bytes)
        guard try r.readUInt8("version") == version else { throw WireError.invalid(field: "version", reason: "not 1") }
        let kind = try r.readUInt8("kind")
        let view = try readView(&r)
        let m: ResourceManager.Message
        switch kind {
        case 1:
            let n = try r.readCount("records", limit: ResourceManager.servicesMax, minimumElementBytes: 40)
            var records: [String: ResourceManager.Record] = [:]
            for _ in 0..<n { records[try r.readString("service", limit: nameBytesMax)] = try readRecord(&r) }
            let a = try r.readCount("active", limit: ResourceManager.servicesMax, minimumElementBytes: 4)
            var active: [String] = []
            for _ in 0..<a { active.append(try r.readString("active", limit: nameBytesMax)) }
            let f = try r.readCount("fenced", limit: 1024, minimumElementBytes: 4)
            var fenced: [NodeID] = []
            for _ in 0..<f { fenced.append(NodeID(try r.readUInt32("fenced"))) }
            let quorate = try r.readBool("quorate")
            m = .sync(view: view, records: records, active: active, fenced: fenced, quorate: quorate, about: try readAbout(&r))
        case 2:
            let service = try r.readString("service", limit: nameBytesMax)
            let generation = try r.readUInt64("generation")
            m = .change(view: view, service: service, generation: generation, record: try readRecord(&r))
        case 3:
            let origin = NodeID(try r.readUInt32("origin"))
            let id = try r.readUInt64("request id")
            let request = try readRequest(&r)
            m = .admin(view: view, origin: origin, requestID: id, request: request, time: try r.readUInt64("time"))
        case 4:
            m = .quorum(view: view, quorate: try r.readBool("quorate"))
        case 5:
            m = .about(view: view, try readAbout(&r))
        default:
            throw WireError.invalid(field: "kind", reason: "\(kind)")
        }
        try r.expectEnd()
        return m
    }

    static func write(_ v: ResourceManager.ViewID, _ w: inout ByteWriter) {
        w.write(v.ring)
        w.write(v.number)
    }

    static func readView(_ r: inout ByteReader) throws(WireError) -> ResourceManager.ViewID {
        ResourceManager.ViewID(ring: try r.readUInt64("ring"), number: try r.readUInt32("view"))
    }

    static func write(_ n: NodeID?, _ w: inout ByteWriter) { w.write(n?.rawValue ?? 0) }

    static func write(_ a: ResourceManager.MemberAbout, _ w: inout ByteWriter) {
        w.write(a.locked)
        w.write(a.configVersion)
        w.write(UInt32(a.services.count))
        for s in a.services { w.write(s) }
    }

    static func readAbout(_ r: inout ByteReader) throws(WireError) -> ResourceManager.MemberAbout {
        let locked = try r.readBool("locked")
        let version = try r.readUInt64("config version")
        let n = try r.readCount("services", limit: ResourceManager.servicesMax, minimumElementBytes: 4)
        var services: [String] = []
        for _ in 0..<n { services.append(try r.readString("service", limit: nameBytesMax)) }
        return ResourceManager.MemberAbout(locked: locked, configVersion: version, services: services)
    }

    static func readNode(_ r: inout ByteReader, _ field: String) throws(WireError) -> NodeID? {
        let v = try r.readUInt32(field)
        return v == 0 ? nil : NodeID(v)
    }

    static func write(_ rec: ResourceManager.Record, _ w: inout ByteWriter) {
        w.write(rec.state.rawValue)
        write(rec.owner, &w)
        write(rec.lastOwner, &w)
        w.write(rec.restarts)
        w.write(rec.lastTransition)
        w.write(rec.flags.rawValue)
        w.write(rec.generation)
        switch rec.intent {
        case .none: w.write(UInt8(0))
        case .disable: w.write(UInt8(1))
        case .stop: w.write(UInt8(2))
        case .relocate(let t):
            w.write(UInt8(3))
            write(t, &w)
        case .restart: w.write(UInt8(4))
        }
        write(rec.preferred, &w)
        w.write(UInt32(rec.failedOn.count))
        for n in rec.failedOn { w.write(n.rawValue) }
        w.write(UInt32(rec.waitingFor.count))
        for n in rec.waitingFor { w.write(n.rawValue) }
        w.write(rec.held)
    }

    static func readRecord(_ r: inout ByteReader) throws(WireError) -> ResourceManager.Record {
        guard let state = ResourceManager.ServiceState(rawValue: try r.readUInt16("state")) else { throw WireError.invalid(field: "state", reason: "unknown") }
        var rec = ResourceManager.Record(state: state, owner: try readNode(&r, "owner"))
        rec.lastOwner = try readNode(&r, "last owner")
        rec.restarts = try r.readUInt32("restarts")
        rec.lastTransition = try r.readUInt64("last transition")
        rec.flags = ResourceManager.ServiceFlags(rawValue: try r.readUInt32("flags"))
        rec.generation = try r.readUInt64("generation")
        switch try r.readUInt8("intent") {
        case 0: rec.intent = .none
        case 1: rec.intent = .disable
        case 2: rec.intent = .stop
        case 3: rec.intent = .relocate(try readNode(&r, "relocate target"))
        case 4: rec.intent = .restart
        default: throw WireError.invalid(field: "intent", reason: "unknown")
        }
        rec.preferred = try readNode(&r, "preferred")
        let f = try r.readCount("failed on", limit: 1024, minimumElementBytes: 4)
        for _ in 0..<f { rec.failedOn.append(NodeID(try r.readUInt32("failed on"))) }
        let wf = try r.readCount("waiting for", limit: 1024, minimumElementBytes: 4)
        for _ in 0..<wf { rec.waitingFor.append(NodeID(try r.readUInt32("waiting for"))) }
        rec.held = try r.readBool("held")
        return rec
    }

    static func write(_ req: ResourceManager.AdminRequest, _ w: inout ByteWriter) {
        switch req {
        case .enable(let s, let t): w.write(UInt8(1)); w.write(s); write(t, &w)
        case .disable(let s): w.write(UInt8(2)); w.write(s)
        case .relocate(let s, let t): w.write(UInt8(3)); w.write(s); write(t, &w)
        case .restart(let s): w.write(UInt8(4)); w.write(s)
        case .stop(let s): w.write(UInt8(5)); w.write(s)
        case .freeze(let s): w.write(UInt8(6)); w.write(s)
        case .unfreeze(let s): w.write(UInt8(7)); w.write(s)
        }
    }

    static func readRequest(_ r: inout ByteReader) throws(WireError) -> ResourceManager.AdminRequest {
        let kind = try r.readUInt8("request")
        let s = try r.readString("service", limit: nameBytesMax)
        switch kind {
        case 1: return .enable(service: s, target: try readNode(&r, "target"))
        case 2: return .disable(service: s)
        case 3: return .relocate(service: s, target: try readNode(&r, "target"))
        case 4: return .restart(service: s)
        case 5: return .stop(service: s)
        case 6: return .freeze(service: s)
        case 7: return .unfreeze(service: s)
        default: throw WireError.invalid(field: "request", reason: "\(kind)")
        }
    }
}
