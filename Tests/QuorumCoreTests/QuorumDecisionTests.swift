// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import QuorumCore
import Testing

/// The decisions that moved from quorumd's shell into the core (issue 10): the verdict on a proposed cluster.conf,
/// the quorum disk's evictions, and the staged shutdown with its deadline.
@Suite("Quorum decisions: config verdicts, qdisk evictions, staged shutdown")
struct QuorumDecisionTests {
    // MARK: - Config verdicts

    struct Verdict: CustomTestStringConvertible, Sendable {
        var name: String
        var version: UInt64
        var bytes: [UInt8]
        var file: Quorum.ProposedConfig
        /// nil: accepted; else a part of the refusal.
        var refusal: String?
        var testDescription: String { name }
    }

    static let verdicts: [Verdict] = [
        Verdict(name: "a newer valid file that lists every node is accepted", version: 2, bytes: [2],
                file: .valid(configVersion: 2, settings: settings(3)), refusal: nil),
        Verdict(name: "a file that does not parse is refused with its problems", version: 2, bytes: [2],
                file: .invalid("cluster.conf v2:3: unknown element"), refusal: "cluster.conf v2:3: unknown element"),
        Verdict(name: "another cluster's file is refused", version: 2, bytes: [2],
                file: .valid(configVersion: 2, settings: renamed(settings(3), "other")), refusal: "cluster name \"other\" differs from \"c\""),
        Verdict(name: "a file whose config_version is not the proposed one is refused", version: 2, bytes: [2],
                file: .valid(configVersion: 3, settings: settings(3)), refusal: "the file says config_version 3, not 2"),
        Verdict(name: "the running version with other content is refused", version: 1, bytes: [9],
                file: .valid(configVersion: 1, settings: settings(3)), refusal: "version 1 is already running with different content"),
        Verdict(name: "a file without this node is refused by it", version: 2, bytes: [2],
                file: .valid(configVersion: 2, settings: settings(2)), refusal: "it does not list this node (n3)"),
    ]

    @Test("each member's verdict on a proposal", arguments: verdicts)
    func verdict(_ v: Verdict) {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.reader = { node, _, core in node == 3 ? v.file : .valid(configVersion: v.version, settings: core.settings) }
        bus.partition([[1, 2, 3]])
        bus.multicast(from: 1, .configPropose(origin: NodeID(1), version: v.version, bytes: v.bytes))
        let votes = (bus.effects[3] ?? []).compactMap { e -> String? in
            guard case .multicast(let b) = e, case .configVote(_, _, let refusal)? = try? Quorum.Message.decode(b) else { return nil }
            return refusal
        }
        #expect(votes.count == 1, "node 3 votes once")
        if let refusal = v.refusal {
            #expect(votes.first == refusal)
            #expect(bus.effects[3]?.contains(.notice(.refusingConfig(version: v.version, from: NodeID(1), reason: refusal))) == true)
            #expect(bus.cores[1]?.configVersion == 1, "nobody installs what one member refused")
        } else {
            #expect(votes.first == "")
            #expect(bus.cores.values.allSatisfy { $0.configVersion == 2 && $0.configBytes == [2] })
        }
    }

    @Test("an accepted file's settings run everywhere at once: the core applies what its shell read")
    func acceptedSettingsApplied() {
        var bus = QuorumBus(settings: settings(3), nodes: [1, 2, 3])
        bus.reader = { _, _, _ in .valid(configVersion: 2, settings: settings(3, votes: [2, 1, 1])) }
        bus.partition([[1, 2, 3]])
        #expect(bus.request(1, .proposeConfig(version: 2, bytes: [2])) == .accepted)
        for n in 1...3 {
            #expect(bus.cores[n]?.configVersion == 2)
            #expect(bus.summary(n)?.totalVotes == 4, "node 1's two votes count everywhere")
        }
        #expect(bus.effects[1]?.contains(.configDistributed(version: 2, failure: nil)) == true)
    }

    // MARK: - Quorum disk

