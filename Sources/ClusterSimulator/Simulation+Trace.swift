// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// Per-node event traces for failure reports and `totem-sim --trace`.
extension Simulation {
    // MARK: - Tracing

    func record(_ n: SimNode, _ event: Totem.Event, _ out: Totem.Output) {
        let line = "\(now) n\(n.index + 1) \(Self.describe(event)) -> \(Self.describe(out)) [\(n.machine.map { "\($0.state.rawValue) \($0.ringID)" } ?? "down")]"
        if verbose { print(line) }
        trace[n.index].append(line)
        if trace[n.index].count > traceLimit { trace[n.index].removeFirst(trace[n.index].count - traceLimit) }
    }

    func note(_ text: String) {
        if verbose { print("\(now) -- \(text)") }
        for i in trace.indices { trace[i].append("\(now) -- \(text)") }
    }

    static func describe(_ e: Totem.Event) -> String {
        switch e {
        case .start: return "start"
        case .deadlineReached: return "deadline"
        case .leave: return "leave"
        case .peerUnreachable(let n): return "unreachable(\(n))"
        case .submit(_, let p, let g): return "submit(\(p.count)B \(g))"
        case .datagram(let b):
            guard let p = try? Totem.Packet.decode(b) else { return "datagram(undecodable)" } // tracing only
            return "recv \(describe(p.message)) from \(p.sender)"
        }
    }

    static func describe(_ m: Totem.Message) -> String {
        switch m {
        case .mcast(let m): return "mcast(\(m.ringID) #\(m.seq)\(m.encapsulated != nil ? " enc" : ""))"
        case .token(let t): return "token(\(t.ringID) ts\(t.tokenSeq) seq\(t.seq) aru\(t.aru)@\(t.aruAddress) rtr\(t.retransmitRequests.count)\(t.recoveryComplete ? " done" : "") pend\(t.recoveryPending))"
        case .join(let j): return "join(p\(j.procSet) f\(j.failSet) r\(j.ringSeq))"
        case .commitToken(let c): return "commit(\(c.ringID) rot\(c.rotation) \(c.members))"
        case .mergeDetect(let r): return "merge(\(r))"
        case .tokenHoldCancel(let r): return "holdcancel(\(r))"
        case .probe: return "probe"
        case .probeReply: return "probe-reply"
        }
    }

    static func describe(_ o: Totem.Output) -> String {
        var parts: [String] = []
        if let p = o.ringSequenceToPersist { parts.append("persist \(p)") }
        for d in o.datagrams {
            let dest: String
            switch d.destination {
            case .all: dest = "all"
            case .node(let n): dest = "\(n)"
            }
            let what = (try? Totem.Packet.decode(d.bytes)).map { describe($0.message) } ?? "?" // tracing only
            parts.append("send \(what)->\(dest)")
        }
        for u in o.upcalls {
            switch u {
            case .configurationChange(let c): parts.append("CONF \(c)")
            case .message(let d): parts.append("deliver \(Workload.decode(d.payload)?.description ?? "?")")
            }
        }
        if let s = o.stateChanged { parts.append("state \(s.rawValue)") }
        return parts.isEmpty ? "-" : parts.joined(separator: "; ")
    }
}
