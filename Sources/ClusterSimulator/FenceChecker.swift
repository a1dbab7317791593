// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import FenceCore

/// Checks the fence domain's promises on what every simulated node's fence core did:
/// - no agent starts on a node whose partition is inquorate (by its own quorum core at that moment);
/// - a victim is released (`victimResolved`, the event recovery waits for) as fenced only after a simulated fence
///   of it took effect since its failure was first seen, and never while the incarnation that failed still runs;
/// - each fence daemon (a node's incarnation) settles each failure at most once, and the members that settle it in
///   the same view of the domain (one agreed stream) agree how and by whom; members in different partitions may each
///   settle it in their own way (the node restarted, or was fenced), which the two rules above judge one by one;
/// - at the end, on the healed cluster, no live member has a victim left (the next master finished the work).
/// Every check counts what it compared, so a run can show it checked something.
public struct FenceChecker: Sendable {
    public struct Counts: Sendable, Hashable {
        public var agentRuns = 0
        public var powerOffs = 0
        public var victimsSeen = 0
        public var resolutions = 0
        public var resolvedByAgent = 0
        public var resolvedAsMember = 0
        /// Agent runs for a failure whose fencing another node had started (a new master taking over).
        public var takeovers = 0
        /// Settlements compared with another member's settlement of the same failure in the same view.
        public var agreementsCompared = 0
        /// Domain views at the end of a run on which every live member settled with no victim left (liveness).
        public var settledDomains = 0
        public init() {}

        /// Adds another run's counts (for sweeps).
        public mutating func add(_ o: Counts) {
            agentRuns += o.agentRuns
            powerOffs += o.powerOffs
            victimsSeen += o.victimsSeen
            resolutions += o.resolutions
            resolvedByAgent += o.resolvedByAgent
            resolvedAsMember += o.resolvedAsMember
            takeovers += o.takeovers
            agreementsCompared += o.agreementsCompared
            settledDomains += o.settledDomains
        }
    }

    struct Key: Hashable, Comparable {
        var victim: NodeID
        var incident: Fence.Incident
        static func < (a: Key, b: Key) -> Bool {
            (a.victim, a.incident.ringSequence, a.incident.pid) < (b.victim, b.incident.ringSequence, b.incident.pid)
        }
    }

    public private(set) var violations: [String] = []
    public private(set) var counts = Counts()
    /// When each failure was first seen by any member.
    var firstSeen: [Key: MonotonicInstant] = [:]
    /// Fences that took effect: victim → instants.
    var powerOffs: [NodeID: [MonotonicInstant]] = [:]
    /// The first settlement of each failure in each domain view: how, by whom, and which member settled it.
    var settledBy: [Key: [String: (how: Fence.How, by: NodeID, viewer: Int)]] = [:]
    /// The failures each fence daemon (node index, incarnation) settled.
    var settledAt: [[Int]: Set<Key>] = [:]
    var runners: [Key: Set<Int>] = [:]

    public init() {}

    mutating func fail(_ s: String) { if violations.count < 20 { violations.append("fencing: " + s) } }

    /// A member's core listed a new victim.
    mutating func victimSeen(viewer: Int, victim: NodeID, incident: Fence.Incident, at now: MonotonicInstant) {
        let key = Key(victim: victim, incident: incident)
        if firstSeen[key] == nil {
            firstSeen[key] = now
            counts.victimsSeen += 1
        }
    }

    /// A node started an agent.
    mutating func agentStarted(runner: Int, run: Fence.AgentRun, incident: Fence.Incident?, quorate: Bool, at now: MonotonicInstant) {
        counts.agentRuns += 1
        if run.purpose == .fence && !quorate {
            fail("n\(runner + 1) started \(run) at \(now) while its partition was inquorate")
        }
        if let i = incident {
            let key = Key(victim: run.target, incident: i)
            if let others = runners[key], !others.contains(runner) { counts.takeovers += 1 }
            runners[key, default: []].insert(runner)
        }
    }

    /// A simulated fence took effect on `victim` (it was powered off, or was already down).
    mutating func poweredOff(_ victim: NodeID, at now: MonotonicInstant) {
        counts.powerOffs += 1
        powerOffs[victim, default: []].append(now)
    }

    /// `viewer`'s core (the fence daemon of that node's `incarnation`) released a victim while in the domain view
    /// `view`. `failedRunning` says whether the incarnation that failed still runs.
    mutating func resolved(viewer: Int, incarnation: Int, view: String, _ r: Fence.Resolution, failedRunning: Bool, at now: MonotonicInstant) {
        counts.resolutions += 1
        let key = Key(victim: r.victim, incident: r.incident)
        // A startup incident (pid 0) is one member's assumption, not an agreed failure: it can recur under the same
        // key (the same ring, another join), so only the fence-before-release rule applies to it.
        if r.incident.pid != 0 && !settledAt[[viewer, incarnation], default: []].insert(key).inserted {
            fail("n\(viewer + 1) settled node \(r.victim)'s failure \(r.incident) twice")
        }
        if r.incident.pid == 0 {
        } else if let first = settledBy[key]?[view] {
            counts.agreementsCompared += 1
            if first.how != r.how || first.by != r.by {
                fail("members of view \(view) disagree on node \(r.victim)'s failure \(r.incident): \(first.how) by \(first.by) (n\(first.viewer + 1)) and \(r.how) by \(r.by) (n\(viewer + 1))")
            }
        } else {
            settledBy[key, default: [:]][view] = (r.how, r.by, viewer)
        }
        switch r.how {
        case .agent:
            counts.resolvedByAgent += 1
            let since = firstSeen[key] ?? now
            if !(powerOffs[r.victim] ?? []).contains(where: { $0 >= since && $0 <= now }) {
                fail("n\(viewer + 1) released node \(r.victim) (failure \(r.incident), seen at \(since)) as fenced at \(now), but no fence of it took effect in between")
            }
            if failedRunning { fail("n\(viewer + 1) released node \(r.victim) as fenced at \(now) while the incarnation that failed still runs") }
        case .member:
            counts.resolvedAsMember += 1
            if failedRunning { fail("n\(viewer + 1) let node \(r.victim) go as rejoined at \(now) while the incarnation that failed still runs") }
        case .override, .external, .none:
            break
        }
    }

    /// The healed cluster's domain settled: every live member in one view, no victim left.
    mutating func domainSettled() { counts.settledDomains += 1 }

    /// The healed cluster's domain did not settle.
    mutating func failLiveness(_ why: String) { fail("liveness: " + why) }
}
