// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import FenceCore

/// Stands in for groupd and quorumd under a set of fence cores: partitions with domain views and a total order of
/// multicasts per partition, quorum by majority of configured nodes (or set by hand), agents answered by the test.
struct FenceBus {
    var cores: [Int: Fence.StateMachine] = [:]
    var settings: Fence.Settings
    var partitions: [[Int]]
    var ringSequence: UInt64 = 0
    var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    /// Nodes whose fence daemon is in the domain's group.
    var inGroup: Set<Int> = []
    /// The view each core last got.
    var views: [Int: [Fence.Member]] = [:]
    var incarnations: [Int: UInt64] = [:]
    /// Quorum by hand, per node; nil means majority of configured nodes in the partition.
    var quorumOverride: [Int: Bool] = [:]
    /// Nodes each node's quorumd does not count (Disallowed).
    var quorumHidden: [Int: Set<Int>] = [:]
    /// Pending agent runs: (node, run).
    var runs: [(node: Int, run: Fence.AgentRun)] = []
    /// Every agent run ever started, and whether the starter was quorate then.
    var started: [(node: Int, run: Fence.AgentRun, quorate: Bool)] = []
    var resolutions: [Int: [Fence.Resolution]] = [:]
    var logs: [Int: [Fence.LogLine]] = [:]
    var removed: [(by: Int, node: NodeID)] = []
    var joinFailures: [Int: [String]] = [:]
    var queue: [(partition: Int, from: Int, bytes: [UInt8])] = []
    /// The ring quorumd reports, when a test holds it back (nil: the bus's current ring).
    var quorumRing: UInt64?

    init(nodes: Int, settings: Fence.Settings? = nil) {
        self.settings = settings ?? FenceBus.settings(nodes)
        partitions = [Array(1...nodes)]
        for n in 1...nodes { start(n) }
        feedAllQuorum()
    }

    static func settings(_ n: Int, methods: Int = 1) -> Fence.Settings {
        let plans = (1...n).map { i in
            Fence.NodePlan(id: NodeID(UInt32(i)), name: "n\(i)", methods: (1...methods).map { m in
                Fence.MethodPlan(name: "\(m)", devices: [Fence.DevicePlan(name: "pdu\(m)", agent: "fence_pdu\(m)",
                                                                          deviceArguments: [.init("ipaddr", "10.0.0.\(m)")],
                                                                          nodeArguments: [.init("port", "\(i)")])])
            })
        }
        return Fence.Settings(nodes: plans, postJoinDelay: .seconds(6), postFailDelay: .zero)
    }

    static func pid(_ n: Int, _ incarnation: UInt64) -> UInt32 { UInt32(100 * n) + UInt32(incarnation) }

    func member(_ n: Int) -> Fence.Member { Fence.Member(node: NodeID(UInt32(n)), pid: Self.pid(n, incarnations[n] ?? 1)) }

    /// Starts (or restarts) node n's fence daemon with a new incarnation; it is not in the group yet.
    mutating func start(_ n: Int) {
        incarnations[n, default: 0] += 1
        cores[n] = Fence.StateMachine(nodeID: NodeID(UInt32(n)), pid: Self.pid(n, incarnations[n]!), settings: settings,
                                      clock: Fence.WallClockAnchor(instant: .zero, secondsSinceEpoch: 1_700_000_000))
        feedAllQuorum()
        drain()
    }

    func partition(of n: Int) -> Int { partitions.firstIndex { $0.contains(n) } ?? -1 }

    func quorate(_ n: Int) -> Bool {
        if let q = quorumOverride[n] { return q }
        let p = partition(of: n)
        guard p >= 0 else { return false }
        return partitions[p].filter { cores[$0] != nil }.count * 2 > settings.nodes.count
    }

    mutating func feedQuorum(_ n: Int) {
        let p = partition(of: n)
        let members = p < 0 ? [] : partitions[p].filter { cores[$0] != nil && !(quorumHidden[n]?.contains($0) ?? false) }.sorted()
            .map { Fence.QuorumMember(node: NodeID(UInt32($0)), incarnation: incarnations[$0]!) }
        apply(n, .quorum(quorate: quorate(n), ringSequence: quorumRing ?? ringSequence, members: members))
    }

    mutating func feedAllQuorum() { for n in cores.keys.sorted() { feedQuorum(n) } }

    @discardableResult
    mutating func request(_ n: Int, _ r: Fence.Request) -> Fence.RequestResult? {
        let result = apply(n, .request(r))
        drain()
        return result
    }

    mutating func join(_ nodes: Int...) { for n in nodes { request(n, .join) } }

    /// Installs a new partitioning (a new ring): every core gets its partition's domain view; quorum follows
    /// (or comes first, with `quorumFirst`).
    mutating func partition(_ groups: [[Int]], quorumFirst: Bool = false) {
        partitions = groups
        ringSequence += 4
        if quorumFirst { feedAllQuorum() }
        for (g, group) in groups.enumerated() { installView(partition: g, group: group, joined: []) }
        if !quorumFirst { feedAllQuorum() }
        drain()
    }

