// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import FenceCore
import Testing

/// The fence domain's rules, one claim per test, on cores connected by `FenceBus`.
@Suite("Fence domain")
struct FenceDomainTests {
    /// Three nodes that joined together, quorate, no victims.
    static func formed(_ n: Int = 3, settings: Fence.Settings? = nil) -> FenceBus {
        var bus = FenceBus(nodes: n, settings: settings)
        for i in 1...n { bus.request(i, .join) }
        bus.advance(.seconds(10))
        return bus
    }

    @Test("a domain formed by every configured node has no victims and the lowest node id as master")
    func formation() {
        let bus = Self.formed()
        for n in 1...3 {
            let s = bus.cores[n]!.status
            #expect(s.members == [1, 2, 3].map { NodeID($0) })
            #expect(s.master == NodeID(1))
            #expect(s.victimCount == 0 && s.waitState == .none)
            #expect(bus.cores[n]!.complete, "n\(n) holds the domain's state after the master's complete")
        }
        #expect(bus.started.isEmpty)
    }

    @Test("a failed member is fenced by the master alone, with the agent stdin protocol, and settled on every member")
    func failedMemberFenced() throws {
        var bus = Self.formed()
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        #expect(bus.victims(1) == [3] && bus.victims(2) == [3])
        #expect(bus.runs.count == 1)
        let (node, run) = try #require(bus.runs.first)
        #expect(node == 1 && run.target == NodeID(3) && run.agent == "fence_pdu1" && run.purpose == .fence)
        #expect(run.stdin == ["port=3", "agent=fence_pdu1", "ipaddr=10.0.0.1", "nodename=n3", "action=off"])
        #expect(bus.resolved(1).isEmpty, "nothing is settled before the agent's result")
        bus.finishAgents()
        for n in [1, 2] {
            #expect(bus.victims(n).isEmpty)
            let r = try #require(bus.resolutions[n]?.first)
            #expect(r.victim == NodeID(3) && r.how == .agent && r.agent == "fence_pdu1" && r.by == NodeID(1) && r.method == "1")
            #expect(r.description.hasPrefix("node n3 fenced at 17000000"))
            #expect(bus.logs[n]!.contains { $0.text == "fence n3 method 1 device pdu1 agent fence_pdu1 result: success" })
            #expect(bus.logs[n]!.contains { $0.text == "fence n3 success" })
        }
        let s = bus.cores[2]!.status
        #expect(s.nodes.first { $0.node == NodeID(3) }?.lastFenceHow == .agent)
        #expect(s.nodes.first { $0.node == NodeID(3) }?.lastFenceMaster == NodeID(1))
        #expect(bus.started.count == 1)
    }

    @Test("an inquorate partition fences nobody; the quorate side fences the others")
    func inquorateNeverFences() {
        var bus = Self.formed(5, settings: FenceBus.settings(5))
        bus.partition([[1, 2], [3, 4, 5]])
        #expect(bus.started.allSatisfy { $0.node >= 3 })
        #expect(bus.cores[1]!.waitState == .quorum && bus.cores[2]!.waitState == .quorum)
        #expect(Set(bus.runTargets()) == [1])
        bus.finishAgents()
        bus.finishAgents()
        #expect(bus.resolved(3).map(\.0) == [1, 2])
        #expect(bus.started.allSatisfy { $0.quorate })
        #expect(bus.resolved(1).isEmpty && bus.victims(1) == [3, 4, 5])
    }

    @Test("quorum regained lets the waiting master fence")
    func quorumRegained() {
        var bus = Self.formed()
        bus.quorumOverride = [1: false, 2: false]
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        #expect(bus.started.isEmpty)
        bus.quorumOverride = [:]
        bus.feedAllQuorum()
        bus.drain()
        #expect(bus.runTargets() == [3])
    }

    @Test("no start before quorumd has seen the failed node go (it may still be counted in quorum)")
    func waitsForQuorumToSeeFailure() {
        var bus = Self.formed()
        bus.crash(3)
        // groupd notices first; quorumd still lists node 3.
        bus.partitions = [[1, 2], [3]]
        bus.ringSequence += 4
        bus.installView(partition: 0, group: [1, 2], joined: [])
        bus.drain()
        #expect(bus.cores[1]!.waitState == .quorum && bus.started.isEmpty)
        bus.feedAllQuorum()
        bus.drain()
        #expect(bus.runTargets() == [3])
    }

