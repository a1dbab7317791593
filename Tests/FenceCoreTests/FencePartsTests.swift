// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterTypes
import ClusterWire
import FenceCore
import Testing

@Suite("Fence wire messages")
struct FenceMessageTests {
    static let samples: [Fence.Message] = [
        .start(members: [Fence.Member(node: NodeID(1), pid: 10), Fence.Member(node: NodeID(2), pid: 20)], complete: true,
               history: [Fence.HistoryEntry(node: NodeID(3), master: NodeID(1), how: .agent, wallClockSeconds: 1_700_000_000, agent: "fence_ipmilan")]),
        .start(members: [], complete: false, history: []),
        .victimDone(victim: NodeID(3), incident: Fence.Incident(ringSequence: 44, pid: 30), how: .member, agent: "", method: "", wallClockSeconds: 5),
        .attempt(victim: NodeID(3), incident: Fence.Incident(ringSequence: 44, pid: 30), method: "1", device: "pdu", agent: "fence_apc",
                 outcome: .failed(exitCode: 1), stderr: "Unable to connect/login to fencing device", wallClockSeconds: 9),
        .attempt(victim: NodeID(3), incident: Fence.Incident(ringSequence: 1, pid: 0), method: "m", device: "d", agent: "a",
                 outcome: .notStarted("no agent fence_x in /usr/sbin:/sbin"), stderr: "", wallClockSeconds: 9),
        .attempt(victim: NodeID(3), incident: Fence.Incident(ringSequence: 1, pid: 0), method: "m", device: "d", agent: "a",
                 outcome: .killed(signal: 9), stderr: "", wallClockSeconds: 9),
        .attempt(victim: NodeID(3), incident: Fence.Incident(ringSequence: 1, pid: 0), method: "m", device: "d", agent: "a",
                 outcome: .timedOut, stderr: "ü", wallClockSeconds: 9),
        .complete(members: [Fence.Member(node: NodeID(7), pid: 1)]),
        .acknowledge(victim: NodeID(2), wallClockSeconds: 77),
        .external(victim: NodeID(2), agent: "fence_node", wallClockSeconds: 78),
    ]

    @Test("every message round-trips", arguments: samples)
    func roundTrip(_ m: Fence.Message) throws {
        #expect(try Fence.Message.decode(m.encode()) == m)
    }

    @Test("every truncation and any trailing byte is an error, never a trap", arguments: samples)
    func truncations(_ m: Fence.Message) {
        let bytes = m.encode()
        for cut in 0..<bytes.count {
            #expect(throws: WireError.self) { try Fence.Message.decode(Array(bytes[..<cut])) }
        }
        #expect(throws: WireError.self) { try Fence.Message.decode(bytes + [0]) }
    }

    @Test("a hostile count, an unknown type, version or how is refused")
    func hostile() {
        #expect(throws: WireError.self) { try Fence.Message.decode([1, 4, 0xFF, 0xFF, 0xFF, 0xFF]) }
        #expect(throws: WireError.self) { try Fence.Message.decode([1, 200]) }
        #expect(throws: WireError.self) { try Fence.Message.decode([2, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]) }
        var bad = Fence.Message.victimDone(victim: NodeID(1), incident: Fence.Incident(ringSequence: 1, pid: 1), how: .agent, agent: "",
                                           method: "", wallClockSeconds: 0).encode()
        bad[2 + 4 + 8 + 4] = 9
        #expect(throws: WireError.self) { try Fence.Message.decode(bad) }
        // A fuzz loop: random bytes never trap.
        var r = SeededRandom(seed: 11)
        for _ in 0..<2_000 {
            let bytes = (0..<Int(r.next() % 64)).map { _ in UInt8(truncatingIfNeeded: r.next()) }
            _ = try? Fence.Message.decode([1] + bytes)  // only checks that decoding never traps
        }
    }