    /// The node's process dies (the next partition call drops it, as a node down).
    mutating func crash(_ n: Int) {
        cores[n] = nil
        inGroup.remove(n)
        views[n] = nil
        runs.removeAll { $0.node == n }
    }

    /// Node n's fence daemon dies while its node stays: the others see it leave with process down.
    mutating func killDaemon(_ n: Int) {
        let old = member(n)
        cores[n] = nil
        inGroup.remove(n)
        views[n] = nil
        runs.removeAll { $0.node == n }
        let p = partition(of: n)
        for m in partitions[p] where inGroup.contains(m) {
            let members = partitions[p].filter { inGroup.contains($0) }.sorted().map(member)
            views[m] = members
            apply(m, .domainView(Fence.DomainView(members: members, joined: [], left: [Fence.Departure(old, .processDown)], ringSequence: ringSequence)))
        }
        drain()
    }

    mutating func installView(partition g: Int, group: [Int], joined: [Int]) {
        let members = group.filter { inGroup.contains($0) && cores[$0] != nil }.sorted().map(member)
        for n in group where inGroup.contains(n) && cores[n] != nil {
            let before = views[n] ?? []
            let left = before.filter { !members.contains($0) }.map { Fence.Departure($0, .nodeDown) }
            let added = members.filter { !before.contains($0) }
            views[n] = members
            apply(n, .domainView(Fence.DomainView(members: members, joined: before.isEmpty ? members : added, left: left, ringSequence: ringSequence)))
        }
    }

    mutating func advance(_ d: Duration) {
        let end = now + d
        while true {
            let due = cores.keys.sorted().compactMap { n in cores[n]!.nextDeadline.map { (n, $0) } }.filter { $0.1 <= end }.min { $0.1 < $1.1 }
            guard let (n, at) = due else { break }
            now = max(now, at)
            apply(n, .deadlineReached)
            drain()
        }
        now = end
    }

    /// Answers every pending agent run with `outcome(run)`.
    mutating func finishAgents(_ outcome: (Int, Fence.AgentRun) -> Fence.AgentOutcome = { _, _ in .success }) {
        while !runs.isEmpty {
            let (n, run) = runs.removeFirst()
            apply(n, .agentFinished(Fence.AgentResult(runID: run.id, outcome: outcome(n, run), stderr: outcome(n, run).isSuccess ? "" : "no route to host")))
            drain()
        }
    }

    /// Answers the oldest pending agent run.
    mutating func finishOne(_ outcome: Fence.AgentOutcome = .success) {
        guard !runs.isEmpty else { return }
        let (n, run) = runs.removeFirst()
        apply(n, .agentFinished(Fence.AgentResult(runID: run.id, outcome: outcome)))
        drain()
    }

    mutating func drain() {
        while !queue.isEmpty {
            let (p, from, bytes) = queue.removeFirst()
            guard p < partitions.count else { continue }
            let sender = member(from)
            for n in partitions[p].sorted() where inGroup.contains(n) && cores[n] != nil && (views[n] ?? []).contains(sender) {
                apply(n, .delivered(from: sender, bytes: bytes))
            }
        }
    }

    @discardableResult
    mutating func apply(_ n: Int, _ event: Fence.Event) -> Fence.RequestResult? {
        guard var core = cores[n] else { return nil }
        let out = core.handle(event, at: now)
        cores[n] = core
        for e in out.effects {
            switch e {
            case .joinGroup:
                inGroup.insert(n)
                let g = partition(of: n)
                let members = partitions[g].filter { inGroup.contains($0) && cores[$0] != nil }.sorted().map(member)
                for m in partitions[g] where inGroup.contains(m) && cores[m] != nil {
                    views[m] = members
                    apply(m, .domainView(Fence.DomainView(members: members, joined: [member(n)], left: [], ringSequence: ringSequence)))
                }
            case .leaveGroup:
                let g = partition(of: n)
                let old = member(n)
                let members = partitions[g].filter { inGroup.contains($0) && cores[$0] != nil && $0 != n }.sorted().map(member)
                for m in partitions[g] where inGroup.contains(m) && cores[m] != nil {
                    views[m] = m == n ? [] : members
                    apply(m, .domainView(Fence.DomainView(members: m == n ? [] : members, joined: [], left: [Fence.Departure(old, .clean)],
                                                          ringSequence: ringSequence)))
                }
                inGroup.remove(n)
            case .multicast(let bytes):
                queue.append((partition(of: n), n, bytes))
            case .runAgent(let run):
                runs.append((n, run))
                started.append((n, run, quorate(n)))
            case .victimResolved(let r):
                resolutions[n, default: []].append(r)
            case .removeFromCluster(let node, _):
                removed.append((n, node))
            case .joinFailed(let why):
                joinFailures[n, default: []].append(why)
            case .log(let line):
                logs[n, default: []].append(line)
            case .stateChanged:
                break
            }
        }
        return out.result
    }

    func victims(_ n: Int) -> [Int] { cores[n]?.victims.map { Int($0.node.rawValue) } ?? [] }
    func resolved(_ n: Int) -> [(Int, Fence.How)] { (resolutions[n] ?? []).map { (Int($0.victim.rawValue), $0.how) } }
    func runTargets() -> [Int] { runs.map { Int($0.run.target.rawValue) } }
}
