// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// fenced under a stand-in for systemd: READY once it serves, STATUS as the domain changes, the watchdog from its
/// loop, SIGHUP reloads (a broken file is refused), STOPPING and exit 0 after SIGTERM's clean leave.
extension FenceDaemonTests {
    @Test("READY with the domain's status, WATCHDOG pings, SIGHUP applies a new file and refuses a broken one, SIGTERM: STOPPING and exit 0")
    func lifecycle() throws {
        let c = try FenceCluster(nodes: 1)
        c.cluster.upperDaemons = ["quorumd", "groupd"]
        try c.cluster.startAll()
        try c.cluster.waitForQuorum([1]) { $0.quorate }
        let socket = try NotifySocket(directory: c.directory)
        try c.cluster.start(1, "fenced", environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "300000"])
        let messages = socket.receive(timeout: .seconds(30)) { m in
            m.contains { $0.contains("READY=1") } && m.filter { $0.contains("WATCHDOG=1") }.count >= 2
                && m.contains { $0.contains("STATUS=fence domain member: 1 member(s), master 1, no victims, wait state none") }
        }
        #expect(messages.contains { $0.contains("READY=1") }, "\(messages)")
        #expect(messages.filter { $0.contains("WATCHDOG=1") }.count >= 2, "\(messages)")
        #expect(messages.contains { $0.contains("STATUS=fence domain member: 1 member(s), master 1, no victims, wait state none") }, "\(messages)")

        // A new configuration on SIGHUP reaches the core; a broken one is refused and the running one kept.
        let fenced = try #require(c.cluster.upper[1]?["fenced"])
        var conf = try String(contentsOfFile: c.cluster.configPath, encoding: .utf8)
        conf = conf.replacingOccurrences(of: "config_version=\"1\"", with: "config_version=\"2\"")
        try conf.write(toFile: c.cluster.configPath, atomically: true, encoding: .utf8)
        fenced.signal(SIGHUP)
        try c.waitUntil("the new settings applied") { c.fencedLog(1).contains("fence settings from configuration version 2") }
        try "<cluster name=\"broken\"".write(toFile: c.cluster.configPath, atomically: true, encoding: .utf8)
        fenced.signal(SIGHUP)
        try c.waitUntil("the broken file refused") { c.fencedLog(1).contains("is not valid; keeping the running configuration (version 2)") }
        #expect(c.domain(1)?.phase == "member")

        fenced.signal(SIGTERM)
        let stopping = socket.receive(timeout: .seconds(15)) { m in m.contains { $0.contains("STOPPING=1") } }
        #expect(stopping.contains { $0.contains("STOPPING=1") }, "\(stopping)")
        #expect(try fenced.wait(timeout: .seconds(15)) == 0)
    }
}
