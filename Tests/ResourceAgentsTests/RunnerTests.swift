// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Foundation
import ResourceAgents
import ResourceCore
import Testing
import TestSupportKit

@Suite("Agents and the agent runner")
struct RunnerTests {
    func resource(_ type: String, _ attrs: [(String, String?)]) -> ResourceManager.Resource {
        ResourceManager.Resource(type: type, primaryValue: attrs.first?.1 ?? "", attributes: attrs.map { .init($0.0, $0.1) })
    }

    @Test("every shipped agent gives valid metadata; service carries REFERENCE §2's table")
    func shippedRules() throws {
        let (rules, failures) = RuleLoader(runner: Agents.runner).load()
        #expect(failures.isEmpty, "\(failures)")
        for t in ["service", "script", "ip", "fs", "clusterfs", "netfs", "nfsexport", "nfsclient", "nfsserver", "lvm", "smb", "drbd",
                  "postgres-8", "apache", "mysql", "demo"] {
            #expect(rules[t] != nil, "no rule for \(t)")
        }
        let service = try #require(rules["service"])
        #expect(service.children.map { "\($0.type) \($0.startLevel) \($0.stopLevel)" } == [
            "lvm 1 9", "fs 2 8", "clusterfs 3 7", "netfs 4 6", "nfsexport 5 5", "nfsclient 6 4", "ip 7 2", "smb 8 3", "script 9 1",
        ])
        #expect(rules["ip"]?.statusChecks.map(\.depth) == [0, 10])
        #expect(rules["fs"]?.statusChecks.map { $0.interval } == [.seconds(60), .seconds(30), .seconds(60)])
        #expect(rules["script"]?.timeout(for: "start") == ResourceManager.defaultActionTimeout, "timeout 0 means the default")
    }

    @Test("the OCF environment: root, instance, type, provider, check level, every attribute with a value")
    func environment() throws {
        let dir = try Agents.scratch(["envdump.sh": Agents.metadata("envdump") + "env > \"$OCF_RESKEY_out\"\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/env.txt"
        let runner = AgentRunner(locator: AgentLocator(agentDirectory: dir, ocfRoot: "/usr/lib/ocf"))
        let r = resource("envdump", [("name", "web/1"), ("out", out), ("inherited_nothing", nil)])
        let (result, _) = runner.run(AgentCall(resource: r, action: "status", depth: 20, timeout: .seconds(10)))
        #expect(result == .exited(0))
        let env = Set(Agents.read(out).split(separator: "\n").map(String.init))
        for line in ["OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RESOURCE_INSTANCE=envdump_web_1", "OCF_RESOURCE_TYPE=envdump",
                     "OCF_RESOURCE_PROVIDER=rgmanager", "OCF_CHECK_LEVEL=20", "OCF_RESKEY_name=web/1", "OCF_RESKEY_out=\(out)",
                     "OCF_RESKEY_RGMANAGER_meta_timeout=10", "__OCF_ACTION=status"] {
            #expect(env.contains(line), "missing \(line)")
        }
        #expect(!env.contains { $0.hasPrefix("OCF_RESKEY_inherited_nothing") })
    }

    @Test("exit codes map to OCF names; only success (and degraded) counts as success", arguments: [0, 1, 5, 7, 42])
    func exitCodes(code: Int32) throws {
        let dir = try Agents.scratch(["exit.sh": "exit $OCF_RESKEY_code\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let runner = AgentRunner(locator: AgentLocator(agentDirectory: dir))
        let (result, _) = runner.run(AgentCall(resource: resource("exit", [("name", "e"), ("code", String(code))]), action: "start", timeout: .seconds(10)))
        #expect(result == .exited(code))
        #expect(result.succeeded == (code == 0))
        #expect(result.ocf?.rawValue == (code == 42 ? nil : code))
        if code == 7 { #expect(result.description == "OCF_NOT_RUNNING (7)") }
    }

    @Test("a hanging agent is ended at its timeout, even one that ignores SIGTERM, with what it started")
    func hangingAgent() throws {
        let dir = try Agents.scratch(["hang.sh": "trap '' TERM\nsleep 300 &\necho $! > \"$OCF_RESKEY_pidfile\"\nwhile :; do sleep 1; done\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var runner = AgentRunner(locator: AgentLocator(agentDirectory: dir))
        runner.killGrace = .milliseconds(300)
        let pidfile = dir + "/child.pid"
        let started = ContinuousClock.now
        let (result, _) = runner.run(AgentCall(resource: resource("hang", [("name", "h"), ("pidfile", pidfile)]), action: "start", timeout: .milliseconds(500)))
        #expect(result == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(5))
        let child = try #require(Int32(Agents.read(pidfile).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Agents.isGone(child), "the agent's child must be gone with its process group")
    }

    @Test("an agent that is not installed is reported, not run")
    func notInstalled() {
        let (result, _) = Agents.runner.run(AgentCall(resource: resource("no-such-agent", [("name", "x")]), action: "start", timeout: .seconds(5)))
        #expect(result == .notStarted("not installed"))
        let ocf = AgentRunner(locator: AgentLocator(agentDirectory: Agents.shipped))
        let (r2, _) = ocf.run(AgentCall(resource: resource("ocf.nosuchprovider.Thing", [("name", "x")]), action: "monitor", timeout: .seconds(5)))
        #expect(r2 == .notStarted("not installed"))
    }

    @Test("failing or garbled meta-data is reported by type and agent; the other rules load")
    func badMetadata() throws {
        let dir = try Agents.scratch(["failmeta.sh": "exit 1\n", "garbage.sh": "echo 'this is not XML'\n", "hangmeta.sh": "sleep 60\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loader = RuleLoader(runner: AgentRunner(locator: AgentLocator(agentDirectory: dir)))
        let (rules, failures) = loader.load()
        #expect(rules["service"] != nil && rules["ip"] != nil)
        #expect(failures.map(\.type).sorted() == ["failmeta", "garbage", "hangmeta"])
        #expect(failures.first { $0.type == "failmeta" }?.description == "resource type failmeta (\(dir)/failmeta.sh): meta-data failed: OCF_ERR_GENERIC (1)")
        #expect(failures.first { $0.type == "hangmeta" }?.reason == "meta-data failed: timed out")
    }

    @Test("script: runs an LSB init script and maps its status codes (3 is not running)")
    func scriptAgent() throws {
        let dir = try makeTemporaryDirectory("rm-script")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let initScript = dir + "/myd"
        try Agents.writeExecutable("""
        #!/bin/sh
        case "$1" in
          start) touch \(dir)/running ;;
          stop) rm -f \(dir)/running ;;
          status) [ -f \(dir)/running ] && exit 0; exit 3 ;;
        esac
        """, to: initScript)
        let r = resource("script", [("name", "myd"), ("file", initScript)])
        func run(_ a: String) -> AgentResult { Agents.runner.run(AgentCall(resource: r, action: a, timeout: .seconds(10)), output: .capture).result }
        #expect(run("status") == .exited(7))
        #expect(run("start") == .exited(0))
        #expect(run("status") == .exited(0))
        #expect(run("stop") == .exited(0))
        #expect(run("status") == .exited(7))
        let missing = resource("script", [("name", "gone"), ("file", dir + "/nope")])
        #expect(Agents.runner.run(AgentCall(resource: missing, action: "start", timeout: .seconds(5)), output: .capture).result == .exited(5))
        #expect(Agents.runner.run(AgentCall(resource: missing, action: "stop", timeout: .seconds(5)), output: .capture).result == .exited(0))
    }

    @Test("resource-agents' Dummy used directly as ocf.heartbeat.Dummy: monitor uses its own monitor action")
    func directOCF() throws {
        let dummy = "/usr/lib/ocf/resource.d/heartbeat/Dummy"
        try #require(FileManager.default.isExecutableFile(atPath: dummy), "Debian's resource-agents must be installed (tools/deps installs it)")
        let dir = try makeTemporaryDirectory("rm-dummy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loader = RuleLoader(runner: Agents.runner)
        let rule = try loader.loadRule("ocf.heartbeat.Dummy").get()
        #expect(rule.parameters.first == .init("name", primary: true, unique: true, required: true))
        #expect(rule.parameters.allSatisfy { $0.defaultValue == nil }, "OCF defaults are the agent's business")
        #expect(rule.statusChecks.first?.interval == .seconds(10))
        let r = resource("ocf.heartbeat.Dummy", [("name", "d1"), ("state", dir + "/d1.state")])
        func run(_ a: String) -> AgentResult { Agents.runner.run(AgentCall(resource: r, action: a, timeout: .seconds(20)), output: .capture).result }
        #expect(run("status") == .exited(7))
        #expect(run("start") == .exited(0))
        #expect(run("status") == .exited(0))
        #expect(run("stop") == .exited(0))
        #expect(run("status") == .exited(7))
    }

    @Test("the demo agent: start serves the shared directory, depth-10 status fetches through it, stop ends it")
    func demoAgent() throws {
        let data = try makeTemporaryDirectory("rm-demo")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let port = 20_000 + Int(getpid() % 20_000)
        let r = resource("demo", [("name", "web"), ("port", String(port)), ("data_dir", data), ("address", "127.0.0.1"), ("pid_dir", data)])
        func run(_ a: String, depth: Int = 0) -> AgentResult {
            Agents.runner.run(AgentCall(resource: r, action: a, depth: depth, timeout: .seconds(15)), output: .capture).result
        }
        defer { _ = run("stop") }
        #expect(run("status") == .exited(7))
        #expect(run("start") == .exited(0))
        #expect(Agents.read(data + "/web.owner").isEmpty == false)
        #expect(run("status", depth: 10) == .exited(0))
        // Kill the server behind the agent's back: the status check must see it.
        let pid = try #require(Int32(Agents.read(data + "/rgdemo-web.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
        for _ in 0..<50 where !Agents.isGone(pid) { usleep(20_000) }
        #expect(run("status") == .exited(7))
        #expect(run("start") == .exited(0))
        #expect(run("stop") == .exited(0))
        #expect(run("status") == .exited(7))
    }
}
