// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes
import FenceCore
import Glibc

extension Fence.DomainStatus {
    /// The domain as fenced's clients receive it (`fence_tool ls`, `FenceClient.domain()`).
    var ipc: FenceIPC.Domain {
        FenceIPC.Domain(name: name, phase: phase.rawValue, waitState: waitState.rawValue, members: members, victimCount: UInt32(victimCount),
                        victimNow: victimNow, master: master, nodes: nodes.map(\.ipc), listing: listing(), nodeListing: listing(allNodes: true))
    }

    /// The one-line state systemd shows (STATUS=).
    var statusLine: String {
        switch phase {
        case .outside: return "outside the fence domain"
        case .unfencing: return "unfencing this node before joining the fence domain"
        case .joining: return "joining the fence domain"
        case .leaving: return "leaving the fence domain"
        case .member:
            let victims = victimCount == 0 ? "no victims" : "\(victimCount) victim(s)\(victimNow.rawValue == 0 ? "" : ", fencing node \(victimNow)")"
            let master = master.rawValue == 0 ? "master not chosen" : "master \(master)"
            return "fence domain member: \(members.count) member(s), \(master), \(victims), wait state \(waitState.rawValue)"
        }
    }

    /// The nodes that are victims now.
    var victimNodes: Set<NodeID> { Set(nodes.filter(\.victim).map(\.node)) }
}

extension Fence.NodeStatus {
    var ipc: FenceIPC.NodeState {
        FenceIPC.NodeState(node: node, member: member, victim: victim, lastFenceMaster: lastFenceMaster,
                           lastFenceHow: FenceIPC.How(rawValue: lastFenceHow.rawValue) ?? .none, lastFenceTime: lastFenceTime,
                           lastFenceAgent: lastFenceAgent)
    }
}

extension Fence.Resolution {
    /// The event that tells fenced's subscribers (rgmanager, control daemons) the victim's work may be recovered.
    var outcome: FenceIPC.Outcome {
        FenceIPC.Outcome(node: victim, how: FenceIPC.How(rawValue: how.rawValue) ?? .none, by: by, agent: agent, wallClockSeconds: wallClockSeconds,
                         text: description)
    }

    /// What quorumd records as the node's last fence (`cman_tool nodes -f`), or nil when the node was not fenced (it
    /// came back by itself).
    var fenceRecordAgent: String? {
        switch how {
        case .agent, .external: return agent.isEmpty ? "unknown" : agent
        case .override: return "fence_ack_manual"
        case .member, .none: return nil
        }
    }
}

/// fenced's recent log for `fence_tool dump`: the last `linesMax` lines, each with its wall-clock time, whatever
/// their level (debug included), so an operator can see what the daemon did without turning debugging on.
struct DumpBuffer {
    /// The most lines kept; older ones are dropped.
    static let linesMax = 4000
    /// The most bytes of one line kept.
    static let lineBytesMax = 2048
    private var lines: [String] = []  // at most linesMax, a ring
    private var head = 0

    mutating func append(_ level: String, _ text: String) {
        var t = time_t(time(nil))
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let n = strftime(&buffer, buffer.count, "%F %H:%M:%S", &parts)
        let stamp = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var line = "\(stamp) \(level) \(text)"
        if line.utf8.count > Self.lineBytesMax { line = String(decoding: line.utf8.prefix(Self.lineBytesMax), as: UTF8.self) + "…" }
        if lines.count < Self.linesMax {
            lines.append(line)
        } else {
            lines[head] = line
            head = (head + 1) % Self.linesMax
        }
    }

    /// The lines, oldest first, cut from the front to at most `bytesMax` bytes.
    func text(bytesMax: Int) -> String {
        let ordered = lines[head...] + lines[..<head]
        var kept: [String] = []
        var bytes = 0
        for line in ordered.reversed() {
            bytes += line.utf8.count + 1
            if bytes > bytesMax { break }
            kept.append(line)
        }
        return kept.reversed().map { $0 + "\n" }.joined()
    }
}
