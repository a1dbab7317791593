// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension ProcessGroup {
    /// groupd-to-groupd messages, multicast over totem in agreed order.
    public enum Message: Hashable, Sendable {
        case join(group: String, pid: UInt32)
        case leave(group: String, pid: UInt32, reason: Reason)
        case mcast(group: String, pid: UInt32, payload: [UInt8])
        /// This node's processes and their groups, for a sync round: the one after a configuration change
        /// (requester 0) or the one a sync request opened (requester and its incarnation). It also announces that
        /// this node runs groupd and names the ring members it knows run none (`absent`).
        case syncList(ringSequence: UInt64, requester: NodeID, round: UInt32, entries: [SyncEntry], absent: [NodeID])
        /// A groupd that started while the ring was already running asks everyone to send their lists again;
        /// `round` (the requester's incarnation) tells its round apart from earlier ones.
        case syncRequest(ringSequence: UInt64, round: UInt32)
        /// A member waited `syncWait` for lists that did not come: the round ends with the lists delivered so far
        /// (the first such message in the order counts; later lists are announcements of their own).
        case syncClose(ringSequence: UInt64, requester: NodeID, round: UInt32)
        /// This node's groupd is stopping: its processes leave with reason process down, and syncs stop waiting for it.
        case daemonStopped
    }

    public struct SyncEntry: Hashable, Sendable {
        public var group: String
        public var pid: UInt32
        public init(group: String, pid: UInt32) {
            self.group = group
            self.pid = pid
        }
    }
}

extension ProcessGroup.Message {
    public func encode() -> [UInt8] {
        // A multicast (the message on every CPG delivery) is sized at once: no regrowth while its payload is copied.
        var w = if case .mcast(let g, _, let p) = self { ByteWriter(capacity: 14 + g.utf8.count + p.count) } else { ByteWriter(capacity: 64) }
        w.write(UInt8(1))
        switch self {
        case .join(let g, let pid):
            w.write(UInt8(1)); w.write(g); w.write(pid)
        case .leave(let g, let pid, let reason):
            w.write(UInt8(2)); w.write(g); w.write(pid); w.write(reason.rawValue)
        case .mcast(let g, let pid, let payload):
            w.write(UInt8(3)); w.write(g); w.write(pid); w.writeBlob(payload)
        case .syncList(let seq, let requester, let round, let entries, let absent):
            w.write(UInt8(4)); w.write(seq); w.write(requester.rawValue); w.write(round); w.write(UInt32(entries.count))
            for e in entries { w.write(e.group); w.write(e.pid) }
            w.write(UInt32(absent.count))
            for n in absent { w.write(n.rawValue) }
        case .syncRequest(let seq, let round):
            w.write(UInt8(5)); w.write(seq); w.write(round)
        case .syncClose(let seq, let requester, let round):
            w.write(UInt8(6)); w.write(seq); w.write(requester.rawValue); w.write(round)
        case .daemonStopped:
            w.write(UInt8(7))
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(WireError) -> ProcessGroup.Message {
        var r = ByteReader(bytes)
        guard try r.readUInt8("version") == 1 else { throw .invalid(field: "version", reason: "unsupported") }
        let limit = ProcessGroup.nameBytesMax
        let m: ProcessGroup.Message
        switch try r.readUInt8("type") {
        case 1: m = .join(group: try r.readString("group", limit: limit), pid: try r.readUInt32("pid"))
        case 2:
            let g = try r.readString("group", limit: limit), pid = try r.readUInt32("pid")
            guard let reason = ProcessGroup.Reason(rawValue: try r.readUInt8("reason")) else { throw .invalid(field: "reason", reason: "unknown") }
            m = .leave(group: g, pid: pid, reason: reason)
        case 3:
            m = .mcast(group: try r.readString("group", limit: limit), pid: try r.readUInt32("pid"),
                       payload: try r.readBlob("payload", limit: ProcessGroup.payloadBytesMax))
        case 4:
            let seq = try r.readUInt64("ring")
            let requester = NodeID(try r.readUInt32("requester"))
            let round = try r.readUInt32("round")
            let n = try r.readCount("entries", limit: 65_536, minimumElementBytes: 8)
            var entries: [ProcessGroup.SyncEntry] = []
            for _ in 0..<n { entries.append(ProcessGroup.SyncEntry(group: try r.readString("group", limit: limit), pid: try r.readUInt32("pid"))) }
            let a = try r.readCount("absent", limit: 65_536, minimumElementBytes: 4)
            var absent: [NodeID] = []
            for _ in 0..<a { absent.append(NodeID(try r.readUInt32("node"))) }
            m = .syncList(ringSequence: seq, requester: requester, round: round, entries: entries, absent: absent)
        case 5:
            m = .syncRequest(ringSequence: try r.readUInt64("ring"), round: try r.readUInt32("round"))
        case 6:
            m = .syncClose(ringSequence: try r.readUInt64("ring"), requester: NodeID(try r.readUInt32("requester")),
                           round: try r.readUInt32("round"))
        case 7:
            m = .daemonStopped
        default: throw .invalid(field: "type", reason: "unknown group message")
        }
        try r.expectEnd()
        return m
    }
}
