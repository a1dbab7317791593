// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// Issue 13's case with the real fence daemon: dlm_controld with fencing on (its default, `-f 1`) keeps a failed
/// node's lockspace stopped until fenced reports the node fenced, then recovers with the survivors.
extension FenceDaemonTests {
    func configfs(_ c: FenceCluster, _ k: Int) -> String { "\(c.directory)/node\(k)/configfs" }
    func sysfs(_ c: FenceCluster, _ k: Int) -> String { "\(c.directory)/node\(k)/sysfs" }
    func lockspaceNodes(_ c: FenceCluster, _ k: Int) -> [String] { ConfigfsTree(root: configfs(c, k) + "/dlm/cluster").items("spaces/ls1/nodes") }
    func control(_ c: FenceCluster, _ k: Int) -> String? { ConfigfsTree(root: sysfs(c, k) + "/dlm").read("ls1/control") }

    @Test("dlm_controld -f 1: node 3 killed, its lockspace stays stopped on the survivors until node 3 is fenced, then restarts with 1 and 2")
    func lockspaceWaitsForFencing() throws {
        let c = try FenceCluster(nodes: 3, methods: { k in "<method name=\"power\"><device name=\"agent-gated\" port=\"\(k)\"/></method>" })
        try c.startAll()
        for k in 1...3 {
            try c.cluster.start(k, "dlm_controld", arguments: ["-C", configfs(c, k), "-S", sysfs(c, k)])  // -f 1 is the default
            try c.waitUntil("dlm_controld on node \(k) answers") { (try? c.tool(k, "dlm_tool", ["nodes"]))?.status == 0 }
        }
        for k in 1...3 { #expect(try c.tool(k, "dlm_tool", ["join", "ls1"]).status == 0) }
        for k in 1...3 { try c.waitUntil("ls1 running with 1 2 3 on node \(k)") { lockspaceNodes(c, k) == ["1", "2", "3"] && control(c, k) == "1" } }

        c.cluster.kill(3)
        // The master's agent is held (it waits for the file `release`): fencing is under way, not done.
        try c.waitUntil("the agent started for node 3") { c.runs(.gated).count == 1 }
        for k in 1...2 {
            try c.waitUntil("ls1 stopped on node \(k), waiting for node 3's fencing") {
                control(c, k) == "0" && (try? c.tool(k, "dlm_tool", ["ls"]))?.stdout.contains("fencing of 3") == true
            }
        }
        // However long the fence takes, the survivors do not recover without it.
        usleep(3_000_000)
        for k in 1...2 {
            #expect(control(c, k) == "0" && lockspaceNodes(c, k) == ["1", "2", "3"], "node \(k) recovered before node 3 was fenced")
        }
        #expect(c.domain(1)?.victimNow.rawValue == 3)

        #expect(FileManager.default.createFile(atPath: "\(c.directory)/release", contents: nil))
        for k in 1...2 {
            try c.waitUntil("ls1 running again with 1 2 on node \(k)") { lockspaceNodes(c, k) == ["1", "2"] && control(c, k) == "1" }
        }
        // In dlm_controld's log, fenced's report comes before the recovery with two.
        let log = c.cluster.upper[1]!["dlm_controld"]!.stderr.split(separator: "\n").map(String.init)
        let fenced = try #require(log.firstIndex { $0.contains("fenced reports node 3 agent") }, "\(log.suffix(20))")
        let recovered = try #require(log.lastIndex { $0.contains("recovered with nodes 1 2") }, "\(log.suffix(20))")
        #expect(fenced < recovered, "\(log.suffix(20))")
    }
}
