// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import TotemCore

/// One simulated run's knobs, drawn from its seed (swarm testing: every seed gets a different mix of faults).
public struct SimulationOptions: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var nodeCount: Int
    public var token: Duration
    public var lossProbability: Double
    public var duplicateProbability: Double
    public var corruptProbability: Double
    /// Typical one-way delay and the chance of a long delay (which reorders packets).
    public var delayBase: Duration
    public var delayTailProbability: Double
    public var delayTail: Duration
    public var partitionProbability: Double
    public var asymmetricPartitions: Bool
    public var crashProbability: Double
    public var leaveProbability: Double
    public var unreachableReports: Bool
    public var initialSequence: UInt32
    /// Chance per node per 10 ms of submitting a message during the fault phase.
    public var submitProbability: Double
    public var largeMessageProbability: Double
    public var safeProbability: Double
    public var faultPhase: Duration
    /// Each node's clock runs at 1 + skew (parts per thousand), so timeouts expire at slightly different rates.
    public var clockSkewPerMille: [Int]
    /// fail_recv_const: token visits a node may miss messages for before it gives up (small in some runs, so the
    /// failed-to-receive path is taken).
    public var failRecvConst: Int
    /// Chance per 100 ms of a burst of port-unreachable reports about a node that is alive (a firewall reload,
    /// forged ICMP): the protocol must not fail anyone for them.
    public var spuriousReportProbability: Double
    /// Chance per 100 ms that a node stops receiving multicasts for a while (it still gets tokens and joins), as
    /// when a switch drops multicast to one port.
    public var deafProbability: Double
    /// Chance per 100 ms that a node's outgoing packets are held up (up to hundreds of milliseconds each), as on a
    /// failing host; half the time it then crashes.
    public var clogProbability: Double
    /// Chance per 100 ms that a node about to crash gets its last multicasts to one peer only, and to that one only
    /// once it is recovering from the ring (the adversarial timing of the late old-ring message).
    public var stragglerProbability: Double
    /// Deliberate weakenings of the core (mutation tests only).
    public var mutations: Totem.Mutations = []

    /// Options drawn from `seed`, with node counts in `nodes`.
    public init(seed: UInt64, nodes: ClosedRange<Int> = 2...16) {
        var r = SeededRandom(seed: seed).fork(label: "options")
        self.seed = seed
        // Smaller clusters are more common: they find different bugs faster.
        let span = nodes.upperBound - nodes.lowerBound
        nodeCount = nodes.lowerBound + Int(Double(span) * pow2(Double(r.next() % 1000) / 1000))
        token = .milliseconds(Int64([200, 300, 500, 1000].randomElement(using: &r)!))
        lossProbability = [0, 0.001, 0.01, 0.05, 0.15].randomElement(using: &r)!
        duplicateProbability = [0, 0.01, 0.05].randomElement(using: &r)!
        corruptProbability = [0, 0.001, 0.01].randomElement(using: &r)!
        delayBase = .microseconds(Int64.random(in: 30...300, using: &r))
        delayTailProbability = [0, 0.01, 0.05].randomElement(using: &r)!
        delayTail = .milliseconds(Int64.random(in: 1...40, using: &r))
        partitionProbability = [0, 0.1, 0.3].randomElement(using: &r)!
        asymmetricPartitions = r.chance(0.3)
        crashProbability = [0, 0.05, 0.15].randomElement(using: &r)!
        leaveProbability = [0, 0.05].randomElement(using: &r)!
        unreachableReports = r.chance(0.5)
        initialSequence = r.chance(0.3) ? UInt32.max - UInt32.random(in: 0...64, using: &r) : 0
        submitProbability = [0.02, 0.1, 0.3].randomElement(using: &r)!
        largeMessageProbability = [0, 0.02].randomElement(using: &r)!
        safeProbability = [0, 0.2].randomElement(using: &r)!
        faultPhase = .seconds(Int64.random(in: 3...8, using: &r))
        clockSkewPerMille = (0..<nodeCount).map { _ in Int.random(in: -5...5, using: &r) }
        // Drawn last, so the earlier knobs of every seed stay what they were.
        failRecvConst = r.chance(0.3) ? 25 : 2500
        spuriousReportProbability = [0, 0, 0.05, 0.2].randomElement(using: &r)!
        deafProbability = [0, 0, 0.02].randomElement(using: &r)!
        clogProbability = [0, 0.02, 0.1].randomElement(using: &r)!
        stragglerProbability = [0, 0.02, 0.1].randomElement(using: &r)!
    }

    public var description: String {
        "seed=\(seed) nodes=\(nodeCount) token=\(token.millisecondsClamped)ms loss=\(lossProbability) dup=\(duplicateProbability) corrupt=\(corruptProbability) delay=\(delayBase.nanosecondsClamped / 1000)us tail=\(delayTailProbability)@\(delayTail.millisecondsClamped)ms partitions=\(partitionProbability)\(asymmetricPartitions ? "(asym)" : "") crash=\(crashProbability) leave=\(leaveProbability) icmp=\(unreachableReports) seq0=\(initialSequence) submit=\(submitProbability) large=\(largeMessageProbability) safe=\(safeProbability) faults=\(faultPhase.millisecondsClamped)ms fail_recv=\(failRecvConst) spurious=\(spuriousReportProbability) deaf=\(deafProbability) clog=\(clogProbability) straggler=\(stragglerProbability)\(mutations.isEmpty ? "" : " MUTATIONS: \(mutations)")"
    }

    /// Totem settings for this run.
    public var totemSettings: Totem.Settings {
        var s = Totem.Settings(token: token, failRecvConst: failRecvConst, netmtu: 1500, initialSequence: initialSequence)
        s.mutations = mutations
        return s
    }
}

private func pow2(_ x: Double) -> Double { x * x }

extension SimulationOptions {
    /// Options for scripted runs of `nodes` nodes: no random faults, no loss (the script makes the faults).
    public static func calm(seed: UInt64, nodes: Int) -> SimulationOptions {
        var o = SimulationOptions(seed: seed, nodes: nodes...nodes)
        o.lossProbability = 0
        o.duplicateProbability = 0
        o.corruptProbability = 0
        o.partitionProbability = 0
        o.crashProbability = 0
        o.leaveProbability = 0
        o.delayTailProbability = 0
        o.spuriousReportProbability = 0
        o.deafProbability = 0
        o.clogProbability = 0
        o.stragglerProbability = 0
        return o
    }
}
