// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import GroupCore

/// Checks closed-process-group semantics on what every simulated process received: each process sees its own join
/// first; deliveries come only from members of the view; and
/// processes that install the same two consecutive views delivered the same messages between them (virtual synchrony).
public struct GroupChecker: Sendable {
    /// A process: node index, incarnation of that node, handle.
    public struct Process: Hashable, Sendable, CustomStringConvertible {
        public var node: Int
        public var incarnation: Int
        public var handle: UInt64
        public var description: String { "n\(node + 1)/\(incarnation)/h\(handle)" }
    }

    /// A view's identity: group, ring, its number among that group's views in the ring, and its members (partitions
    /// that merge into one ring install different views with the same numbers until they have synchronised).
    public struct ViewID: Hashable, Sendable, CustomStringConvertible {
        var group: String
        var ring: UInt64
        var ordinal: Int
        var members: [ProcessGroup.Address]
        public var description: String { "\(group)@\(ring)#\(ordinal)\(members)" }
    }

    enum Entry: Sendable {
        case view(ViewID, [ProcessGroup.Address], joined: [ProcessGroup.Address])
        case delivery(group: String, sender: ProcessGroup.Address, id: [UInt8])
    }

    var streams: [Process: [Entry]] = [:]
    var pids: [Process: ProcessGroup.Address] = [:]
    public private(set) var violations: [String] = []

    mutating func fail(_ s: String) { if violations.count < 20 { violations.append(s) } }

    mutating func record(_ p: Process, address: ProcessGroup.Address, _ e: Entry) {
        pids[p] = address
        streams[p, default: []].append(e)
    }

    public mutating func check() {
        var between: [String: (Process, Set<[UInt8]>)] = [:]
        for p in streams.keys.sorted(by: { ($0.node, $0.incarnation, $0.handle) < ($1.node, $1.incarnation, $1.handle) }) {
            let me = pids[p]!
            var current: [String: (ViewID, [ProcessGroup.Address])] = [:]
            var delivered: [String: Set<[UInt8]>] = [:]
            var seenJoin: Set<String> = []
            for e in streams[p]! {
                switch e {
                case .view(let id, let members, let joined):
                    if !seenJoin.contains(id.group) {
                        if !joined.contains(me) { fail("\(p): first view of \(id.group) (\(id)) does not show its own join") }
                        seenJoin.insert(id.group)
                    }
                    if let (prev, _) = current[id.group] {
                        let key = "\(prev)->\(id)"
                        let mine = delivered[id.group] ?? []
                        if let (other, theirs) = between[key], theirs != mine {
                            fail("virtual synchrony: \(p) and \(other) both went \(key) with different messages (\(mine.count) vs \(theirs.count))")
                        } else {
                            between[key] = (p, mine)
                        }
                    }
                    current[id.group] = (id, members)
                    delivered[id.group] = []
                case .delivery(let g, let sender, let id):
                    guard let (view, members) = current[g] else {
                        fail("\(p): delivery in \(g) before joining it")
                        continue
                    }
                    if !members.contains(sender) { fail("\(p): delivery from \(sender), not a member of \(view)") }
                    delivered[g, default: []].insert(id)
                }
            }
        }
    }
}
