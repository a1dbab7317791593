// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterTypes
import Foundation
import ResourceAgents
import ResourceCore
import Testing
import TestSupportKit

@Suite("rg_test on bad input and real runs")
struct RGTestToolTests {
    func rgTest(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run(TestBinaries.path("rg_test"), args, timeout: .seconds(120))
    }

    func conf(_ rm: String) -> String {
        """
        <?xml version="1.0"?>
        <cluster name="t" config_version="1">
          <clusternodes>
            <clusternode name="n1" nodeid="1"/>
            <clusternode name="n2" nodeid="2"/>
          </clusternodes>
          <rm>
        \(rm)
          </rm>
        </cluster>
        """
    }

    @Test("a missing ref, an uninstalled agent and a forbidden child are reported FILE:LINE; the good service still prints")
    func badInput() throws {
        let dir = try makeTemporaryDirectory("rm-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cluster.conf"
        try Agents.write(conf("""
            <resources><script name="s1" file="/bin/true"/></resources>
            <service name="good"><script ref="s1"/></service>
            <service name="dangling"><script ref="s2"/></service>
            <service name="alien"><frobnicate name="x"/></service>
            <service name="nested"><ip address="10.1.1.1/24"><nfsclient name="c" target="*"/></ip></service>
        """), to: path)
        let r = try rgTest(["test", "--agents", Agents.shipped, path])
        #expect(r.status == 78)
        #expect(r.stderr.contains("\(path):10: service \"dangling\": <script ref=\"s2\"> refers to a resource that is not defined in <resources>"), "\(r.stderr)")
        #expect(r.stderr.contains("\(path):11: service \"alien\": <frobnicate>: no resource agent handles this type (is it installed?)"))
        #expect(r.stderr.contains("\(path):12: service \"nested\": <nfsclient> may not be nested in <ip>"))
        #expect(r.stdout.contains("service {\n  name = \"good\";"))
        #expect(!r.stdout.contains("\"dangling\""))
        let run = try rgTest(["noop", "--agents", Agents.shipped, path, "start", "service", "alien"])
        #expect(run.status == 1 && run.stderr.contains("service \"alien\" has errors"))
    }

    @Test("test CONF start runs the agents in order; a hanging agent fails the start by its timeout and stop goes on")
    func realRun() throws {
        let dir = try makeTemporaryDirectory("rm-run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let agents = try Agents.scratch([
            "step.sh": Agents.metadata("step", parameters: ["name", "log"]) + "echo \"$1 $OCF_RESKEY_name\" >> \"$OCF_RESKEY_log\"\n",
            "slow.sh": Agents.metadata("slow", parameters: ["name"], timeout: 1) + "[ \"$1\" = start ] && sleep 30\nexit 0\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: agents) }
        let log = dir + "/log"
        let path = dir + "/cluster.conf"
        try Agents.write(conf("""
            <service name="ok"><step name="a" log="\(log)"><step name="b" log="\(log)"/></step><step name="c" log="\(log)"/></service>
            <service name="hangs"><step name="x" log="\(log)"/><slow name="z"/><step name="y" log="\(log)"/></service>
        """), to: path)
        let start = try rgTest(["test", "--agents", agents, path, "start", "service", "ok"])
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout == "Running in test mode.\nStarting ok...\n[start] service:ok\n[start] step:a\n[start] step:b\n[start] step:c\nStart of ok complete\n")
        let stop = try rgTest(["test", "--agents", agents, path, "stop", "service", "ok"])
        #expect(stop.status == 0)
        #expect(Agents.read(log) == "start a\nstart b\nstart c\nstop c\nstop b\nstop a\n")
        try Agents.write("", to: log)
        let hang = try rgTest(["test", "--agents", agents, path, "start", "service", "hangs"])
        #expect(hang.status == 1)
        #expect(hang.stderr.contains("[start] slow:z failed: timed out"))
        #expect(hang.stderr.contains("Failed to start hangs"))
        #expect(Agents.read(log) == "start x\n", "a failed start stops the walk")
    }

    @Test("an OCF agent used directly by its tag (ocf.heartbeat.Dummy) parses, orders after typed children, and runs")
    func directOCFTag() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/lib/ocf/resource.d/heartbeat/Dummy"),
                     "Debian's resource-agents must be installed (tools/deps installs it)")
        let dir = try makeTemporaryDirectory("rm-ocf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cluster.conf"
        try Agents.write(conf("""
            <service name="cache">
              <ocf.heartbeat.Dummy name="marker" state="\(dir)/marker.state"/>
              <script name="s" file="/bin/true"/>
            </service>
        """), to: path)
        let noop = try rgTest(["noop", "--agents", Agents.shipped, path, "start", "service", "cache"])
        #expect(noop.status == 0, "\(noop.stderr)")
        #expect(noop.stdout.contains("[start] service:cache\n[start] script:s\n[start] ocf.heartbeat.Dummy:marker\n"))
        let start = try rgTest(["test", "--agents", Agents.shipped, path, "start", "service", "cache"])
        #expect(start.status == 0, "\(start.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/marker.state"))
        let status = try rgTest(["test", "--agents", Agents.shipped, path, "status", "service", "cache"])
        #expect(status.status == 0, "\(status.stderr)")
        let stop = try rgTest(["test", "--agents", Agents.shipped, path, "stop", "service", "cache"])
        #expect(stop.status == 0 && !FileManager.default.fileExists(atPath: dir + "/marker.state"))
    }

