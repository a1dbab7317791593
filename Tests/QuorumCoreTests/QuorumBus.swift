// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore

/// Stands in for totem under a set of quorum cores: configuration changes and a total order of multicasts within
/// each partition, delivered to every member of the sender's partition.
struct QuorumBus {
    var cores: [Int: Quorum.StateMachine] = [:]
    var partitions: [[Int]] = []
    var ringSequence: UInt64 = 0
    var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    var effects: [Int: [Quorum.Effect]] = [:]
    var dirty: Set<Int> = []
    /// The shell's reading of a proposed file (libxml2 in quorumd): by default version 666 is broken and any other is
    /// the node's running settings.
    var reader: (_ node: Int, _ version: UInt64, _ core: Quorum.StateMachine) -> Quorum.ProposedConfig = { _, version, core in
        version == 666 ? .invalid("bad config") : .valid(configVersion: version, settings: core.settings)
    }

    init(settings: Quorum.Settings, nodes: [Int]) {
        for n in nodes { cores[n] = Quorum.StateMachine(nodeID: NodeID(UInt32(n)), settings: settings, configVersion: 1, joinTime: 1_000 + UInt64(n)) }
    }

    /// Installs a new partitioning and runs every multicast to quiescence.
    mutating func partition(_ groups: [[Int]]) {
        partitions = groups
        ringSequence += 4
        var queue: [(group: Int, from: Int, bytes: [UInt8])] = []
        for (g, group) in groups.enumerated() {
            for n in group where cores[n] != nil {
                let members = group.filter { cores[$0] != nil }.sorted().map { NodeID(UInt32($0)) }
                _ = apply(n, .configuration(ConfigurationChange(kind: .transitional, ringID: RingID(representative: members.first ?? NodeID(0), sequence: ringSequence), members: members)), group: g, into: &queue)
                _ = apply(n, .configuration(ConfigurationChange(kind: .regular, ringID: RingID(representative: members.first ?? NodeID(0), sequence: ringSequence), members: members)), group: g, into: &queue)
            }
        }
        drain(&queue)
    }

    @discardableResult
    mutating func request(_ n: Int, _ r: Quorum.Request) -> Quorum.RequestResult? {
        var queue: [(group: Int, from: Int, bytes: [UInt8])] = []
        let result = apply(n, .request(r), group: group(of: n), into: &queue)
        drain(&queue)
        return result
    }

    mutating func send(_ n: Int, _ event: Quorum.Event) {
        var queue: [(group: Int, from: Int, bytes: [UInt8])] = []
        _ = apply(n, event, group: group(of: n), into: &queue)
        drain(&queue)
    }

    /// Delivers a message multicast by `n` to its partition (as totem would), and what follows from it.
    mutating func multicast(from n: Int, _ message: Quorum.Message) {
        var queue: [(group: Int, from: Int, bytes: [UInt8])] = [(group(of: n), n, message.encode())]
        drain(&queue)
    }

    mutating func advance(_ d: Duration) {
        now = now + d
        for n in cores.keys.sorted() where (cores[n]?.nextDeadline).map({ $0 <= now }) ?? false { send(n, .deadlineReached) }
    }

    /// Restarts node `n`'s quorumd while the ring stays as it is: only the new process sees the current
    /// configuration (as it does when it connects to totemd); its peers see no configuration change.
    mutating func restartInPlace(_ n: Int, settings: Quorum.Settings) {
        cores[n] = Quorum.StateMachine(nodeID: NodeID(UInt32(n)), settings: settings, configVersion: 1, joinTime: 5_000 + UInt64(n))
        let g = group(of: n)
        let members = partitions[g].filter { cores[$0] != nil }.sorted().map { NodeID(UInt32($0)) }
        var queue: [(group: Int, from: Int, bytes: [UInt8])] = []
        _ = apply(n, .configuration(ConfigurationChange(kind: .regular, ringID: RingID(representative: members.first ?? NodeID(0), sequence: ringSequence), members: members)), group: g, into: &queue)
        drain(&queue)
    }

    /// Removes a node's process (crash); the next partition call should drop it.
    mutating func crash(_ n: Int) { cores[n] = nil }

    func group(of n: Int) -> Int { partitions.firstIndex { $0.contains(n) } ?? -1 }

    private mutating func apply(_ n: Int, _ event: Quorum.Event, group: Int, into queue: inout [(group: Int, from: Int, bytes: [UInt8])]) -> Quorum.RequestResult? {
        guard var core = cores[n] else { return nil }
        let out = core.handle(event, at: now)
        cores[n] = core
        for e in out.effects {
            effects[n, default: []].append(e)
            switch e {
            case .multicast(let bytes): queue.append((group, n, bytes))
            case .validateConfig(_, let version, _):
                _ = apply(n, .configChecked(version: version, reader(n, version, core)), group: group, into: &queue)
            case .leaveCluster: cores[n] = nil
            default: break
            }
        }
        return out.result
    }

    private mutating func drain(_ queue: inout [(group: Int, from: Int, bytes: [UInt8])]) {
        var steps = 0
        while !queue.isEmpty && steps < 10_000 {
            steps += 1
            let m = queue.removeFirst()
            guard m.group >= 0, m.group < partitions.count else { continue }
            for n in partitions[m.group].sorted() where cores[n] != nil {
                _ = apply(n, .delivered(from: NodeID(UInt32(m.from)), bytes: m.bytes), group: m.group, into: &queue)
            }
        }
    }

    func quorate(_ n: Int) -> Bool { cores[n]?.isQuorate ?? false }
    func summary(_ n: Int) -> Quorum.Summary? { cores[n]?.summary }
    func state(_ viewer: Int, of n: Int) -> Quorum.NodeState? { cores[viewer]?.nodes[NodeID(UInt32(n))]?.state }
}

func settings(_ count: Int, votes: [UInt32]? = nil, expected: UInt32? = nil, twoNode: Bool = false, waitForAll: Bool = false,
              lastManStanding: Bool = false, autoTieBreaker: Bool = false, qdisk: UInt32? = nil) -> Quorum.Settings {
    Quorum.Settings(clusterName: "c", nodes: (1...count).map { Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "n\($0)", votes: votes?[$0 - 1] ?? 1) },
                    expectedVotes: expected, twoNode: twoNode, waitForAll: waitForAll, lastManStanding: lastManStanding,
                    lastManStandingWindow: .seconds(10), autoTieBreaker: autoTieBreaker, qdiskVotes: qdisk)
}
