// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Foundation
import Testing
import TestSupportKit

/// Methods in order: a first method whose device fails does not settle the victim; the next method's does.
extension FenceDaemonTests {
    @Test("a failing first method falls through to the second: node 3 fenced by the second method's agent, once, on the first pass")
    func failingMethodFallsThrough() throws {
        let c = try FenceCluster(nodes: 3, methods: { k in
            "<method name=\"first\"><device name=\"agent-failing\" port=\"\(k)\"/></method>"
                + "<method name=\"second\"><device name=\"lc\" port=\"\(k)\"/></method>"
        })
        try c.startAll()
        c.cluster.kill(3)
        for k in 1...2 {
            try c.waitDomain(k, "node 3 fenced by its second method") { d in
                d.victimCount == 0 && d.nodes.contains { $0.node.rawValue == 3 && $0.lastFenceHow == .agent }
            }
        }
        // One run of each: the first method failed once, the second succeeded on the same pass (no retry backoff).
        #expect(c.runs(.failing).count == 1 && c.runs(.failing).first?.first == "port=3", "\(c.runs(.failing))")
        #expect(c.runs(.localcluster).count == 1 && c.runs(.localcluster).first?.contains("action=off") == true, "\(c.runs(.localcluster))")
        let record = try #require(c.domain(1)?.nodes.first { $0.node.rawValue == 3 })
        #expect(record.lastFenceAgent.hasSuffix("agent-localcluster"), "\(record)")
        let master = Int(record.lastFenceMaster.rawValue)
        let log = c.fencedLog(master)
        #expect(log.contains("fence 127.0.0.3 method first device agent-failing agent \(c.directory)/agent-failing result: error from agent (exit 1)"),
                "\(c.logs())")
        #expect(log.contains("fence 127.0.0.3 method second device lc agent \(c.directory)/agent-localcluster result: success"), "\(c.logs())")
        #expect(!log.contains("retrying in"), "\(c.logs())")
    }
}
