// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore

/// The quorum settings of one stack run, drawn from its seed: the optional mode (two_node, a quorum disk with or
/// without master_wins and heuristics, auto_tie_breaker, last_man_standing with its window, wait_for_all), weighted
/// votes, expected votes, which nodes hold state, and how often an administrator changes votes or expected votes or
/// installs a new configuration during the faults.
public struct QuorumScenario: Sendable, CustomStringConvertible {
    public enum Mode: Sendable, Hashable, CustomStringConvertible {
        case plain
        case twoNode
        case quorumDisk(masterWins: Bool, heuristics: Bool)
        case autoTieBreaker
        case lastManStanding(window: Duration)
        case waitForAll

        public var description: String {
            switch self {
            case .plain: "plain"
            case .twoNode: "two_node"
            case .quorumDisk(let mw, let h): "qdisk(master_wins=\(mw), heuristics=\(h))"
            case .autoTieBreaker: "auto_tie_breaker"
            case .lastManStanding(let w): "last_man_standing(\(w.millisecondsClamped)ms)"
            case .waitForAll: "wait_for_all"
            }
        }
    }

    public var mode: Mode
    public var settings: Quorum.Settings
    /// Chance that a node marks itself dirty (its daemons hold state) once it is in a configuration.
    public var dirtyProbability: Double
    /// Chance per 100 ms of the fault phase of an administrator's votes or expected-votes change, or a new config.
    public var adminProbability: Double
    public var reloadProbability: Double
    /// Administrators may lower expected votes (in a quorate partition): that, like two_node, relies on fencing.
    public var adminLowersExpected: Bool
    /// The quorum disk's interval and tko.
    public var qdiskInterval: Duration
    public var qdiskTKO: Int

    /// Whether safety rests on fencing the nodes a quorate partition lost before it acts (two_node, a quorum disk
    /// without master_wins, last_man_standing, expected votes lowered by hand), rather than on quorum alone.
    public var reliesOnFencing: Bool {
        switch mode {
        case .twoNode, .lastManStanding: return true
        case .quorumDisk(let masterWins, _): return !masterWins || adminLowersExpected
        case .plain, .autoTieBreaker, .waitForAll: return adminLowersExpected
        }
    }

    /// The configured quorum-disk votes, if any.
    public var qdiskVotes: UInt32? { settings.qdiskVotes }

    public init(seed: UInt64, nodeCount: Int) {
        var r = SeededRandom(seed: seed).fork(label: "quorum scenario")
        var modes: [Mode] = [.plain, .plain, .autoTieBreaker, .waitForAll,
                             .lastManStanding(window: .milliseconds(Int64([300, 1_000, 3_000].randomElement(using: &r)!)))]
        if nodeCount == 2 { modes += [.twoNode, .twoNode, .twoNode] }
        if nodeCount <= 16 {
            modes += [.quorumDisk(masterWins: true, heuristics: r.chance(0.5)), .quorumDisk(masterWins: true, heuristics: true),
                      .quorumDisk(masterWins: false, heuristics: r.chance(0.5))]
        }
        mode = modes.randomElement(using: &r)!
        let weighted: Bool
        switch mode {
        case .plain, .autoTieBreaker, .waitForAll: weighted = r.chance(0.3)
        case .twoNode, .quorumDisk, .lastManStanding: weighted = false
        }
        let votes = (1...nodeCount).map { _ in weighted ? UInt32.random(in: 1...3, using: &r) : 1 }
        let nodes = (1...nodeCount).map { Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "n\($0)", votes: votes[$0 - 1]) }
        let sum = votes.reduce(0, +)
        var qdisk: UInt32?
        if case .quorumDisk = mode { qdisk = UInt32(max(nodeCount - 1, 1)) }
        let all = sum + (qdisk ?? 0)
        // expected_votes as the validator allows it (left out, or at least a majority's worth), and no more than the
        // cluster has, so it can be quorate when whole.
        var expected: UInt32? = r.chance(0.3) ? UInt32.random(in: max(all / 2 * 2, 1)...max(all, 1), using: &r) : nil
        if mode == .twoNode { expected = 1 }
        var s = Quorum.Settings(clusterName: "sim", nodes: nodes, expectedVotes: expected, twoNode: mode == .twoNode)
        s.qdiskVotes = qdisk
        if qdisk != nil && expected == nil { s.expectedVotes = all }
        switch mode {
        case .autoTieBreaker: s.autoTieBreaker = true
        case .waitForAll: s.waitForAll = true
        case .lastManStanding(let w):
            s.lastManStanding = true
            s.lastManStandingWindow = w
        case .plain, .twoNode, .quorumDisk: break
        }
        settings = s
        dirtyProbability = [0, 0.5, 1].randomElement(using: &r)!
        adminProbability = [0, 0, 0.02, 0.1].randomElement(using: &r)!
        reloadProbability = [0, 0.02].randomElement(using: &r)!
        adminLowersExpected = adminProbability > 0 && r.chance(0.5)
        qdiskInterval = .milliseconds(Int64([200, 400].randomElement(using: &r)!))
        qdiskTKO = Int.random(in: 3...6, using: &r)
    }

    public var description: String {
        "quorum: \(mode) votes=\(settings.nodes.map(\.votes)) expected=\(settings.expectedVotes) dirty=\(dirtyProbability) admin=\(adminProbability)\(adminLowersExpected ? "(lowers expected)" : "") reload=\(reloadProbability)\(reliesOnFencing ? " [fencing]" : "")\(settings.mutations.isEmpty ? "" : " MUTATIONS: \(settings.mutations)")"
    }
}
