// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterTypes
import FenceAgents
import FenceCore
import Foundation
import Testing

/// Debian's fence-agents, unmodified, driven by the fence core through the runner (tools/deps installs them).
@Suite("fence_dummy end to end", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/fence_dummy"),
                                          "fence_dummy is not installed (Debian package fence-agents; tools/deps installs it)"))
struct FenceDummyTests {
    static func config(statusFile: String, extra: String = "") -> String {
        """
        <?xml version="1.0"?>
        <cluster name="c" config_version="1">
          <fence_daemon post_join_delay="0" agent_timeout="60"/>
          <clusternodes>
            <clusternode name="n1" nodeid="1"><fence><method name="1"><device name="dummy"/></method></fence>
              <unfence><device name="dummy" action="on"/></unfence></clusternode>
            <clusternode name="n2" nodeid="2"><fence><method name="1"><device name="dummy" \(extra)/></method></fence></clusternode>
          </clusternodes>
          <fencedevices><fencedevice name="dummy" agent="fence_dummy" type="file" status_file="\(statusFile)"/></fencedevices>
        </cluster>
        """
    }

    /// Carries out the core's effects with the real runner until it settles.
    static func drive(_ core: inout Fence.StateMachine, _ first: Fence.Output, runner: AgentRunner) -> [Fence.Effect] {
        var all: [Fence.Effect] = []
        var pending = [first]
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            while let out = pending.first {
                pending.removeFirst()
                all += out.effects
                for e in out.effects {
                    switch e {
                    case .runAgent(let run): runner.start(run)
                    case .joinGroup:
                        let me = core.me
                        pending.append(core.handle(.domainView(Fence.DomainView(members: [me], joined: [me], left: [], ringSequence: 4)), at: .zero))
                    case .multicast(let bytes): pending.append(core.handle(.delivered(from: core.me, bytes: bytes), at: .zero))
                    default: break
                    }
                }
            }
            let done = runner.service()
            if done.isEmpty && runner.nextDeadline == nil { return all }
            for d in done { pending.append(core.handle(.agentFinished(d.result), at: .zero)) }
            if done.isEmpty { usleep(20_000) }
        }
        Issue.record("the agents did not finish within 60 s")
        return all
    }

    @Test("unfence (action on) before joining, then startup fencing of the absent node (action off) through the stdin protocol")
    func unfenceThenFence() throws {
        let box = AgentSandbox()
        let status = "\(box.dir)/status"
        let loaded = ConfigLoader.load(bytes: Array(Self.config(statusFile: status).utf8), file: "cluster.conf", useSchema: false)
        let config = try #require(loaded.valid)
        var core = Fence.StateMachine(nodeID: NodeID(1), pid: 11, settings: Fence.Settings(config: config),
                                      clock: Fence.WallClockAnchor(instant: .zero, secondsSinceEpoch: 1_700_000_000))
        _ = core.handle(.quorum(quorate: true, ringSequence: 4, members: [Fence.QuorumMember(node: NodeID(1), incarnation: 4)]), at: .zero)
        let runner = AgentRunner(locator: AgentLocator(environment: [:]))
        let effects = Self.drive(&core, core.handle(.request(.join), at: .zero), runner: runner)
        let runs = effects.compactMap { if case .runAgent(let r) = $0 { r } else { nil } }
        #expect(runs.map(\.purpose) == [.unfence, .fence])
        #expect(runs.first?.stdin == ["action=on", "agent=fence_dummy", "type=file", "status_file=\(status)", "nodename=n1"])
        #expect(runs.last?.stdin == ["agent=fence_dummy", "type=file", "status_file=\(status)", "nodename=n2", "action=off"])
        let resolved = effects.compactMap { if case .victimResolved(let r) = $0 { r } else { nil } }
        #expect(resolved.map(\.how) == [.agent] && resolved.first?.agent == "fence_dummy" && resolved.first?.victim == NodeID(2))
        #expect(box.read("status") == "off", "fence_dummy wrote the last action it was given")
        #expect(core.status.phase == .member && core.victims.isEmpty)
    }

    @Test("a failing fence_dummy (its status file cannot be written) fails the method with its stderr")
    func failure() throws {
        let box = AgentSandbox()
        let run = box.run("fence_dummy", stdin: ["agent=fence_dummy", "type=file", "status_file=/nonexistent/dir/status", "nodename=n2", "action=on"])
        let report = try FenceAgents.runSynchronously(run, locator: AgentLocator(environment: [:])).get()
        #expect(report.outcome != .success)
        #expect(!report.stderr.isEmpty)
    }

    @Test("fence_dummy's metadata: status_file and type are its parameters, a typo is a warning with its line")
    func metadata() throws {
        let m = try FenceAgents.metadata(of: "fence_dummy", locator: AgentLocator(environment: [:])).get()
        #expect(m.accepts("status_file") && m.accepts("type") && m.accepts("random_sleep_range") && m.actions.contains("off"))
        let xml = Self.config(statusFile: "/tmp/x", extra: "stauts_file=\"/tmp/y\"")
        let config = try #require(ConfigLoader.load(bytes: Array(xml.utf8), file: "cluster.conf", useSchema: false).valid)
        let found = FenceAgents.checkDevices(config, file: "cluster.conf", locator: AgentLocator(environment: [:])).map(\.description)
        #expect(found == ["cluster.conf:7: warning: clusternode \"n2\" fence method \"1\" device \"dummy\": agent fence_dummy has no parameter \"stauts_file\""])
    }
}
