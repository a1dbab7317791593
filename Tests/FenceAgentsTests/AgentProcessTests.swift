// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterTypes
import FenceAgents
import FenceCore
import Foundation
import Testing

@Suite("Fence agent runner")
struct AgentProcessTests {
    @Test("an agent is found in the search path, by absolute path, or not at all with the paths looked in")
    func locate() {
        let box = AgentSandbox()
        let path = box.agent("fence_fake", "exit 0")
        #expect(box.locator.locate("fence_fake") == .success(path))
        #expect(box.locator.locate(path) == .success(path))
        #expect(box.locator.locate("fence_none") == .failure(AgentError("agent fence_none not found (looked in \(box.dir), /usr/sbin, /sbin)")))
        #expect(box.locator.locate("bin/x") == .failure(AgentError("agent \"bin/x\" must be a bare name or an absolute path")))
        _ = FileManager.default.createFile(atPath: "\(box.dir)/plain", contents: Data())
        #expect(box.locator.locate("\(box.dir)/plain") == .failure(AgentError("agent \(box.dir)/plain is not executable")))
        let env = AgentLocator(configured: ["/opt/agents"], environment: ["FENCE_AGENT_PATH": "/first:relative:/second"])
        #expect(env.searchPath == ["/first", "/second", "/opt/agents", "/usr/sbin", "/sbin"])
    }

    @Test("no argv, the stdin lines exactly, exit 0 is success and stderr is kept")
    func protocolAndSuccess() throws {
        let box = AgentSandbox()
        box.agent("fence_fake", "echo \"$#\" > \(box.dir)/argc; cat > \(box.dir)/stdin; echo 'powered off' >&2; exit 0")
        let report = try FenceAgents.runSynchronously(box.run("fence_fake", stdin: ["port=3", "agent=fence_fake", "nodename=n3", "action=off"]),
                                                      locator: box.locator).get()
        #expect(report.outcome == .success)
        #expect(box.read("argc") == "0\n")
        #expect(box.read("stdin") == "port=3\nagent=fence_fake\nnodename=n3\naction=off\n")
        #expect(report.stderr == "powered off\n")
        #expect(report.result(runID: 7) == Fence.AgentResult(runID: 7, outcome: .success, stderr: "powered off"))
    }

    @Test("a non-zero exit, a signal and an agent that cannot start are told apart")
    func failures() throws {
        let box = AgentSandbox()
        box.agent("fence_three", "cat >/dev/null; echo 'Unable to connect' >&2; exit 3")
        box.agent("fence_dies", "kill -9 $$")
        #expect(try FenceAgents.runSynchronously(box.run("fence_three"), locator: box.locator).get().outcome == .failed(exitCode: 3))
        #expect(try FenceAgents.runSynchronously(box.run("fence_dies"), locator: box.locator).get().outcome == .killed(signal: 9))
        _ = FileManager.default.createFile(atPath: "\(box.dir)/fence_badexec", contents: Data("not a program".utf8), attributes: [.posixPermissions: 0o755])
        #expect(FenceAgents.runSynchronously(box.run("fence_badexec"), locator: box.locator)
                == .failure(AgentError("fence n3 method 1 device pdu: cannot start \(box.dir)/fence_badexec: Exec format error")))
        #expect(FenceAgents.runSynchronously(box.run("fence_missing"), locator: box.locator)
                == .failure(AgentError("fence n3 method 1 device pdu: agent fence_missing not found (looked in \(box.dir), /usr/sbin, /sbin)")))
    }

    @Test("past its timeout an agent gets SIGTERM, then SIGKILL if it ignores it, and counts as timed out")
    func timeout() throws {
        let box = AgentSandbox()
        box.agent("fence_hang", "trap '' TERM; while :; do sleep 1; done")
        let start = Date()
        let p = try AgentProcess.start(executable: "\(box.dir)/fence_hang", stdin: [], timeout: .milliseconds(300), killGrace: .milliseconds(300))
        let report = p.wait()
        #expect(report.outcome == .timedOut)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(kill(p.pid, 0) != 0, "the agent is gone")
    }

    @Test("garbage and floods of output are bounded and made printable; a helper holding the pipes does not hang the run")
    func garbageAndHelpers() throws {
        let box = AgentSandbox()
        box.agent("fence_garbage", "printf 'bad\\001\\377bytes\\n' >&2; head -c 300000 /dev/zero; exit 1")
        let r = try FenceAgents.runSynchronously(box.run("fence_garbage"), locator: box.locator).get()
        #expect(r.outcome == .failed(exitCode: 1))
        #expect(r.stderr.hasPrefix("bad?\u{FFFD}bytes"))
        #expect(r.stdout.hasSuffix("[\(300_000 - AgentProcess.outputBytesMax) more bytes not kept]"))
        box.agent("fence_helper", "sleep 60 & echo started; exit 0")
        let start = Date()
        let h = try FenceAgents.runSynchronously(box.run("fence_helper"), locator: box.locator).get()
        #expect(h.outcome == .success && h.stdout == "started\n")
        #expect(Date().timeIntervalSince(start) < 5, "the helper's pipe was not waited for")
    }

    @Test("the runner serves several agents from one loop and reports a missing agent at once, naming node, method and device")
    func runner() {
        let box = AgentSandbox()
        box.agent("fence_slow", "cat >/dev/null; sleep 0.3; exit 0")
        box.agent("fence_fast", "cat >/dev/null; exit 2")
        let runner = AgentRunner(locator: box.locator)
        runner.start(box.run("fence_slow", id: 1))
        runner.start(box.run("fence_fast", id: 2))
        runner.start(box.run("fence_absent", id: 3))
        var results: [UInt64: Fence.AgentOutcome] = [:]
        let deadline = Date().addingTimeInterval(10)
        while results.count < 3 && Date() < deadline {
            for r in runner.service() { results[r.result.runID] = r.result.outcome }
            var fds = runner.descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 20)
        }
        #expect(results[1] == .success && results[2] == .failed(exitCode: 2))
        #expect(results[3] == .notStarted("fence n3 method 1 device pdu: agent fence_absent not found (looked in \(box.dir), /usr/sbin, /sbin)"))
        #expect(runner.descriptors.isEmpty && runner.nextDeadline == nil)
    }
}

