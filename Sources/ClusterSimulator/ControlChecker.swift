// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ControlCore

/// Checks the control daemons' group recovery protocol (a DLM lockspace, an OCFS2 mount) on what every simulated
/// node's `Control.GroupStateMachine` did, judged against the simulated machines, not the cores' own beliefs:
/// - **fenced first**: a member never starts the group while a member incarnation it saw fail still runs (the
///   failed node was neither fenced nor crashed: it could still be writing to shared storage);
/// - **lower levels first**: a member never starts while its fence domain has a victim left;
/// - **agreement**: members that start (and that finish) the same recovery do so with the same member list, which
///   holds the starter; any two daemons that both finished two recoveries finished them in the same order;
/// - **liveness** (at the end, on the healed cluster): every live node's daemon runs the group with every node.
/// Every check counts what it compared, so a run can show it checked something.
public struct ControlChecker: Sendable {
    public struct Counts: Sendable, Hashable, CustomStringConvertible {
        /// Starts of the subsystem (every one checked against the failures its daemon saw).
        public var starts = 0
        /// Starts that came after a failure the daemon saw (the ones the fencing rule is about).
        public var startsAfterFailure = 0
        public var recoveries = 0
        public var failuresSeen = 0
        /// Start or finish member lists compared with another daemon's for the same recovery.
        public var agreementsCompared = 0
        /// Pairs of recoveries whose order was compared between two daemons.
        public var ordersCompared = 0
        /// Runs whose healed cluster ran the group with every node (liveness judged and met).
        public var settledGroups = 0
        public init() {}

        public mutating func add(_ o: Counts) {
            starts += o.starts
            startsAfterFailure += o.startsAfterFailure
            recoveries += o.recoveries
            failuresSeen += o.failuresSeen
            agreementsCompared += o.agreementsCompared
            ordersCompared += o.ordersCompared
            settledGroups += o.settledGroups
        }

        public var description: String {
            "starts \(starts) (after a failure \(startsAfterFailure)), recoveries \(recoveries), failures seen \(failuresSeen), "
                + "agreements compared \(agreementsCompared), orders compared \(ordersCompared), settled groups \(settledGroups)"
        }
    }

    /// One control daemon: a node's incarnation.
    struct Daemon: Hashable, Comparable {
        var node: Int
        var incarnation: Int
        static func < (a: Daemon, b: Daemon) -> Bool { (a.node, a.incarnation) < (b.node, b.incarnation) }
        var description: String { "n\(node + 1)#\(incarnation)" }
    }

    public private(set) var violations: [String] = []
    public private(set) var counts = Counts()
    /// The member incarnations each daemon saw fail: (node index, incarnation).
    var failed: [Daemon: Set<Daemon>] = [:]
    /// Member lists per recovery (the view id that began it), as the first daemon to start or finish it had them.
    var startMembers: [UInt64: (members: [NodeID], by: Daemon)] = [:]
    var recoveredMembers: [UInt64: (members: [NodeID], by: Daemon)] = [:]
    /// The recoveries each daemon finished, in order.
    var finished: [Daemon: [UInt64]] = [:]

    public init() {}

    mutating func fail(_ text: String) {
        if violations.count < 20 { violations.append("control: \(text)") }
    }

    mutating func failureSeen(by d: Daemon, of member: Daemon) {
        counts.failuresSeen += 1
        failed[d, default: []].insert(member)
    }

    /// A daemon started the subsystem for recovery `event`: `running(x)` says whether incarnation x still runs.
    mutating func started(_ d: Daemon, event: UInt64, members: [NodeID], victimsLeft: [NodeID], at now: MonotonicInstant,
                          running: (Daemon) -> Bool) {
        counts.starts += 1
        let seen = failed[d] ?? []
        if !seen.isEmpty { counts.startsAfterFailure += 1 }
        for x in seen.sorted() where running(x) {
            fail("\(d.description) started recovery \(event) with \(members) at \(now) while n\(x.node + 1)#\(x.incarnation), "
                 + "which it saw fail, still runs unfenced")
        }
        if !victimsLeft.isEmpty {
            fail("\(d.description) started recovery \(event) at \(now) while its fence domain still had victims \(victimsLeft)")
        }
        if !members.contains(NodeID(UInt32(d.node + 1))) {
            fail("\(d.description) started recovery \(event) with \(members), which does not hold itself")
        }
        record(Self.compare(&startMembers, d, event, members, what: "started"))
    }

    mutating func recovered(_ d: Daemon, event: UInt64, members: [NodeID]) {
        counts.recoveries += 1
        record(Self.compare(&recoveredMembers, d, event, members, what: "finished"))
        finished[d, default: []].append(event)
    }

    /// Records a start or finish of `event` in `table`; returns whether it was compared, and the violation if any.
    private static func compare(_ table: inout [UInt64: (members: [NodeID], by: Daemon)], _ d: Daemon, _ event: UInt64,
                                _ members: [NodeID], what: String) -> (compared: Bool, violation: String?) {
        guard let first = table[event] else {
            table[event] = (members, d)
            return (false, nil)
        }
        guard first.members != members else { return (true, nil) }
        return (true, "recovery \(event) \(what) with \(first.members) on \(first.by.description) but \(members) on \(d.description)")
    }

    private mutating func record(_ comparison: (compared: Bool, violation: String?)) {
        if comparison.compared { counts.agreementsCompared += 1 }
        if let v = comparison.violation { fail(v) }
    }

    /// Compares the order of the recoveries every two daemons both finished.
    mutating func checkOrder() {
        let daemons = finished.keys.sorted()
        for (i, a) in daemons.enumerated() {
            for b in daemons[(i + 1)...] {
                let common = Set(finished[a]!).intersection(finished[b]!)
                guard common.count > 1 else { continue }
                let orderA = finished[a]!.filter(common.contains), orderB = finished[b]!.filter(common.contains)
                counts.ordersCompared += common.count - 1
                if orderA != orderB {
                    fail("\(a.description) finished recoveries \(orderA) but \(b.description) \(orderB)")
                }
            }
        }
    }

    mutating func groupSettled() { counts.settledGroups += 1 }

    mutating func failLiveness(_ text: String) { fail(text) }
}
