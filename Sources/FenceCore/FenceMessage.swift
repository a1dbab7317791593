// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import GroupCore
import ClusterWire

extension Fence {
    /// Messages between the members of the fence domain, multicast in the domain's group (agreed order).
    public enum Message: Hashable, Sendable {
        /// A member processed the view with these members and is ready (quorum seen); `complete` says it holds the
        /// domain's state; `history` teaches joiners the last fence of every node.
        case start(members: [Member], complete: Bool, history: [HistoryEntry])
        /// A victim's fate is settled (by the master, or by a member whose agent succeeded).
        case victimDone(victim: NodeID, incident: Incident, how: How, agent: String, method: String, wallClockSeconds: UInt64)
        /// One agent run and its result, so every member can log it.
        case attempt(victim: NodeID, incident: Incident, method: String, device: String, agent: String, outcome: AgentOutcome,
                     stderr: String, wallClockSeconds: UInt64)
        /// The master has no victims left after the view with these members: listed members that were new now
        /// hold the domain's state, and forget their startup victims.
        case complete(members: [Member])
        /// An operator acknowledged the victim (fence_ack_manual).
        case acknowledge(victim: NodeID, wallClockSeconds: UInt64)
        /// fence_node fenced the node outside the domain.
        case external(victim: NodeID, agent: String, wallClockSeconds: UInt64)
    }
}

extension Fence.Message {
    static let version: UInt8 = 1

