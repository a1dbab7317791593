// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import GroupCore

/// Checks closed-process-group semantics on what every simulated process received:
/// - each process sees its own join first, and deliveries only from members of its current view;
/// - views are keyed by (ring, group, view number): every process that installs a numbered view sees the same
///   members (provisional views, number 0, are local to one side of a merge and keyed by their members too);
/// - order: within a view, any two processes delivered the same sequence up to where one of them stopped, and
///   processes that go on to the same next view delivered exactly the same sequence (virtual synchrony);
/// - self-delivery: a process that multicast while a member and stayed one delivered its own message;
/// - liveness: after the faults stop and the ring has settled, every process that stays in a group receives each later
///   message within a bound.
///
/// It counts what it compared, so a run that compared nothing can be told apart from one that passed.
public struct GroupChecker: Sendable {
    /// A process: node index, incarnation of that node, handle.
    public struct Process: Hashable, Sendable, CustomStringConvertible {
        public var node: Int
        public var incarnation: Int
        public var handle: UInt64
        public var description: String { "n\(node + 1)/\(incarnation)/h\(handle)" }
    }

    /// A view's identity: group, ring and number; a provisional view (number 0) also by its members.
    public struct ViewID: Hashable, Sendable, CustomStringConvertible {
        var group: String
        var ring: UInt64
        var representative: NodeID
        var number: UInt64
        var members: [ProcessGroup.Address]
        init(group: String, ring: UInt64, representative: NodeID, number: UInt64, members: [ProcessGroup.Address]) {
            self.group = group
            self.ring = ring
            self.representative = representative
            self.number = number
            self.members = number == 0 ? members : []
        }
        public var description: String { "\(group)@\(representative)/\(ring)#\(number)\(number == 0 ? "\(members)" : "")" }
    }

    enum Entry: Sendable {
        case view(ViewID, [ProcessGroup.Address], joined: [ProcessGroup.Address], left: [ProcessGroup.Address], at: MonotonicInstant)
        case delivery(group: String, sender: ProcessGroup.Address, id: [UInt8], at: MonotonicInstant)
    }

    var streams: [Process: [Entry]] = [:]
    var pids: [Process: ProcessGroup.Address] = [:]
    /// Multicasts accepted from each process: group, payload, when.
    var sent: [Process: [(group: String, id: [UInt8], at: MonotonicInstant)]] = [:]
    public private(set) var violations: [String] = []
    public private(set) var coverage = StackCoverage()

    mutating func fail(_ s: String) { if violations.count < 20 { violations.append(s) } }

    mutating func record(_ p: Process, address: ProcessGroup.Address, _ e: Entry) {
        pids[p] = address
        streams[p, default: []].append(e)
        if case .delivery = e { coverage[.groupMessagesDelivered] += 1 }
    }

    mutating func recordSent(_ p: Process, group: String, id: [UInt8], at: MonotonicInstant) {
        sent[p, default: []].append((group, id, at))
    }

    /// One process's history, cut into views per group.
    struct Segment {
        var view: ViewID
        var members: [ProcessGroup.Address]
        var delivered: [[UInt8]] = []
        var next: ViewID?
    }

    /// Runs every check; `alive` are the processes still connected at the end, `stableSince` when the healed ring had
    /// settled, `bound` how long a delivery may take after that.
    public mutating func check(alive: Set<Process>, stableSince: MonotonicInstant, bound: Duration) {
        let processes = streams.keys.sorted { ($0.node, $0.incarnation, $0.handle) < ($1.node, $1.incarnation, $1.handle) }
        var segments: [Process: [Segment]] = [:]
        var membersOf: [ViewID: (Process, [ProcessGroup.Address])] = [:]
        var deliveredAt: [Process: [[UInt8]: MonotonicInstant]] = [:]
        var stillIn: [Process: Set<String>] = [:]
        var joinedAt: [Process: [String: MonotonicInstant]] = [:]
        for p in processes {
            let me = pids[p]!
            var current: [String: Int] = [:]
            var list: [Segment] = []
            var seenJoin: Set<String> = []
            var inGroup: Set<String> = []
            for e in streams[p]! {
                switch e {
                case .view(let id, let members, let joined, let left, let at):
                    if !seenJoin.contains(id.group) {
                        if !joined.contains(me) { fail("\(p): first view of \(id.group) (\(id)) does not show its own join") }
                        seenJoin.insert(id.group)
                        joinedAt[p, default: [:]][id.group] = at
                    }
                    if id.number > 0 {
                        if let (other, theirs) = membersOf[id] {
                            coverage[.groupViewsCompared] += 1
                            if theirs != members { fail("views: \(p) and \(other) installed \(id) with members \(members) and \(theirs)") }
                        } else {
                            membersOf[id] = (p, members)
                        }
                    }
                    if let i = current[id.group] { list[i].next = id }
                    if left.contains(me) {
                        current[id.group] = nil
                        inGroup.remove(id.group)
                    } else {
                        current[id.group] = list.count
                        list.append(Segment(view: id, members: members))
                        inGroup.insert(id.group)
                    }
                case .delivery(let g, let sender, let id, let at):
                    guard let i = current[g] else {
                        fail("\(p): delivery in \(g) from \(sender) outside any view it is in")
                        continue
                    }
                    if !list[i].members.contains(sender) { fail("\(p): delivery from \(sender), not a member of \(list[i].view)") }
                    list[i].delivered.append(id)
                    deliveredAt[p, default: [:]][id] = at
                }
            }
            segments[p] = list
            stillIn[p] = inGroup
        }
        checkOrder(processes, segments)
        checkSelfDelivery(processes, alive: alive, stillIn: stillIn, deliveredAt: deliveredAt)
        checkLiveness(alive: alive, stillIn: stillIn, joinedAt: joinedAt, deliveredAt: deliveredAt, since: stableSince, bound: bound)
    }