    @Test("rules lists every rule; delta shows added, removed and changed resources")
    func rulesAndDelta() throws {
        let rules = try rgTest(["rules", "--agents", Agents.shipped])
        #expect(rules.status == 0)
        #expect(rules.stdout.contains("Resource Rules for \"ip\"\n  Agent: \(Agents.shipped)/ip.sh\n  Max instances: 1\n"))
        #expect(rules.stdout.contains("    nfslock [inherit(\"service%nfslock\")]"))
        let dir = try makeTemporaryDirectory("rm-delta")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = Agents.read(Agents.examples + "/postgres-drbd.conf")
        let new = old.replacingOccurrences(of: "monitor_link=\"1\"", with: "monitor_link=\"0\"")
            .replacingOccurrences(of: "<service name=\"dbms\">", with: "<service name=\"dbms\"><script name=\"extra\" file=\"/bin/true\"/>")
        try Agents.write(new, to: dir + "/new.conf")
        let delta = try rgTest(["delta", "--agents", Agents.shipped, Agents.examples + "/postgres-drbd.conf", dir + "/new.conf"])
        #expect(delta.status == 0, "\(delta.stderr)")
        #expect(delta.stdout == """
        service:database changed
          ~ service:database/service:dbnode/ip:10.80.4.200/22: monitor_link "1" -> "0"
          + service:database/service:dbms/script:extra

        """)
    }
}

@Suite("Settings from cluster.conf")
struct SettingsFromConfigTests {
    @Test("the webserver example: nodes, its failover domain with ids, the service's options and status checks")
    func webserver() throws {
        let loaded = ConfigLoader.load(path: Agents.examples + "/webserver.conf")
        let config = try #require(loaded.valid)
        let (rules, failures) = RuleLoader(runner: Agents.runner).load()
        #expect(failures.isEmpty)
        var builder = ResourceManager.TreeBuilder(rules: rules, file: "webserver.conf")
        let forest = builder.build(try #require(config.resourceManager))
        let s = ResourceManager.Settings(configuration: config, nodeID: NodeID(2), forest: forest, rules: rules)
        #expect(s.configuredNodes == [NodeID(1), NodeID(2), NodeID(3)])
        let www = try #require(s.services.first)
        #expect(www.name == "www" && www.autostart && www.recovery == .restart)
        let d = try #require(www.domain)
        #expect(d.name == "www-domain" && !d.ordered && !d.restricted && d.noFailback)
        #expect(d.members.map(\.node) == [NodeID(1), NodeID(2)])
        // ip (20 s, 60 s at depth 10), fs (60 s, 30 s d10, 60 s d20), script (30 s), service (1 h).
        #expect(www.checks.count == 7)
        #expect(www.checks.contains { $0.depth == 20 && $0.interval == .seconds(60) })
    }
}
