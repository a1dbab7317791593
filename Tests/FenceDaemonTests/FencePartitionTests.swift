// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// `tools/localcluster partition` and `heal` need root and a working iptables; nil when both are there, else why not.
private let partitionUnavailable: String? = {
    if getuid() != 0 { return "not root: tools/localcluster partition changes iptables rules" }
    guard let iptables = ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else { return "iptables is not installed" }
    guard let probe = try? ChildProcess.run(iptables, ["-n", "-L", "INPUT"], timeout: .seconds(20)), probe.status == 0 else {
        return "iptables does not work here (no CAP_NET_ADMIN?)"
    }
    return nil
}()

/// A node cut off by the network, not killed: its daemons keep running until the majority fences it.
extension FenceDaemonTests {
    @Test("node 3 cut off by iptables (tools/localcluster partition), its daemons running: the majority fences it with fence_localcluster, which SIGKILLs them; fence_tool ls shows no victim, cman_tool nodes -f the fence; healed and restarted, node 3 rejoins and is not fenced again",
          .enabled(if: partitionUnavailable == nil, "skipped: \(partitionUnavailable ?? ""); it needs root and iptables"))
    func partitionedNodeIsFenced() throws {
        let c = try FenceCluster(nodes: 3)
        try c.startAll()
        let tool = TestBinaries.repositoryRoot + "/tools/localcluster"
        let env = ["LOCALCLUSTER_DIR": c.directory]
        func localcluster(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try ChildProcess.run(tool, arguments, environment: env, timeout: .seconds(30))
        }
        // The rules go whatever happens below; the cluster's processes are killed when `c` is dropped.
        defer { _ = try? localcluster(["heal"]) }
        let node3 = [c.cluster.processes[3]].compactMap { $0 } + (c.cluster.upper[3]?.values.map { $0 } ?? [])
        #expect(node3.count == 4 && node3.allSatisfy(\.isRunning))
        let before = UInt64(time(nil))

        let cut = try localcluster(["partition", "1,2", "3"])
        #expect(cut.status == 0 && cut.stdout.contains("partitioned: 1,2 | 3"), "\(cut)")
        try #require(cut.status == 0)

        // The majority (quorate) fences node 3; node 3 alone is not quorate and fences nobody.
        for k in 1...2 {
            try c.waitDomain(k, "node 3 fenced by the majority") { d in
                d.victimCount == 0 && d.members.map(\.rawValue) == [1, 2] && d.nodes.contains { $0.node.rawValue == 3 && $0.lastFenceHow == .agent }
            }
        }
        let runs = c.runs(.localcluster)
        #expect(runs.count == 1 && runs.first?.first == "port=3" && runs.first?.contains("action=off") == true, "\(runs)")
        // fence_localcluster SIGKILLed every daemon of node 3: none exited by itself.
        for p in node3 {
            _ = try p.wait(timeout: .seconds(10))
            #expect(p.process.terminationReason == .uncaughtSignal && p.process.terminationStatus == SIGKILL, "\(p.commandLine): \(p.stderr)")
        }

        let ls = try c.tool(1, "fence_tool", ["ls"])
        #expect(ls.status == 0 && ls.stdout.contains("member count  2\nvictim count  0\nvictim now    0\n") && ls.stdout.contains("members       1 2 \n"),
                "\(ls)")
        let nodes = try c.tool(1, "cman_tool", ["nodes", "-f"])
        let lines = nodes.stdout.split(separator: "\n").map(String.init)
        let at = lines.firstIndex { $0.hasSuffix("127.0.0.3") }
        #expect(nodes.status == 0 && at.map { lines.indices.contains($0 + 1) && lines[$0 + 1].contains("Last fenced:") } == true
                    && nodes.stdout.contains("by \(c.directory)/agent-localcluster"), "\(nodes)")
        let record = try #require(c.domain(1)?.nodes.first { $0.node.rawValue == 3 })
        #expect(record.lastFenceTime >= before, "\(record), cut off at \(before)")

        // Healed and restarted (a new incarnation), node 3 rejoins the cluster and the domain; nobody fences it again.
        let healed = try localcluster(["heal"])
        #expect(healed.status == 0 && healed.stdout.contains("healed"), "\(healed)")
        try c.cluster.start(3)
        try c.cluster.waitForQuorum([1, 2, 3], timeout: .seconds(45)) { $0.nodes == 3 && $0.quorate }
        for k in 1...3 {
            try c.waitDomain(k, "node 3 back in the domain") { $0.members.map(\.rawValue) == [1, 2, 3] && $0.waitState == "none" }
        }
        usleep(2_000_000)
        #expect(c.runs(.localcluster).count == 1 && c.domain(1)?.victimCount == 0, "\(c.logs())")
        #expect(c.cluster.processes[3]?.isRunning == true && c.cluster.upper[3]?.values.allSatisfy(\.isRunning) == true, "\(c.logs())")
    }
}
