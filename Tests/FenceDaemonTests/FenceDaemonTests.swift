// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// fenced as real processes on a loopback cluster (totemd, quorumd, groupd and fenced per node, 127.0.0.K), with
/// fence agents that record what they were asked. Serialized: each test runs its own cluster, and several at once
/// would starve each other on a small machine.
@Suite("fenced on loopback", .serialized)
struct FenceDaemonTests {
    @Test("three nodes form the domain by themselves; ls, ls -n, --json and dump; a clean leave and join; SIGTERM leaves, nobody is fenced; cman_tool leave waits for the domain")
    func domain() throws {
        let c = try FenceCluster(nodes: 3)
        try c.startAll()
        // The master is the lowest node holding the domain's state: the first to form it, until the next view.
        let master = try #require(c.domain(2)?.master.rawValue)
        #expect((1...3).contains(master))
        let ls = try c.tool(2, "fence_tool", ["ls"])
        #expect(ls.status == 0)
        #expect(ls.stdout == "fence domain\nmember count  3\nvictim count  0\nvictim now    0\nmaster nodeid \(master)\nwait state    none\nmembers       1 2 3 \n\n",
                "\(ls)")
        let n = try c.tool(3, "fence_tool", ["ls", "-n"])
        #expect(n.stdout.contains("nodeid 2 member 1 victim 0 last fence master 0 how none"), "\(n)")
        let json = try c.tool(1, "fence_tool", ["ls", "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["member_count"] as? Int == 3 && object?["master_nodeid"] as? Int == Int(master) && object?["wait_state"] as? String == "none",
                "\(json)")
        let services = try c.tool(1, "cman_tool", ["services"])
        #expect(services.stdout.contains("fence") && services.stdout.contains("default"), "\(services)")
        let dump = try c.tool(1, "fence_tool", ["dump"])
        #expect(dump.status == 0 && dump.stdout.contains("joining the fence domain"), "\(dump)")

        // A clean leave and a join again, waiting for each.
        let leave = try c.tool(2, "fence_tool", ["leave", "-w", "-t", "30"])
        #expect(leave.status == 0, "\(leave)")
        try c.waitDomain(1, "two members, no victim") { $0.members.count == 2 && $0.victimCount == 0 }
        #expect(c.domain(2)?.phase == "outside")
        let join = try c.tool(2, "fence_tool", ["join", "-w", "-t", "30"])
        #expect(join.status == 0, "\(join)")
        try c.waitDomain(1, "three members again") { $0.members.count == 3 && $0.waitState == "none" }

        // SIGTERM: fenced leaves cleanly and exits 0; the others are left without a victim.
        let fenced3 = try #require(c.cluster.upper[3]?["fenced"])
        fenced3.signal(SIGTERM)
        #expect(try fenced3.wait(timeout: .seconds(15)) == 0)
        try c.waitDomain(1, "two members after node 3's fenced stopped") { $0.members.map(\.rawValue) == [1, 2] }
        usleep(500_000)
        #expect(c.domain(1)?.victimCount == 0 && c.runs(.localcluster).isEmpty, "\(c.logs())")
        #expect(c.fencedLog(3).contains("left the fence domain"))

        // A domain member refuses quorumd's staged shutdown (cman_tool leave) until it has left the domain.
        let refused = try c.tool(1, "cman_tool", ["leave"])
        #expect(refused.status != 0 && (refused.stderr + refused.stdout).contains("fenced"), "\(refused)")
        #expect(c.fencedLog(1).contains("no: this node is in the fence domain (member); fence_tool leave first"), "\(c.logs())")
        #expect(try c.tool(1, "fence_tool", ["leave", "-w"]).status == 0)
        let left = try c.tool(1, "cman_tool", ["leave"])
        #expect(left.status == 0, "\(left)")
    }