    /// Same view: sequences agree up to the shorter; same view and same next view: equal sequences.
    private mutating func checkOrder(_ processes: [Process], _ segments: [Process: [Segment]]) {
        var byView: [ViewID: [(Process, Segment)]] = [:]
        // Provisional views (number 0) are local to one side and may repeat; only numbered views are compared.
        for p in processes { for s in segments[p]! where s.view.number > 0 { byView[s.view, default: []].append((p, s)) } }
        for (view, list) in byView.sorted(by: { $0.key.description < $1.key.description }) where list.count > 1 {
            let (p0, s0) = list[0]
            for (p, s) in list.dropFirst() where p != p0 {
                coverage[.groupOrderComparisons] += 1
                let n = min(s.delivered.count, s0.delivered.count)
                if s.delivered.prefix(n) != s0.delivered.prefix(n) {
                    fail("order: \(p) and \(p0) delivered different sequences in \(view)")
                } else if let a = s.next, a == s0.next, s.delivered != s0.delivered {
                    fail("virtual synchrony: \(p) and \(p0) both went \(view) -> \(a) with \(s.delivered.count) and \(s0.delivered.count) messages")
                }
            }
        }
    }

    /// A process still in the group at the end, still connected, delivered every message it sent there.
    private mutating func checkSelfDelivery(_ processes: [Process], alive: Set<Process>, stillIn: [Process: Set<String>],
                                            deliveredAt: [Process: [[UInt8]: MonotonicInstant]]) {
        for p in sent.keys.sorted(by: { ($0.node, $0.incarnation, $0.handle) < ($1.node, $1.incarnation, $1.handle) }) where alive.contains(p) {
            for m in sent[p]! where stillIn[p]?.contains(m.group) == true {
                coverage[.groupSelfDeliveriesChecked] += 1
                if deliveredAt[p]?[m.id] == nil { fail("self-delivery: \(p) never delivered its own message in \(m.group) sent at \(m.at)") }
            }
        }
    }

    /// After `since`, a message sent in a group reaches, within `bound`, every live process that had joined that group
    /// before it was sent and is still in it at the end.
    private mutating func checkLiveness(alive: Set<Process>, stillIn: [Process: Set<String>], joinedAt: [Process: [String: MonotonicInstant]],
                                        deliveredAt: [Process: [[UInt8]: MonotonicInstant]], since: MonotonicInstant, bound: Duration) {
        let receivers = alive.sorted { ($0.node, $0.incarnation, $0.handle) < ($1.node, $1.incarnation, $1.handle) }
        for p in sent.keys.sorted(by: { ($0.node, $0.incarnation, $0.handle) < ($1.node, $1.incarnation, $1.handle) }) {
            for m in sent[p]! where m.at >= since {
                for q in receivers where stillIn[q]?.contains(m.group) == true {
                    guard let joined = joinedAt[q]?[m.group], joined < m.at else { continue }
                    coverage[.groupLivenessChecked] += 1
                    guard let at = deliveredAt[q]?[m.id] else {
                        fail("liveness: \(q) never received \(p)'s message in \(m.group) sent at \(m.at) after the ring settled")
                        continue
                    }
                    if at - m.at > bound { fail("liveness: \(q) received \(p)'s message in \(m.group) \(at - m.at) after it was sent (bound \(bound))") }
                }
            }
        }
    }
}