    @Test("overlong names are cut at a character boundary instead of making an undecodable message")
    func clipped() throws {
        let long = String(repeating: "é", count: 300)
        let m = Fence.Message.external(victim: NodeID(1), agent: long, wallClockSeconds: 0)
        guard case .external(_, let agent, _) = try Fence.Message.decode(m.encode()) else { Issue.record("wrong kind"); return }
        #expect(agent.utf8.count == 256 && agent.allSatisfy { $0 == "é" })
    }
}

@Suite("Fence agent calls")
struct AgentCallTests {
    @Test("stdin: per-node device attributes, agent, the fencedevice's attributes, nodename, then the default action")
    func stdinOrder() {
        let d = Fence.DevicePlan(name: "apc", agent: "fence_apc", deviceArguments: [.init("ipaddr", "pdu1"), .init("login", "apc"), .init("passwd", "s3cret")],
                                 nodeArguments: [.init("port", "4"), .init("switch", "1")])
        let lines = Fence.AgentCall.stdin(device: d, target: "node4", defaultAction: "off")
        #expect(lines == ["port=4", "switch=1", "agent=fence_apc", "ipaddr=pdu1", "login=apc", "passwd=s3cret", "nodename=node4", "action=off"])
        #expect(Fence.AgentCall.masked(lines).contains("passwd=***"))
        #expect(!Fence.AgentCall.masked(lines).contains { $0.contains("s3cret") })
    }

    @Test("a configured action (or its old name option) is passed as given, with no default added")
    func configuredAction() {
        let a = Fence.DevicePlan(name: "x", agent: "fence_x", nodeArguments: [.init("action", "reboot")])
        #expect(Fence.AgentCall.stdin(device: a, target: "n", defaultAction: "off") == ["action=reboot", "agent=fence_x", "nodename=n"])
        let b = Fence.DevicePlan(name: "x", agent: "fence_x", deviceArguments: [.init("option", "enable")])
        #expect(Fence.AgentCall.stdin(device: b, target: "n", defaultAction: "on") == ["agent=fence_x", "option=enable", "nodename=n"])
    }

    @Test("sequence: methods in order, all devices of a method, a method without devices never succeeds")
    func sequence() {
        let plan = Fence.NodePlan(id: NodeID(1), name: "n1", methods: [
            Fence.MethodPlan(name: "empty", devices: []),
            Fence.MethodPlan(name: "power", devices: [Fence.DevicePlan(name: "a", agent: "fa"), Fence.DevicePlan(name: "b", agent: "fb")]),
            Fence.MethodPlan(name: "san", devices: [Fence.DevicePlan(name: "c", agent: "fc")]),
        ])
        var s = Fence.Sequence(plan: plan, purpose: .fence)
        #expect(s.start() == .run(method: 1, device: 0, plan.methods[1].devices[0]))
        #expect(s.record(success: true) == .run(method: 1, device: 1, plan.methods[1].devices[1]))
        #expect(s.record(success: false) == .run(method: 2, device: 0, plan.methods[2].devices[0]))
        #expect(s.record(success: true) == .succeeded(method: "san", agents: ["fc"]))
        #expect(s.finished)
        var f = Fence.Sequence(plan: plan, purpose: .fence)
        _ = f.start()
        _ = f.record(success: false)
        #expect(f.record(success: false) == .failed)
        var none = Fence.Sequence(plan: Fence.NodePlan(id: NodeID(2), name: "n2", methods: [Fence.MethodPlan(name: "e", devices: [])]), purpose: .fence)
        #expect(none.start() == .failed)
        var u = Fence.Sequence(plan: Fence.NodePlan(id: NodeID(2), name: "n2", methods: [], unfence: [Fence.DevicePlan(name: "s", agent: "fs")]), purpose: .unfence)
        #expect(u.start() == .run(method: 0, device: 0, Fence.DevicePlan(name: "s", agent: "fs")))
        #expect(u.record(success: true) == .succeeded(method: "unfence", agents: ["fs"]))
    }

