// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import TotemCore

/// A workload message's identity: the node that submitted it and its counter there.
public struct MessageID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var origin: Int
    public var counter: UInt32
    public static func < (a: MessageID, b: MessageID) -> Bool { (a.origin, a.counter) < (b.origin, b.counter) }
    public var description: String { "n\(origin + 1)#\(counter)" }
}

/// What one node's upper layer saw, in order.
public enum Observation: Hashable, Sendable {
    case configuration(Totem.ConfigurationChange)
    case message(MessageID)
    case crashed
    case restarted
}

/// The global checks of a simulated run (STYLE.md §4): agreed order, no duplicates or gaps, self-delivery,
/// extended virtual synchrony (regular and transitional parts separately, in order), safe delivery from the
/// simulator's global view, one member list per ring id, configuration sanity and ring ids that only grow.
///
/// Every check counts what it compared (`Coverage`), so a run that compared nothing can be told from one that passed.
public struct InvariantChecker: Sendable {
    public private(set) var observations: [[Observation]]
    /// Messages accepted for sending: origin incarnation and submission instant.
    var submitted: [MessageID: (incarnation: Int, at: MonotonicInstant)] = [:]
    public private(set) var violations: [String] = []
    public internal(set) var coverage = Coverage()

    init(nodeCount: Int) { observations = Array(repeating: [], count: nodeCount) }

    mutating func record(_ node: Int, _ o: Observation) { observations[node].append(o) }

    mutating func submittedMessage(_ id: MessageID, incarnation: Int, at: MonotonicInstant) {
        submitted[id] = (incarnation, at)
    }

    mutating func fail(_ message: String) {
        if violations.count < 20 { violations.append(message) }
    }

    // MARK: - Checks

    /// Every check that holds at any point of a run.
    mutating func checkSafety() {
        for node in observations.indices {
            checkNode(node)
        }
        checkAgreedOrder()
        checkExtendedVirtualSynchrony()
        checkOneMemberListPerRing()
    }

    /// Per node: no duplicates, FIFO per sender, gaps only after a transitional configuration without the sender,
    /// configurations well formed, ring ids increasing (across restarts too).
    private mutating func checkNode(_ node: Int) {
        var seen = Set<MessageID>()
        var lastFrom: [Int: UInt32] = [:]
        var lastRing: Totem.RingID?
        var lastRegular: Totem.ConfigurationChange?
        var transitional: Totem.ConfigurationChange?
        // Senders whose later messages may follow a gap: they were not with this node for a while.
        var gapAllowed = Set<Int>()
        let me = NodeID(UInt32(node + 1))
        for o in observations[node] {
            switch o {
            case .crashed, .restarted:
                lastRegular = nil
                transitional = nil
                lastFrom = [:]
                gapAllowed = []
            case .configuration(let c):
                if !c.members.contains(me) { fail("n\(node + 1): configuration without itself: \(c)") }
                if c.members != c.members.sorted() { fail("n\(node + 1): members not in ring order: \(c)") }
                switch c.kind {
                case .transitional:
                    if let prev = lastRegular {
                        if !Set(c.members).isSubset(of: prev.members) { fail("n\(node + 1): transitional \(c) has members outside \(prev)") }
                        if Set(c.left) != Set(prev.members).subtracting(c.members) { fail("n\(node + 1): transitional left list wrong: \(c) after \(prev)") }
                    }
                    transitional = c
                    // Senders that did not come along: what they sent while apart may be partly missing.
                    for id in c.left { gapAllowed.insert(Int(id.rawValue) - 1) }
                case .regular:
                    guard let t = transitional, t.ringID == c.ringID else {
                        fail("n\(node + 1): regular configuration \(c) without its transitional")
                        break
                    }
                    if Set(c.joined) != Set(c.members).subtracting(t.members) { fail("n\(node + 1): regular joined list wrong: \(c)") }
                    if let lr = lastRing, !(lr < c.ringID) { fail("n\(node + 1): ring id \(c.ringID) after \(lr) does not grow") }
                    lastRing = c.ringID
                    lastRegular = c
                    coverage[.ringsInstalled] += 1
                    for id in c.joined { gapAllowed.insert(Int(id.rawValue) - 1) }
                    for sender in gapAllowed where !c.members.contains(NodeID(UInt32(sender + 1))) || c.joined.contains(NodeID(UInt32(sender + 1))) {
                        lastFrom[sender] = nil
                    }
                    gapAllowed = gapAllowed.filter { !c.members.contains(NodeID(UInt32($0 + 1))) }
                }
            case .message(let id):
                coverage[.messagesDelivered] += 1
                if !seen.insert(id).inserted { fail("n\(node + 1): delivered \(id) twice") }
                if let prev = lastFrom[id.origin] {
                    if id.counter <= prev { fail("n\(node + 1): \(id) delivered after n\(id.origin + 1)#\(prev) (FIFO)") }
                    if id.counter > prev + 1 && !gapAllowed.contains(id.origin) && !senderRestarted(id.origin, between: prev, and: id.counter) {
                        fail("n\(node + 1): gap before \(id) (last from that sender was #\(prev)) while the sender was in its configuration")
                    }
                }
                lastFrom[id.origin] = id.counter
            }
        }
    }