    @Test("a quorate partition tells the members the disk's master declares dead to leave; an inquorate one does not")
    func qdiskEvictions() {
        var bus = QuorumBus(settings: settings(3, qdisk: 1), nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.send(1, .qdisk(votes: 1, asMaster: true, evict: [NodeID(3)]))
        #expect(bus.effects[1]?.contains(.notice(.deadByDisk(NodeID(3)))) == true)
        #expect(bus.cores[3] == nil, "node 3 was told to leave and left")
        #expect(bus.cores[1] != nil && bus.cores[2] != nil)

        var minority = QuorumBus(settings: settings(5), nodes: [1, 2, 3, 4, 5])
        minority.partition([[1, 2, 3, 4, 5]])
        minority.partition([[1, 2], [3, 4, 5]])
        minority.send(1, .qdisk(votes: 0, asMaster: true, evict: [NodeID(2)]))
        #expect(minority.cores[2] != nil, "an inquorate partition evicts nobody")
        #expect(minority.effects[1]?.contains(.notice(.deadByDisk(NodeID(2)))) != true)
    }

    @Test("a node the master evicted stops its stack as a failure; before it is in a configuration nothing happens")
    func qdiskEvicted() {
        var bus = QuorumBus(settings: settings(2, qdisk: 1), nodes: [1, 2])
        bus.send(2, .qdisk(votes: 0, asMaster: false, evicted: true))
        #expect(bus.cores[2] != nil, "not yet in a configuration: the decision is about nobody")
        bus.partition([[1, 2]])
        bus.send(2, .qdisk(votes: 0, asMaster: false, evicted: true))
        #expect(bus.effects[2]?.contains(.leaveCluster(reason: "evicted by the quorum disk master", evicted: true)) == true)
        #expect(bus.cores[2] == nil)
    }

    // MARK: - Staged shutdown

    /// A 3-node cluster whose node 3 has registered clients 10 ("stubbornd") and 11 ("willingd").
    func clusterWithClients(shutdownTimeout: Duration = .seconds(5)) -> QuorumBus {
        var s = settings(3)
        s.shutdownTimeout = shutdownTimeout
        var bus = QuorumBus(settings: s, nodes: [1, 2, 3])
        bus.partition([[1, 2, 3]])
        bus.send(3, .clientRegistered(10, name: "stubbornd (pid 10)"))
        bus.send(3, .clientRegistered(11, name: "willingd (pid 11)"))
        return bus
    }

    func answers(_ bus: QuorumBus, _ n: Int) -> [Quorum.Effect] {
        (bus.effects[n] ?? []).filter {
            switch $0 {
            case .leaveAnswered, .stopDaemon, .stopRefused, .tryShutdown, .leaveCluster: true
            default: false
            }
        }
    }

    @Test("leave asks every registered client; one that says no keeps the node in, and is named")
    func leaveRefused() {
        var bus = clusterWithClients()
        bus.send(3, .shutdownRequested(by: 99, remove: false, force: false))
        #expect(answers(bus, 3) == [.tryShutdown(10), .tryShutdown(11)])
        #expect(bus.effects[3]?.contains(.notice(.askingClients(bySignal: false, count: 2))) == true)
        #expect(bus.cores[3]?.nextDeadline != nil, "the wait has a deadline")
        bus.send(3, .shutdownReply(11, allow: true))
        bus.send(3, .shutdownReply(10, allow: false))
        let why = "cannot leave the cluster: stubbornd (pid 10) said no"
        #expect(answers(bus, 3).last == .leaveAnswered(99, .refused(why)))
        #expect(bus.cores[3] != nil && bus.cores[3]?.nextDeadline == nil)
        #expect(bus.summary(1)?.memberCount == 3)
    }

    @Test("leave once every client agrees: the answer comes when the departure is delivered, then the stack stops")
    func leaveAgreed() {
        var bus = clusterWithClients()
        bus.send(3, .shutdownRequested(by: 99, remove: true, force: false))
        bus.send(3, .shutdownReply(10, allow: true))
        bus.send(3, .shutdownReply(11, allow: true))
        #expect(Array(answers(bus, 3).suffix(2)) == [.leaveAnswered(99, .accepted), .leaveCluster(reason: "left the cluster (remove)", evicted: false)])
        #expect(bus.cores[3] == nil)
        bus.partition([[1, 2]])
        #expect(bus.summary(1)?.expectedVotes == 2, "remove lowered expected votes")
    }

    @Test("a client that does not answer within shutdown_timeout refuses; one that goes away refuses a leave")
    func silentAndGone() {
        var bus = clusterWithClients(shutdownTimeout: .milliseconds(500))
        bus.send(3, .shutdownRequested(by: 99, remove: false, force: false))
        bus.send(3, .clientGone(11))
        bus.advance(.milliseconds(400))
        #expect(answers(bus, 3).count == 2, "still waiting for stubbornd")
        bus.advance(.milliseconds(200))
        let why = "cannot leave the cluster: willingd (pid 11) went away without answering; stubbornd (pid 10) did not answer within 0.5 seconds"
        #expect(answers(bus, 3).last == .leaveAnswered(99, .refused(why)))
    }

    @Test("force does not ask; a second leave while one is under way is refused")
    func forceAndBusy() {
        var bus = clusterWithClients()
        bus.send(3, .shutdownRequested(by: 98, remove: false, force: false))
        bus.send(3, .shutdownRequested(by: 99, remove: false, force: false))
        #expect(answers(bus, 3).last == .leaveAnswered(99, .refused("a leave is already in progress")))
        var forced = clusterWithClients()
        forced.send(3, .shutdownRequested(by: 99, remove: false, force: true))
        #expect(answers(forced, 3) == [.leaveAnswered(99, .accepted), .leaveCluster(reason: "left the cluster", evicted: false)])
    }

    @Test("SIGTERM: stop at once with nobody registered; refused while a client says no; a client stopping too holds nothing")
    func signal() {
        var bare = QuorumBus(settings: settings(2), nodes: [1, 2])
        bare.partition([[1, 2]])
        bare.send(2, .shutdownRequested(by: nil, remove: false, force: false))
        #expect(answers(bare, 2) == [.stopDaemon(reason: "SIGTERM")])

        var refused = clusterWithClients()
        refused.send(3, .shutdownRequested(by: nil, remove: false, force: false))
        #expect(refused.effects[3]?.contains(.notice(.askingClients(bySignal: true, count: 2))) == true)
        refused.send(3, .shutdownRequested(by: nil, remove: false, force: false))
        #expect(refused.effects[3]?.contains(.notice(.signalDuringLeave)) == true)
        refused.send(3, .shutdownReply(10, allow: false))
        refused.send(3, .shutdownReply(11, allow: true))
        #expect(answers(refused, 3).last == .stopRefused(why: "refusing to stop: stubbornd (pid 10) said no; 'cman_tool leave force' stops anyway"))
        #expect(refused.cores[3] != nil)

        var poweroff = clusterWithClients()
        poweroff.send(3, .shutdownRequested(by: nil, remove: false, force: false))
        poweroff.send(3, .clientGone(10))
        poweroff.send(3, .shutdownReply(11, allow: true))
        #expect(answers(poweroff, 3).last == .stopDaemon(reason: "SIGTERM"))
    }

    @Test("the operator's lines for a shutdown, a departure and an installed configuration")
    func operatorLines() {
        var out = Quorum.Output()
        out.effects = [.notice(.askingClients(bySignal: false, count: 2)), .tryShutdown(1), .installConfig(version: 3, bytes: []),
                       .leaveCluster(reason: "evicted by the quorum disk master", evicted: true), .stopRefused(why: "refusing to stop: x")]
        #expect(Quorum.OperatorLog.lines(for: out).map(\.description) == [
            "notice: leave requested: asking 2 client(s)",
            "notice: configuration version 3 is now running",
            "error: evicted by the quorum disk master: stopping the cluster stack",
            "error: refusing to stop: x",
        ])
    }
}

func renamed(_ s: Quorum.Settings, _ name: String) -> Quorum.Settings {
    var s = s
    s.clusterName = name
    return s
}