    @Test("plans from cluster.conf: methods, unfence, delays; an unknown device or a line break becomes a problem of that device")
    func settingsFromConfig() throws {
        let xml = """
        <?xml version="1.0"?>
        <cluster name="c" config_version="1">
          <fence_daemon post_join_delay="20" post_fail_delay="-1" clean_start="1" agent_timeout="30"/>
          <clusternodes>
            <clusternode name="a" nodeid="1"><fence><method name="power"><device name="apc" port="1"/></method>
              <method name="2"><device name="nope"/></method></fence>
              <unfence><device name="san" action="on"/></unfence></clusternode>
            <clusternode name="b" nodeid="2"><fence><method><device name="apc" port="2&#10;x"/></method></fence></clusternode>
          </clusternodes>
          <fencedevices><fencedevice name="apc" agent="fence_apc" ipaddr="pdu"/><fencedevice name="san" agent="fence_scsi"/></fencedevices>
        </cluster>
        """
        let loaded = ConfigLoader.load(bytes: Array(xml.utf8), file: "c.conf", useSchema: false)
        let config = try #require(loaded.configuration)
        let s = Fence.Settings(config: config)
        #expect(s.postJoinDelay == .seconds(20) && s.postFailDelay == nil && s.cleanStart && s.agentTimeout == .seconds(30))
        let a = try #require(s.plan(for: NodeID(1)))
        #expect(a.methods.map(\.name) == ["power", "2"])
        #expect(a.methods[0].devices[0] == Fence.DevicePlan(name: "apc", agent: "fence_apc", deviceArguments: [.init("ipaddr", "pdu")],
                                                             nodeArguments: [.init("port", "1")]))
        #expect(a.methods[1].devices[0].problem == "device \"nope\" is not defined in <fencedevices>")
        #expect(a.unfence.map(\.agent) == ["fence_scsi"])
        #expect(s.plan(for: NodeID(2))?.methods[0].devices[0].problem == "attribute \"port\" contains a line break, which the agent protocol cannot carry")
        #expect(loaded.diagnostics.contains { $0.line == 6 && $0.message.contains("uses device \"nope\", which is not defined") })
    }
}

@Suite("fence_tool ls")
struct DomainStatusTests {
    static let status = Fence.DomainStatus(phase: .member, members: [NodeID(1), NodeID(2), NodeID(4)], victimCount: 1, victimNow: NodeID(3),
                                           master: NodeID(1), waitState: .fencing, nodes: [
                                               Fence.NodeStatus(node: NodeID(1), member: true, victim: false),
                                               Fence.NodeStatus(node: NodeID(2), member: true, victim: false, lastFenceMaster: NodeID(1),
                                                                lastFenceHow: .override, lastFenceTime: 5),
                                               Fence.NodeStatus(node: NodeID(3), member: false, victim: true),
                                               Fence.NodeStatus(node: NodeID(4), member: true, victim: false, lastFenceMaster: NodeID(2),
                                                                lastFenceHow: .agent, lastFenceTime: 9),
                                           ])

    @Test("the layout of cluster 3's fence_tool ls")
    func listing() {
        #expect(Self.status.listing() == """
        fence domain
        member count  3
        victim count  1
        victim now    3
        master nodeid 1
        wait state    fencing
        members       1 2 4 \("")


        """)
    }

    @Test("fence_tool ls -n adds every node's last fence")
    func listingAllNodes() {
        #expect(Self.status.listing(allNodes: true) == """
        fence domain
        member count  3
        victim count  1
        victim now    3
        master nodeid 1
        wait state    fencing
        members       1 2 4 \("")
        all nodes
        nodeid 1 member 1 victim 0 last fence master 0 how none
        nodeid 2 member 1 victim 0 last fence master 1 how override
        nodeid 3 member 0 victim 1 last fence master 0 how none
        nodeid 4 member 1 victim 0 last fence master 2 how agent


        """)
    }

    @Test("outside the domain: no members, no master")
    func outside() {
        let core = Fence.StateMachine(nodeID: NodeID(1), pid: 1, settings: FenceBus.settings(2), clock: Fence.WallClockAnchor(instant: .zero, secondsSinceEpoch: 0))
        #expect(core.status.listing() == "fence domain\nmember count  0\nvictim count  0\nvictim now    0\nmaster nodeid 0\nwait state    none\nmembers       \n\n")
    }
}