    /// Whether `origin` crashed (or left) between submitting its counters `a` and `b`: its unsent messages died.
    private func senderRestarted(_ origin: Int, between a: UInt32, and b: UInt32) -> Bool {
        let ia = submitted[MessageID(origin: origin, counter: a)]?.incarnation
        let ib = submitted[MessageID(origin: origin, counter: b)]?.incarnation
        if ia != ib { return true }
        // Messages in between that were never accepted (try again) have no entry.
        for c in (a + 1)..<b where submitted[MessageID(origin: origin, counter: c)] != nil { return false }
        return true
    }

    /// Any two nodes deliver the messages they both deliver in the same relative order.
    private mutating func checkAgreedOrder() {
        let orders: [[MessageID]] = observations.map { $0.compactMap { if case .message(let m) = $0 { m } else { nil } } }
        let positions: [[MessageID: Int]] = orders.map { list in
            Dictionary(list.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        }
        for a in orders.indices {
            for b in orders.indices where b > a {
                let common = orders[a].filter { positions[b][$0] != nil }
                coverage[.orderedPairsCompared] += common.count
                var last = -1
                for m in common {
                    let p = positions[b][m]!
                    if p < last {
                        fail("agreed order: n\(a + 1) and n\(b + 1) deliver \(m) in different orders")
                        break
                    }
                    last = p
                }
            }
        }
    }

    /// One step of a node's history: from regular configuration `from`, through the transitional configuration of
    /// ring `to`, into regular configuration `to`.
    struct Step: Hashable {
        var from: Totem.RingID
        var to: Totem.RingID
    }

    /// What a node delivered during one step: in the old regular configuration, and in the transitional one.
    struct StepRecord {
        var node: Int
        var transitionalMembers: [NodeID]
        var regular: [MessageID]
        var transitional: [MessageID]
    }

    /// Extended virtual synchrony: nodes that go through the same regular → transitional → regular sequence
    /// deliver the same messages in the same order in the regular configuration, and the same messages in the
    /// same order in the transitional one, and agree on the transitional membership.
    private mutating func checkExtendedVirtualSynchrony() {
        var first: [Step: StepRecord] = [:]
        for node in observations.indices {
            var regular: Totem.ConfigurationChange?
            var transitional: Totem.ConfigurationChange?
            var inRegular: [MessageID] = []
            var inTransitional: [MessageID] = []
            for o in observations[node] {
                switch o {
                case .crashed, .restarted:
                    regular = nil
                    transitional = nil
                    inRegular = []
                    inTransitional = []
                case .message(let m):
                    if transitional != nil {
                        inTransitional.append(m)
                        coverage[.transitionalDeliveries] += 1
                    } else {
                        inRegular.append(m)
                    }
                case .configuration(let c) where c.kind == .transitional:
                    transitional = c
                case .configuration(let c):
                    if let r = regular, let t = transitional {
                        let step = Step(from: r.ringID, to: c.ringID)
                        let mine = StepRecord(node: node, transitionalMembers: t.members, regular: inRegular, transitional: inTransitional)
                        if let other = first[step] {
                            coverage[.configurationStepsCompared] += 1
                            compare(step, mine, other)
                        } else {
                            first[step] = mine
                        }
                    }
                    regular = c
                    transitional = nil
                    inRegular = []
                    inTransitional = []
                }
            }
        }
    }

    private mutating func compare(_ step: Step, _ a: StepRecord, _ b: StepRecord) {
        let who = "n\(a.node + 1) and n\(b.node + 1) (ring \(step.from) → \(step.to))"
        if a.transitionalMembers != b.transitionalMembers {
            fail("EVS: \(who) installed different transitional configurations: \(a.transitionalMembers) vs \(b.transitionalMembers)")
        }
        if a.regular != b.regular {
            fail("EVS: \(who) delivered different messages in the regular configuration: \(Self.difference(a.regular, b.regular))")
        }
        if a.transitional != b.transitional {
            fail("EVS: \(who) delivered different messages in the transitional configuration: \(Self.difference(a.transitional, b.transitional))")
        }
    }

    static func difference(_ a: [MessageID], _ b: [MessageID]) -> String {
        let sa = Set(a), sb = Set(b)
        if sa == sb { return "the same \(a.count) messages in another order" }
        return "only the first: \(Array(sa.subtracting(sb).sorted().prefix(3))), only the second: \(Array(sb.subtracting(sa).sorted().prefix(3)))"
    }

    /// A ring id names one ring: every node that installs it lists the same members.
    private mutating func checkOneMemberListPerRing() {
        var members: [Totem.RingID: (node: Int, members: [NodeID])] = [:]
        for node in observations.indices {
            for case .configuration(let c) in observations[node] where c.kind == .regular {
                if let other = members[c.ringID] {
                    if other.members != c.members {
                        fail("ring \(c.ringID): n\(node + 1) lists \(c.members), n\(other.node + 1) lists \(other.members)")
                    }
                } else {
                    members[c.ringID] = (node, c.members)
                }
            }
        }
    }

    /// Safe delivery, checked at the moment of delivery from the simulator's global view: every member of the
    /// configuration the message is delivered in holds the frame that completed it.
    mutating func checkSafeDelivery(node: Int, _ d: Totem.Delivery, in configuration: Totem.ConfigurationChange,
                                    holders: (Int) -> Bool) {
        coverage[.safeDeliveriesChecked] += 1
        let missing = configuration.members.filter { !holders(Int($0.rawValue) - 1) }
        if !missing.isEmpty {
            fail("safe delivery: n\(node + 1) delivered \(d.ringID)#\(d.seq) in its \(configuration.kind) configuration \(configuration.ringID) before \(missing) had it")
        }
    }

    /// After the liveness phase: every message a surviving node submitted (without crashing since) reached that
    /// node, and every message submitted at or after `stableSince` reached every node in `finalMembers`.
    mutating func checkDelivered(alive: [Int: Int], finalMembers: [Int], stableSince: MonotonicInstant) {
        let delivered: [Set<MessageID>] = observations.map { Set($0.compactMap { if case .message(let m) = $0 { m } else { nil } }) }
        for (id, info) in submitted.sorted(by: { $0.key < $1.key }) {
            guard alive[id.origin] == info.incarnation else { continue }
            coverage[.selfDeliveriesChecked] += 1
            if !delivered[id.origin].contains(id) { fail("self-delivery: n\(id.origin + 1) never delivered its own \(id)") }
            if info.at >= stableSince {
                for n in finalMembers where !delivered[n].contains(id) {
                    fail("liveness: n\(n + 1) never delivered \(id), submitted after the cluster was whole")
                }
            }
        }
    }
}