    @Test("SIGKILL of node 3: the master runs the agent, every member learns node 3 is fenced, a subscriber is told, cman_tool nodes -f shows it; node 3 restarts, is unfenced, and is not fenced again")
    func killedNodeIsFenced() throws {
        let c = try FenceCluster(nodes: 3, unfence: { k in "<device name=\"agent-succeeding\" port=\"\(k)\" action=\"on\"/>" })
        try c.startAll()
        // Each node ran its <unfence> device (action on) before it joined.
        #expect(Set(c.runs(.succeeding).compactMap { $0.first }) == ["port=1", "port=2", "port=3"], "\(c.runs(.succeeding))")
        #expect(c.runs(.succeeding).allSatisfy { $0.contains("action=on") && !$0.contains("action=off") })
        #expect(c.fencedLog(3).contains("unfence 127.0.0.3 success"))
        let subscriber = try FenceSubscriber(c, node: 2)
        let before = UInt64(time(nil))
        c.cluster.kill(3)
        for k in 1...2 {
            try c.waitDomain(k, "node 3 fenced") { d in
                d.victimCount == 0 && d.members.count == 2 && d.nodes.contains { $0.node.rawValue == 3 && $0.lastFenceHow == .agent }
            }
        }
        // Exactly one run, by the master (node 1 or 2: the lower that held the domain's state), with the fence-agents
        // stdin protocol; the other survivor deferred to it.
        let record = try #require(c.domain(2)?.nodes.first { $0.node.rawValue == 3 })
        let master = Int(record.lastFenceMaster.rawValue), other = 3 - master
        #expect(master == 1 || master == 2, "\(record)")
        let runs = c.runs(.localcluster)
        #expect(runs.count == 1, "\(runs)")
        #expect(runs.first == ["port=3", "agent=\(c.directory)/agent-localcluster", "localcluster_dir=\(c.directory)", "nodename=127.0.0.3",
                               "action=off"], "\(runs)")
        #expect(c.fencedLog(master).contains("fencing node 127.0.0.3") && c.fencedLog(master).contains("fence 127.0.0.3 success"), "\(c.logs())")
        #expect(c.fencedLog(other).contains("fencing of node 127.0.0.3 deferred to 127.0.0.\(master)") && c.fencedLog(other).contains("fence 127.0.0.3 success"),
                "\(c.logs())")
        #expect(!c.fencedLog(other).contains("fencing node 127.0.0.3"))
        #expect(record.lastFenceTime >= before && record.lastFenceAgent.hasSuffix("agent-localcluster"), "\(record), killed at \(before)")

        // The subscriber heard of the victim, then of its fate.
        _ = try subscriber.wait { if case .victim(let n) = $0 { n.rawValue == 3 } else { false } }
        let fenced = try subscriber.wait { if case .fenced(let o) = $0 { o.node.rawValue == 3 } else { false } }
        if case .fenced(let o) = fenced {
            #expect(o.how == .agent && o.by.rawValue == UInt32(master) && o.text.hasPrefix("node 127.0.0.3 fenced at "), "\(o)")
        }

        // quorumd recorded the fence: cman_tool nodes -f, as cman showed it.
        let nodes = try c.tool(2, "cman_tool", ["nodes", "-f"])
        #expect(nodes.status == 0 && nodes.stdout.contains("Last fenced:") && nodes.stdout.contains("by \(c.directory)/agent-localcluster"), "\(nodes)")
        let json = try c.tool(1, "cman_tool", ["nodes", "-f", "--json"])
        #expect(json.stdout.contains("\"last_fenced_agent\""), "\(json)")

        // Node 3 restarts and rejoins: it unfences itself first, and nobody fences it again.
        try c.cluster.start(3)
        try c.waitDomain(1, "node 3 back in the domain") { $0.members.count == 3 && $0.waitState == "none" }
        usleep(1_000_000)
        #expect(c.runs(.localcluster).count == 1 && c.domain(1)?.victimCount == 0, "\(c.logs())")
        #expect(c.runs(.succeeding).filter { $0.first == "port=3" }.count == 2, "\(c.runs(.succeeding))")
    }

    @Test("an inquorate partition does not fence: node 1 alone waits for quorum with its victims")
    func inquorateDoesNotFence() throws {
        let c = try FenceCluster(nodes: 3)
        try c.startAll()
        c.cluster.kill(2)
        c.cluster.kill(3)
        try c.waitDomain(1, "alone, two victims, waiting for quorum") { $0.members.count == 1 && $0.victimCount == 2 && $0.waitState == "quorum" }
        // Give it time to (wrongly) fence: post_fail_delay is 0, so a quorate node would have started at once.
        usleep(4_000_000)
        #expect(c.runs(.localcluster).isEmpty, "\(c.logs())")
        let d = try #require(c.domain(1))
        #expect(d.victimCount == 2 && d.waitState == "quorum" && d.victimNow.rawValue == 0, "\(d)")
        #expect(c.cluster.cmanStatus(1)?.quorate == false)
    }

    @Test("quorumd SIGKILLed on node 3: its fenced leaves the domain cleanly and exits 1; node 3 is neither removed nor fenced; restarted, both are back")
    func quorumdLost() throws {
        let c = try FenceCluster(nodes: 3)
        try c.startAll()
        let fenced3 = try #require(c.cluster.upper[3]?["fenced"])
        c.cluster.upper[3]?["quorumd"]?.signal(SIGKILL)
        // A failure for systemd (which restarts fenced with quorumd), but a clean leave for the domain.
        #expect(try fenced3.wait(timeout: .seconds(15)) == 1, "\(c.logs())")
        #expect(c.fencedLog(3).contains("lost quorumd") && c.fencedLog(3).contains("left the fence domain"), "\(c.fencedLog(3))")
        try c.waitDomain(1, "node 3 gone from the domain without becoming a victim") { d in
            d.members.map(\.rawValue) == [1, 2] && d.victimCount == 0
        }
        // Had its fence daemon died instead, the others would remove node 3 from the cluster and fence it.
        usleep(1_000_000)
        #expect(c.runs(.localcluster).isEmpty, "\(c.logs())")
        #expect(!c.fencedLog(1).contains("died; removing") && !c.fencedLog(2).contains("died; removing"), "\(c.logs())")
        #expect(c.cluster.cmanStatus(1)?.nodes == 3)

        try c.cluster.start(3, "quorumd")
        try c.cluster.start(3, "fenced")
        for k in 1...3 {
            try c.waitDomain(k, "whole again") { d in d.members.map(\.rawValue) == [1, 2, 3] && d.victimCount == 0 }
        }
        #expect(c.runs(.localcluster).isEmpty, "\(c.logs())")
    }
}