    public func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.write(Self.version)
        switch self {
        case .start(let members, let complete, let history):
            precondition(members.count <= Fence.membersMax && history.count <= Fence.historyMax, "start message over its limits")
            w.write(UInt8(1))
            Self.write(members, &w)
            w.write(complete)
            w.write(UInt32(history.count))
            for h in history {
                w.write(h.node.rawValue); w.write(h.master.rawValue); w.write(h.how.rawValue); w.write(h.wallClockSeconds)
                w.write(Self.clip(h.agent, Fence.nameBytesMax))
            }
        case .victimDone(let victim, let incident, let how, let agent, let method, let wall):
            w.write(UInt8(2))
            w.write(victim.rawValue); Self.write(incident, &w); w.write(how.rawValue)
            w.write(Self.clip(agent, Fence.nameBytesMax)); w.write(Self.clip(method, Fence.nameBytesMax)); w.write(wall)
        case .attempt(let victim, let incident, let method, let device, let agent, let outcome, let stderr, let wall):
            w.write(UInt8(3))
            w.write(victim.rawValue); Self.write(incident, &w)
            w.write(Self.clip(method, Fence.nameBytesMax)); w.write(Self.clip(device, Fence.nameBytesMax))
            w.write(Self.clip(agent, Fence.nameBytesMax))
            switch outcome {
            case .success: w.write(UInt8(0)); w.write(Int32(0))
            case .failed(let code): w.write(UInt8(1)); w.write(code)
            case .timedOut: w.write(UInt8(2)); w.write(Int32(0))
            case .killed(let signal): w.write(UInt8(3)); w.write(signal)
            case .notStarted(let why): w.write(UInt8(4)); w.write(Int32(0)); w.write(Self.clip(why, Fence.stderrBytesMax))
            }
            w.write(Self.clip(stderr, Fence.stderrBytesMax)); w.write(wall)
        case .complete(let members):
            precondition(members.count <= Fence.membersMax, "complete message over its limit")
            w.write(UInt8(4))
            Self.write(members, &w)
        case .acknowledge(let victim, let wall):
            w.write(UInt8(5)); w.write(victim.rawValue); w.write(wall)
        case .external(let victim, let agent, let wall):
            w.write(UInt8(6)); w.write(victim.rawValue); w.write(Self.clip(agent, Fence.nameBytesMax)); w.write(wall)
        }
        return w.bytes
    }

    /// Decodes a message; anything malformed, truncated, too long or of another version is an error, never a trap.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> Fence.Message {
        var r = ByteReader(bytes)
        guard try r.readUInt8("version") == version else { throw .invalid(field: "version", reason: "unsupported") }
        let m: Fence.Message
        switch try r.readUInt8("type") {
        case 1:
            let members = try readMembers(&r)
            let complete = try r.readBool("complete")
            let count = try r.readCount("history", limit: Fence.historyMax, minimumElementBytes: 21)
            var history: [Fence.HistoryEntry] = []
            for _ in 0..<count {
                let node = NodeID(try r.readUInt32("node")), master = NodeID(try r.readUInt32("master"))
                let how = try readHow(&r)
                history.append(Fence.HistoryEntry(node: node, master: master, how: how, wallClockSeconds: try r.readUInt64("time"),
                                                  agent: try r.readString("agent", limit: Fence.nameBytesMax)))
            }
            m = .start(members: members, complete: complete, history: history)
        case 2:
            m = .victimDone(victim: NodeID(try r.readUInt32("victim")), incident: try readIncident(&r), how: try readHow(&r),
                            agent: try r.readString("agent", limit: Fence.nameBytesMax),
                            method: try r.readString("method", limit: Fence.nameBytesMax), wallClockSeconds: try r.readUInt64("time"))
        case 3:
            let victim = NodeID(try r.readUInt32("victim")), incident = try readIncident(&r)
            let method = try r.readString("method", limit: Fence.nameBytesMax), device = try r.readString("device", limit: Fence.nameBytesMax)
            let agent = try r.readString("agent", limit: Fence.nameBytesMax)
            let kind = try r.readUInt8("outcome"), code = try r.readInt32("code")
            let outcome: Fence.AgentOutcome
            switch kind {
            case 0: outcome = .success
            case 1: outcome = .failed(exitCode: code)
            case 2: outcome = .timedOut
            case 3: outcome = .killed(signal: code)
            case 4: outcome = .notStarted(try r.readString("reason", limit: Fence.stderrBytesMax))
            default: throw .invalid(field: "outcome", reason: "unknown outcome \(kind)")
            }
            m = .attempt(victim: victim, incident: incident, method: method, device: device, agent: agent, outcome: outcome,
                         stderr: try r.readString("stderr", limit: Fence.stderrBytesMax), wallClockSeconds: try r.readUInt64("time"))
        case 4:
            m = .complete(members: try readMembers(&r))
        case 5:
            m = .acknowledge(victim: NodeID(try r.readUInt32("victim")), wallClockSeconds: try r.readUInt64("time"))
        case 6:
            m = .external(victim: NodeID(try r.readUInt32("victim")), agent: try r.readString("agent", limit: Fence.nameBytesMax),
                          wallClockSeconds: try r.readUInt64("time"))
        default:
            throw .invalid(field: "type", reason: "unknown fence message")
        }
        try r.expectEnd()
        return m
    }

    private static func write(_ members: [Fence.Member], _ w: inout ByteWriter) {
        w.write(UInt32(members.count))
        for m in members { w.write(m.node.rawValue); w.write(m.pid) }
    }

    private static func readMembers(_ r: inout ByteReader) throws(WireError) -> [Fence.Member] {
        let count = try r.readCount("members", limit: Fence.membersMax, minimumElementBytes: 8)
        var members: [Fence.Member] = []
        for _ in 0..<count { members.append(Fence.Member(node: NodeID(try r.readUInt32("node")), pid: try r.readUInt32("pid"))) }
        return members
    }

    private static func write(_ i: Fence.Incident, _ w: inout ByteWriter) {
        w.write(i.ringSequence)
        w.write(i.pid)
    }

    private static func readIncident(_ r: inout ByteReader) throws(WireError) -> Fence.Incident {
        Fence.Incident(ringSequence: try r.readUInt64("ring"), pid: try r.readUInt32("pid"))
    }

    private static func readHow(_ r: inout ByteReader) throws(WireError) -> Fence.How {
        let raw = try r.readUInt8("how")
        guard let how = Fence.How(rawValue: raw) else { throw .invalid(field: "how", reason: "unknown value \(raw)") }
        return how
    }

    /// `s` cut to at most `limit` UTF-8 bytes at a character boundary, so an overlong name never makes an
    /// undecodable message.
    static func clip(_ s: String, _ limit: Int) -> String {
        guard s.utf8.count > limit else { return s }
        var out = ""
        var bytes = 0
        for ch in s {
            let n = String(ch).utf8.count
            if bytes + n > limit { break }
            out.append(ch)
            bytes += n
        }
        return out
    }
}