@Suite("Fence agent metadata")
struct AgentMetadataTests {
    static let metadata = """
    <?xml version="1.0" ?>
    <resource-agent name="fence_fake" shortdesc="fake">
    <parameters>
      <parameter name="ipaddr" unique="0" required="1"><content type="string"/></parameter>
      <parameter name="port" unique="0" required="0"><content type="string"/></parameter>
      <parameter name="power-wait" unique="0" required="0"><content type="second"/></parameter>
    </parameters>
    <actions><action name="on"/><action name="off"/><action name="metadata"/></actions>
    </resource-agent>
    """

    static let config = """
    <?xml version="1.0"?>
    <cluster name="c" config_version="1">
      <clusternodes>
        <clusternode name="a" nodeid="1"><fence><method name="power"><device name="pdu" port="1" portt="1"/></method></fence></clusternode>
        <clusternode name="b" nodeid="2"><fence><method name="1"><device name="ghost" port="2"/></method></fence></clusternode>
      </clusternodes>
      <fencedevices>
        <fencedevice name="pdu" agent="fence_fake" ipaddr="10.0.0.1" power_wait="3" login="x"/>
        <fencedevice name="ghost" agent="fence_ghost"/>
      </fencedevices>
    </cluster>
    """

    @Test("parameters and actions from -o metadata; - and _ are the same")
    func parse() throws {
        let box = AgentSandbox()
        box.agent("fence_fake", "[ \"$1 $2\" = '-o metadata' ] || exit 9\ncat <<'EOF'\n\(Self.metadata)\nEOF")
        let m = try FenceAgents.metadata(of: "fence_fake", locator: box.locator).get()
        #expect(m.parameters == ["ipaddr", "port", "power_wait"] && m.actions == ["on", "off", "metadata"])
        #expect(m.accepts("power-wait") && m.accepts("nodename") && !m.accepts("portt"))
    }

    @Test("an agent that prints garbage, other XML or fails gives a clear error")
    func badMetadata() {
        let box = AgentSandbox()
        box.agent("fence_garbage", "printf 'Traceback (most recent call last):\\n'")
        box.agent("fence_html", "echo '<html><body/></html>'")
        box.agent("fence_fails", "echo 'no metadata here' >&2; exit 1")
        #expect(FenceAgents.metadata(of: "fence_garbage", locator: box.locator).failureMessage?.hasPrefix("agent fence_garbage printed no fence-agent metadata (") == true)
        #expect(FenceAgents.metadata(of: "fence_html", locator: box.locator).failureMessage
                == "agent fence_html printed no fence-agent metadata (its -o metadata output starts with <html>)")
        #expect(FenceAgents.metadata(of: "fence_fails", locator: box.locator).failureMessage
                == "agent fence_fails -o metadata failed (error from agent (exit 1)): no metadata here")
    }

    @Test("validation warns FILE:LINE about parameters the agent does not have, and names node, method and device of a missing agent")
    func parameterCheck() throws {
        let box = AgentSandbox()
        box.agent("fence_fake", "cat <<'EOF'\n\(Self.metadata)\nEOF")
        let loaded = ConfigLoader.load(bytes: Array(Self.config.utf8), file: "cluster.conf", useSchema: false)
        let config = try #require(loaded.configuration)
        let found = FenceAgents.checkDevices(config, file: "cluster.conf", locator: box.locator).map(\.description)
        #expect(found == [
            "cluster.conf:4: warning: clusternode \"a\" fence method \"power\" device \"pdu\": agent fence_fake has no parameter \"portt\"",
            "cluster.conf:5: clusternode \"b\" fence method \"1\" device \"ghost\": agent fence_ghost not found (looked in \(box.dir), /usr/sbin, /sbin)",
            "cluster.conf:8: warning: fence device \"pdu\": agent fence_fake has no parameter \"login\"",
            "cluster.conf:9: fence device \"ghost\": agent fence_ghost not found (looked in \(box.dir), /usr/sbin, /sbin)",
        ])
    }
}

extension Result where Failure == AgentError {
    var failureMessage: String? { if case .failure(let e) = self { e.message } else { nil } }
}