    @Test("methods are tried in order; the attempts and their stderr reach every member")
    func methodsInOrder() {
        var bus = Self.formed(3, settings: FenceBus.settings(3, methods: 2))
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        bus.finishAgents { _, run in run.method == "1" ? .failed(exitCode: 1) : .success }
        for n in [1, 2] {
            #expect(bus.logs[n]!.contains { $0.text == "fence n3 method 1 device pdu1 agent fence_pdu1 result: error from agent (exit 1): no route to host" })
            #expect(bus.resolutions[n]?.first?.method == "2")
        }
        #expect(bus.started.map(\.run.method) == ["1", "2"])
    }

    @Test("every device of a method must succeed")
    func allDevicesOfAMethod() {
        var s = FenceBus.settings(3)
        s.nodes[2].methods = [Fence.MethodPlan(name: "power", devices: [Fence.DevicePlan(name: "psu-a", agent: "fence_a"),
                                                                           Fence.DevicePlan(name: "psu-b", agent: "fence_b")]),
                              Fence.MethodPlan(name: "san", devices: [Fence.DevicePlan(name: "switch", agent: "fence_san")])]
        var bus = Self.formed(3, settings: s)
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        bus.finishAgents { _, run in run.agent == "fence_b" ? .timedOut : .success }
        #expect(bus.started.map(\.run.agent) == ["fence_a", "fence_b", "fence_san"])
        #expect(bus.resolutions[2]?.first?.agent == "fence_san")
    }

    @Test("when every method fails the victim is retried with a backoff until fence_ack_manual overrides it")
    func retryThenOverride() {
        var bus = Self.formed()
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        bus.finishAgents { _, _ in .failed(exitCode: 1) }
        #expect(bus.runs.isEmpty && bus.victims(2) == [3])
        #expect(bus.logs[1]!.contains { $0.text.hasPrefix("fence n3 failed; every method failed, retrying in 5 s") })
        bus.advance(.seconds(4))
        #expect(bus.runs.isEmpty)
        bus.advance(.seconds(1))
        #expect(bus.runTargets() == [3])
        bus.finishAgents { _, _ in .failed(exitCode: 1) }
        bus.advance(.seconds(9))
        #expect(bus.runs.isEmpty, "the second wait is 10 s")
        bus.advance(.seconds(1))
        #expect(bus.runTargets() == [3])
        bus.finishAgents { _, _ in .notStarted("no agent fence_pdu1 in /usr/sbin:/sbin") }
        #expect(bus.request(2, .acknowledge(NodeID(3))) == .accepted)
        for n in [1, 2] {
            #expect(bus.victims(n).isEmpty)
            #expect(bus.resolved(n).map(\.1) == [.override])
            #expect(bus.resolutions[n]!.first!.description.contains("fence acknowledged by an operator on node 2"))
        }
        bus.advance(.seconds(120))
        #expect(bus.runs.isEmpty, "nothing is fenced after the override")
        #expect(bus.request(2, .acknowledge(NodeID(3))) == .refused("node n3 is not a victim"))
    }

    @Test("a victim that restarts and rejoins within post_fail_delay is not fenced")
    func cleanRejoinInDelay() throws {
        var s = FenceBus.settings(3)
        s.postFailDelay = .seconds(10)
        var bus = Self.formed(3, settings: s)
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        #expect(bus.cores[1]!.nextDeadline != nil && bus.started.isEmpty)
        bus.advance(.seconds(3))
        bus.start(3)
        bus.partition([[1, 2, 3]])
        bus.join(3)
        #expect(bus.started.isEmpty)
        let r = try #require(bus.resolutions[1]?.first)
        #expect(r.how == .member && r.victim == NodeID(3))
        #expect(bus.resolved(2).map(\.1) == [.member])
        bus.advance(.seconds(30))
        #expect(bus.started.isEmpty && bus.victims(1).isEmpty)
    }

    @Test("a node down that the group reports only after quorumd counts the node again, restarted: the new incarnation is let go, not fenced")
    func nodeDownReportedAfterRestart() throws {
        var s = FenceBus.settings(3)
        s.postFailDelay = .seconds(10)
        var bus = Self.formed(3, settings: s)
        // Node 3 dies and comes back at once: quorumd counts its new incarnation before the group's sync round
        // ends and reports the old fence daemon gone (node down), in a ring the new incarnation is already in.
        bus.crash(3)
        bus.start(3)
        bus.partition([[1, 2, 3]])
        #expect(bus.victims(1) == [3] && bus.victims(2) == [3])
        bus.join(3)
        let r = try #require(bus.resolutions[1]?.first)
        #expect(r.how == .member && r.victim == NodeID(3))
        bus.advance(.seconds(30))
        #expect(bus.started.isEmpty, "the restarted node was fenced for its old incarnation: \(bus.started.map(\.run))")
        #expect(bus.victims(1).isEmpty && bus.victims(2).isEmpty)
    }

