// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPC
import ClusterIPCProtocol
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// What happens when fencing does not simply work: agents that fail or are missing, the operator's override, a node
/// fenced by hand, and clients that misbehave.
extension FenceDaemonTests {
    @Test("every method fails (a missing agent, then one that cannot connect): retried with a backoff, logged with stderr; fence_ack_manual settles it")
    func failingAgentsAndOverride() throws {
        let c = try FenceCluster(nodes: 3, methods: { k in
            "<method name=\"first\"><device name=\"missing\" port=\"\(k)\"/></method>"
                + "<method name=\"second\"><device name=\"agent-failing\" port=\"\(k)\"/></method>"
        })
        try c.startAll()
        let subscriber = try FenceSubscriber(c, node: 1)
        c.cluster.kill(3)
        // Two passes over both methods: the second 5 s after the first.
        try c.waitUntil("two failed passes", timeout: .seconds(40)) { c.runs(.failing).count >= 2 }
        let log = c.fencedLog(2)
        #expect(log.contains("fence 127.0.0.3 method first device missing agent fence_no_such_agent result: error: not started: fence 127.0.0.3 method first device missing: agent fence_no_such_agent not found (looked in"),
                "\(c.logs())")
        #expect(log.contains("fence 127.0.0.3 method second device agent-failing agent \(c.directory)/agent-failing result: error from agent (exit 1): Unable to connect/login to fencing device"),
                "\(c.logs())")
        // The master (whichever survivor it is) says when it tries again.
        #expect((1...2).contains { c.fencedLog($0).contains("fence 127.0.0.3 failed; every method failed, retrying in 5 s (fence_ack_manual 127.0.0.3 overrides)") },
                "\(c.logs())")
        let waiting = try #require(c.domain(2))
        #expect(waiting.victimCount == 1 && waiting.nodes.contains { $0.node.rawValue == 3 && $0.victim }, "\(waiting)")

        // The operator's override: bad names and non-victims are refused with a clear error, the victim is settled.
        let unknown = try c.tool(2, "fence_ack_manual", ["no-such-node"])
        #expect(unknown.status == 64 && unknown.stderr.contains("no node \"no-such-node\""), "\(unknown)")
        let notVictim = try c.tool(2, "fence_ack_manual", ["127.0.0.1"])
        #expect(notVictim.status == 1 && notVictim.stderr.contains("is not a victim"), "\(notVictim)")
        let ack = try c.tool(2, "fence_ack_manual", ["127.0.0.3"])
        #expect(ack.status == 0 && ack.stdout.contains("acknowledged"), "\(ack)")
        for k in 1...2 {
            try c.waitDomain(k, "node 3 settled by override") { d in
                d.victimCount == 0 && d.nodes.contains { $0.node.rawValue == 3 && $0.lastFenceHow == .override && $0.lastFenceMaster.rawValue == 2 }
            }
        }
        #expect(c.fencedLog(1).contains("fence 127.0.0.3 overridden by administrator intervention"))
        let event = try subscriber.wait { if case .fenced(let o) = $0 { o.node.rawValue == 3 } else { false } }
        if case .fenced(let o) = event { #expect(o.how == .override && o.text.contains("acknowledged by an operator"), "\(o)") }
        let nodes = try c.tool(1, "cman_tool", ["nodes", "-f"])
        #expect(nodes.stdout.contains("by fence_ack_manual"), "\(nodes)")
        // No more attempts once settled.
        let attempts = c.runs(.failing).count
        usleep(6_000_000)
        #expect(c.runs(.failing).count == attempts, "\(c.logs())")
    }

    @Test("fence_node tells a running fenced: a victim waiting (post_fail_delay -1) is settled as fenced outside the domain")
    func fenceNodeTellsFenced() throws {
        let c = try FenceCluster(nodes: 3, fenceDaemon: "clean_start=\"1\" post_fail_delay=\"-1\"", methods: { k in
            "<method name=\"power\"><device name=\"agent-succeeding\" port=\"\(k)\"/></method>"
        })
        try c.startAll()
        c.cluster.kill(3)
        try c.waitDomain(1, "node 3 a victim, waiting") { $0.victimCount == 1 && $0.members.count == 2 }
        usleep(1_000_000)
        #expect(c.runs(.succeeding).isEmpty, "post_fail_delay -1: the domain waits for the node or an operator")
        let r = try c.tool(2, "fence_node", ["-v", "127.0.0.3"])
        #expect(r.status == 0 && r.stdout.contains("fence 127.0.0.3 success") && r.stdout.contains("told fenced"), "\(r)")
        for k in 1...2 {
            try c.waitDomain(k, "node 3 settled as external") { d in
                d.victimCount == 0 && d.nodes.contains { $0.node.rawValue == 3 && $0.lastFenceHow == .external }
            }
        }
        #expect(c.runs(.succeeding).count == 1, "fence_node's run only")
        #expect(c.fencedLog(1).contains("fence 127.0.0.3 done outside the domain by \(c.directory)/agent-succeeding"), "\(c.logs())")
        let nodes = try c.tool(1, "cman_tool", ["nodes", "-f"])
        #expect(nodes.stdout.contains("by \(c.directory)/agent-succeeding"), "\(nodes)")
    }

    @Test("bad requests: an unknown action, -n without ls, a garbled IPC request, clients that hang up; fenced goes on")
    func badRequests() throws {
        let c = try FenceCluster(nodes: 1)
        let absent = try c.tool(1, "fence_tool", ["ls"])
        #expect(absent.status == 69 && absent.stderr.contains("fenced is not running"), "\(absent)")
        try c.startAll()
        let unknown = try c.tool(1, "fence_tool", ["frobnicate"])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown action \"frobnicate\""), "\(unknown)")
        let misplaced = try c.tool(1, "fence_tool", ["dump", "-n"])
        #expect(misplaced.status == 64 && misplaced.stderr.contains("-n goes with ls"), "\(misplaced)")
        let twice = try c.tool(1, "fence_tool", ["join"])
        #expect(twice.status == 1 && twice.stderr.contains("already a member of the fence domain"), "\(twice)")
        // Requests the protocol does not have, and clients that subscribe and vanish, or hang up mid-call.
        let raw = try FenceClient(instance: c.cluster.instance(1))
        try raw.subscribe()
        raw.close()
        for _ in 0..<5 {
            let hangUp = try FenceClient(instance: c.cluster.instance(1), admin: true)
            hangUp.close()
        }
        let ipc = try IPCClient(service: c.cluster.instance(1).ipcName("fenced"))
        let reply = try ipc.call(messageID: 99, body: [1, 2, 3])
        #expect(reply.status == .invalidRequest, "\(reply)")
        if case .refused(let why)? = try? FenceIPC.Response.decode(messageID: reply.messageID, body: reply.body) {
            #expect(why.contains("invalid request 99"), "\(why)")
        } else {
            Issue.record("no refusal for an unknown request: \(reply)")
        }
        // An admin call on the unprivileged service is refused, naming the admin service.
        let wrongService = try ipc.call(messageID: FenceIPC.Request.join.messageID, body: [])
        #expect(wrongService.status == .permissionDenied, "\(wrongService)")
        ipc.disconnect()
        let after = try c.tool(1, "fence_tool", ["ls"])
        #expect(after.status == 0 && after.stdout.contains("member count  1"), "\(after)")
        #expect(c.cluster.upper[1]?["fenced"]?.isRunning == true)
    }
}