    @Test("a victim that comes back without restarting (same incarnation) is fenced after the delay anyway")
    func rejoinWithoutRestartIsFenced() {
        var s = FenceBus.settings(3)
        s.postFailDelay = .seconds(5)
        var bus = Self.formed(3, settings: s)
        bus.partition([[1, 2], [3]])
        // quorumd on 1 and 2 marks node 3 Disallowed; node 3 alone is inquorate.
        bus.quorumHidden = [1: [3], 2: [3], 3: [1, 2]]
        bus.quorumOverride = [3: false]
        bus.partition([[1, 2, 3]])
        #expect(bus.started.isEmpty)
        bus.advance(.seconds(6))
        #expect(bus.runTargets() == [3])
    }

    @Test("post_fail_delay=-1 waits until the victim rejoins")
    func waitForever() {
        var s = FenceBus.settings(3)
        s.postFailDelay = nil
        var bus = Self.formed(3, settings: s)
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        bus.advance(.seconds(3600))
        #expect(bus.started.isEmpty && bus.victims(1) == [3])
        #expect(bus.cores[1]!.nextDeadline == nil)
    }

    @Test("when the master dies mid-fence the next lowest member fences both its victim and the master")
    func masterDiesMidFence() {
        var bus = Self.formed(5, settings: FenceBus.settings(5))
        bus.crash(5)
        bus.partition([[1, 2, 3, 4], [5]])
        #expect(bus.runs.map(\.node) == [1])
        bus.crash(1)
        bus.partition([[2, 3, 4], [1], [5]])
        #expect(bus.cores[2]!.status.master == NodeID(2))
        #expect(bus.runs.map(\.node) == [2])
        bus.finishAgents()
        #expect(Set(bus.resolved(3).map(\.0)) == [1, 5])
        #expect(bus.started.map(\.node) == [1, 2, 2])
        for n in 2...4 { #expect(bus.victims(n).isEmpty) }
    }

    @Test("startup fencing: nodes not in the cluster when the domain forms are fenced after post_join_delay")
    func startupFencing() {
        var bus = FenceBus(nodes: 3)
        bus.quorumOverride = [1: true]
        bus.partitions = [[1], [2], [3]]
        bus.crash(2)
        bus.crash(3)
        bus.feedAllQuorum()
        bus.join(1)
        #expect(bus.victims(1) == [2, 3])
        #expect(bus.cores[1]!.waitState == .fencing)
        bus.advance(.seconds(5))
        #expect(bus.started.isEmpty)
        bus.advance(.seconds(1))
        #expect(bus.runTargets() == [2])
        bus.finishOne()
        #expect(bus.runTargets() == [3], "one victim at a time")
        bus.finishOne()
        #expect(bus.victims(1).isEmpty && bus.cores[1]!.complete)
    }

    @Test("clean_start=1 skips startup fencing")
    func cleanStart() {
        var s = FenceBus.settings(3)
        s.cleanStart = true
        var bus = FenceBus(nodes: 3, settings: s)
        bus.quorumOverride = [1: true]
        bus.partitions = [[1], [2], [3]]
        bus.crash(2)
        bus.crash(3)
        bus.feedAllQuorum()
        bus.join(1)
        bus.advance(.seconds(60))
        #expect(bus.victims(1).isEmpty && bus.started.isEmpty)
    }

    @Test("a node joining a running domain forgets its startup victims when the master completes")
    func joinerClearsStartupVictims() {
        var bus = FenceBus(nodes: 4, settings: FenceBus.settings(4))
        // Node 4 is down; 1..3 formed the domain and fenced it already.
        bus.crash(4)
        bus.partition([[1, 2, 3], [4]])
        bus.join(1, 2, 3)
        bus.advance(.seconds(7))
        bus.finishAgents()
        #expect(bus.victims(1).isEmpty)
        // Node 3 restarts its fence daemon only; its startup view lists node 4 as not a member.
        bus.crash(3)
        bus.partition([[1, 2], [3], [4]])
        bus.finishAgents()
        bus.start(3)
        bus.partition([[1, 2, 3], [4]])
        bus.join(3)
        #expect(bus.victims(3).isEmpty, "the master's complete cleared the startup victim")
        #expect(bus.cores[3]!.complete && bus.cores[3]!.status.master == NodeID(1))
    }

    @Test("unfencing runs the <unfence> devices with action=on before the group is joined")
    func unfenceBeforeJoin() throws {
        var s = FenceBus.settings(2)
        s.nodes[0].unfence = [Fence.DevicePlan(name: "san", agent: "fence_scsi", deviceArguments: [.init("devices", "/dev/sdb")],
                                               nodeArguments: [.init("key", "1")])]
        var bus = FenceBus(nodes: 2, settings: s)
        bus.request(1, .join)
        #expect(!bus.inGroup.contains(1))
        let (_, run) = try #require(bus.runs.first)
        #expect(run.purpose == .unfence && run.stdin == ["key=1", "agent=fence_scsi", "devices=/dev/sdb", "nodename=n1", "action=on"])
        bus.finishAgents()
        #expect(bus.inGroup.contains(1))
        #expect(bus.logs[1]!.contains { $0.text == "unfence n1 success" })
    }

    @Test("a failed unfence keeps the node out of the domain, with a clear reason")
    func unfenceFails() {
        var s = FenceBus.settings(2)
        s.nodes[0].unfence = [Fence.DevicePlan(name: "san", agent: nil, problem: "device \"san\" is not defined in <fencedevices>")]
        var bus = FenceBus(nodes: 2, settings: s)
        bus.request(1, .join)
        #expect(!bus.inGroup.contains(1) && bus.cores[1]!.phase == .outside)
        #expect(bus.joinFailures[1] == ["unfence n1 failed: device san: device \"san\" is not defined in <fencedevices>; not joining the fence domain"])
    }

    @Test("a device that cannot be used fails with a message naming node, method and device; the next method runs")
    func misconfiguredDevice() {
        var s = FenceBus.settings(3, methods: 2)
        s.nodes[2].methods[0].devices[0] = Fence.DevicePlan(name: "ghost", agent: nil, problem: "device \"ghost\" is not defined in <fencedevices>")
        var bus = Self.formed(3, settings: s)
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        #expect(bus.runs.map(\.run.agent) == ["fence_pdu2"])
        #expect(bus.logs[2]!.contains { $0.text == "fence n3 method 1 device ghost agent - result: error: not started: device \"ghost\" is not defined in <fencedevices>" })
    }

    @Test("a node without fence methods cannot be fenced: it stays a victim until acknowledged")
    func noMethods() {
        var s = FenceBus.settings(3)
        s.nodes[2].methods = []
        var bus = Self.formed(3, settings: s)
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        #expect(bus.started.isEmpty && bus.victims(1) == [3])
        #expect(bus.logs[1]!.contains { $0.text == "fence n3: no fence method is configured for it in cluster.conf" })
        bus.request(1, .acknowledge(NodeID(3)))
        #expect(bus.victims(2).isEmpty)
    }

    @Test("a fence daemon that dies on a live node makes it a victim, fenced at once, and asks for its removal from the cluster")
    func processDown() {
        var bus = Self.formed()
        bus.killDaemon(3)
        #expect(bus.victims(1) == [3])
        #expect(bus.removed.map(\.node) == [NodeID(3), NodeID(3)])
        // quorumd still counts node 3 with the same incarnation: it did not restart, so it is fenced.
        #expect(bus.runTargets() == [3])
    }

    @Test("a clean leave is not a failure")
    func cleanLeave() {
        var bus = Self.formed()
        #expect(bus.request(3, .leave) == .accepted)
        #expect(bus.victims(1).isEmpty && bus.cores[3]!.phase == .outside)
        #expect(bus.cores[1]!.status.members == [NodeID(1), NodeID(2)])
        #expect(bus.request(3, .leave) == .refused("not in the fence domain"))
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        #expect(bus.started.isEmpty)
    }

    @Test("a resolution of an old failure does not settle a new failure of the same node")
    func staleResolution() throws {
        var bus = Self.formed()
        bus.crash(3)
        bus.partition([[1, 2], [3]])
        let stale = Fence.Message.victimDone(victim: NodeID(3), incident: Fence.Incident(ringSequence: 1, pid: 999), how: .agent,
                                             agent: "x", method: "1", wallClockSeconds: 0).encode()
        bus.queue.append((0, 1, stale))
        bus.drain()
        #expect(bus.victims(2) == [3])
        #expect(bus.logs[2]!.contains { $0.text.contains("matches no open failure") })
    }

    @Test("undecodable domain messages and messages from non-members are dropped and counted")
    func garbage() {
        var bus = Self.formed()
        bus.queue.append((0, 1, [1, 99, 0]))
        bus.drain()
        bus.apply(2, .delivered(from: Fence.Member(node: NodeID(9), pid: 1), bytes: [1]))
        #expect(bus.cores[2]!.droppedMessages == 2)
        #expect(bus.cores[2]!.victims.isEmpty && bus.cores[2]!.waitState == .none)
    }

    @Test("join needs quorumd's view first, and only once")
    func joinRequests() {
        var core = Fence.StateMachine(nodeID: NodeID(1), pid: 1, settings: FenceBus.settings(1), clock: Fence.WallClockAnchor(instant: .zero, secondsSinceEpoch: 0))
        #expect(core.handle(.request(.join), at: .zero).result == .refused("the cluster's membership is not known yet; is quorumd running?"))
        _ = core.handle(.quorum(quorate: true, ringSequence: 4, members: [Fence.QuorumMember(node: NodeID(1), incarnation: 4)]), at: .zero)
        let out = core.handle(.request(.join), at: .zero)
        #expect(out.result == .accepted && out.effects.contains(.joinGroup))
        #expect(core.handle(.request(.join), at: .zero).result == .refused("already joining the fence domain"))
        #expect(core.handle(.request(.acknowledge(NodeID(2))), at: .zero).result == .refused("not in the fence domain"))
    }

    @Test("mutations are refused by validate()")
    func mutationsRefused() {
        var s = FenceBus.settings(2)
        #expect(s.validate().isEmpty)
        s.mutations = [.ignoreQuorum]
        #expect(s.validate() == ["mutations are for tests only: ignoreQuorum"])
    }

    @Test("only the master runs agents, whatever the order of quorum and view events", arguments: [false, true])
    func onlyMaster(quorumFirst: Bool) {
        var bus = Self.formed(5, settings: FenceBus.settings(5))
        bus.crash(2)
        bus.crash(5)
        bus.partition([[1, 3, 4], [2], [5]], quorumFirst: quorumFirst)
        bus.finishAgents()
        #expect(bus.started.allSatisfy { $0.node == 1 })
        #expect(Set(bus.started.map(\.run.target)) == [NodeID(2), NodeID(5)])
        for n in [1, 3, 4] { #expect(bus.victims(n).isEmpty) }
    }
}

@Suite("Fence domain: partitions that merge")
struct FenceMergeTests {
    @Test("after a merge a side whose quorumd does not count the other's nodes settles without them and fences them")
    func mergedPartitions() {
        var bus = FenceDomainTests.formed(5, settings: FenceBus.settings(5))
        bus.partition([[1, 2], [3, 4, 5]])
        #expect(bus.runTargets() == [1])
        bus.finishOne(.failed(exitCode: 1))  // the device is unreachable; the retry comes after the merge
        // quorumd marks the returning side Disallowed, so only 3, 4, 5 stay quorate.
        bus.quorumHidden = [1: [3, 4, 5], 2: [3, 4, 5], 3: [1, 2], 4: [1, 2], 5: [1, 2]]
        bus.quorumOverride = [1: false, 2: false]
        bus.partition([[1, 2, 3, 4, 5]])
        #expect(bus.cores[3]!.settled && bus.cores[3]!.status.master == NodeID(3))
        #expect(bus.cores[1]!.waitState == .quorum, "the inquorate side never starts")
        #expect(bus.runs.map(\.node) == [3] && bus.runTargets() == [2], "the quorate side's master fences the other side")
        bus.finishAgents()
        bus.advance(.seconds(5))
        bus.finishAgents()
        #expect(bus.victims(3).isEmpty && bus.victims(4).isEmpty)
        #expect(bus.started.allSatisfy { $0.quorate } && bus.started.allSatisfy { $0.node != 1 && $0.node != 2 || $0.run.target.rawValue > 2 })
    }

    @Test("two sides that both hold the domain's state leave each other out when they merge (fenced's rule)")
    func mergedStates() {
        var bus = FenceDomainTests.formed(2, settings: FenceBus.settings(2))
        bus.quorumOverride = [1: true, 2: true]  // two_node: each side alone is quorate
        bus.partition([[1], [2]])
        #expect(Set(bus.runs.map(\.node)) == [1, 2], "both sides race")
        bus.runs = []  // the devices are slow: the link comes back first
        bus.partition([[1, 2]])
        #expect(bus.cores[1]!.disallowed.map(\.node) == [NodeID(2)] && bus.cores[2]!.disallowed.map(\.node) == [NodeID(1)])
        #expect(bus.logs[1]!.contains { $0.text.contains("merged in from another partition with its own domain state") })
        #expect(bus.cores[1]!.status.master == NodeID(1) && bus.cores[2]!.status.master == NodeID(2))
        #expect(bus.cores[1]!.status.listing(allNodes: true).contains("nodeid 2 member -1 victim 1 last fence master 0 how none\n"))
    }
}
