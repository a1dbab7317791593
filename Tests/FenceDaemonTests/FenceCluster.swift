// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Foundation
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// A loopback cluster whose nodes run totemd, quorumd, groupd and fenced, with fence agents written into the
/// cluster's directory: each records what it was asked (its stdin) in a log of its own, so a test can tell who ran
/// which agent, and when.
struct FenceCluster {
    let cluster: LocalCluster
    var directory: String { cluster.directory }

    /// The agents a test can name in `<fencedevice agent=…>` (absolute paths in the cluster's directory).
    enum Agent: String, CaseIterable {
        /// Records, then powers the node off with tools/fence_localcluster (SIGKILL of whatever of it still runs).
        case localcluster = "agent-localcluster"
        /// Records, then fails as a device that cannot be reached would.
        case failing = "agent-failing"
        /// Records, then waits until the test creates the file `release` in the cluster's directory, then succeeds.
        case gated = "agent-gated"
        /// Records and succeeds.
        case succeeding = "agent-succeeding"
    }

    /// `methods(K)`: node K's `<method>` elements; `unfence(K)`: its `<unfence>` devices; `fenceDaemon`:
    /// `<fence_daemon>`'s attributes.
    init(nodes: Int, fenceDaemon: String = "clean_start=\"1\"", methods: (Int) -> String = { k in
        "<method name=\"power\"><device name=\"lc\" port=\"\(k)\"/></method>"
    }, unfence: (Int) -> String = { _ in "" }, extra: String = "") throws {
        let root = TestBinaries.repositoryRoot
        var devices = ""
        let c = try LocalCluster(nodes: nodes, extra: "", nodeElements: { k in
            "<fence>\(methods(k))</fence>" + (unfence(k).isEmpty ? "" : "<unfence>\(unfence(k))</unfence>")
        })
        for agent in Agent.allCases { devices += "    <fencedevice name=\"\(agent.rawValue)\" agent=\"\(c.directory)/\(agent.rawValue)\"/>\n" }
        devices += "    <fencedevice name=\"lc\" agent=\"\(c.directory)/\(Agent.localcluster.rawValue)\" localcluster_dir=\"\(c.directory)\"/>\n"
        devices += "    <fencedevice name=\"missing\" agent=\"fence_no_such_agent\"/>\n"
        // The configuration LocalCluster wrote, with the fence daemon's settings and the devices added.
        var conf = try String(contentsOfFile: c.configPath, encoding: .utf8)
        conf = conf.replacingOccurrences(of: "</cluster>\n", with: "  <fence_daemon \(fenceDaemon)/>\n  <fencedevices>\n\(devices)  </fencedevices>\n\(extra)</cluster>\n")
        try conf.write(toFile: c.configPath, atomically: true, encoding: .utf8)
        for agent in Agent.allCases {
            // One write per run: agents of several nodes run at once, and two runs' lines must not interleave.
            let record = "record=\"--- pid $$ at $(date +%s.%N)\n$input\"; printf '%s\\n' \"$record\" >> \"\(c.directory)/\(agent.rawValue).log\""
            let tail: String
            switch agent {
            case .localcluster: tail = "printf '%s\\n' \"$input\" | exec \"\(root)/tools/fence_localcluster\""
            case .failing: tail = "echo 'Unable to connect/login to fencing device' >&2; exit 1"
            case .gated: tail = "while [ ! -f \"\(c.directory)/release\" ]; do sleep 0.05; done; echo released >&2; exit 0"
            case .succeeding: tail = "exit 0"
            }
            let script = "#!/bin/sh\ninput=$(cat)\n\(record)\n\(tail)\n"
            let path = "\(c.directory)/\(agent.rawValue)"
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
        c.upperDaemons = ["quorumd", "groupd", "fenced"]
        cluster = c
    }

    /// Starts every node and waits until each is in a fence domain of all of them whose cycle has settled (a master
    /// chosen, nothing waited for).
    func startAll() throws {
        try cluster.startAll()
        let all = Array(1...cluster.nodeCount)
        try cluster.waitForQuorum(all) { $0.nodes == UInt32(all.count) && $0.quorate }
        for k in all {
            try waitDomain(k, "member of a settled domain of \(all)") { d in
                d.phase == "member" && d.members.map(\.rawValue) == all.map(UInt32.init) && d.master.rawValue != 0 && d.waitState == "none"
            }
        }
    }

    /// The domain as node `k`'s fenced sees it, or nil if it does not answer.
    func domain(_ k: Int) -> FenceIPC.Domain? {
        guard let client = try? FenceClient(instance: cluster.instance(k)) else { return nil }  // not up yet
        defer { client.close() }
        return try? client.domain()  // starting, or gone mid-call: not answering
    }

    /// Waits until node `k`'s domain satisfies `condition`.
    @discardableResult
    func waitDomain(_ k: Int, _ what: String, timeout: Duration = .seconds(45), _ condition: (FenceIPC.Domain) -> Bool) throws -> FenceIPC.Domain {
        var last: FenceIPC.Domain?
        try waitUntil("node \(k): \(what)", timeout: timeout) {
            last = domain(k)
            return last.map(condition) ?? false
        }
        return last!
    }

    func waitUntil(_ what: String, timeout: Duration = .seconds(45), _ condition: () -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return }
            usleep(50_000)
        }
        throw ChildProcessError("not reached within \(timeout): \(what)\n\(logs())")
    }

    /// fenced's log on node `k`.
    func fencedLog(_ k: Int) -> String {
        (try? String(contentsOfFile: "\(directory)/node\(k)/log/fenced.log", encoding: .utf8)) ?? ""  // not written yet
    }

    /// Each run of `agent`: the lines it read on stdin.
    func runs(_ agent: Agent) -> [[String]] {
        let text = (try? String(contentsOfFile: "\(directory)/\(agent.rawValue).log", encoding: .utf8)) ?? ""  // never ran
        return text.components(separatedBy: "--- ").dropFirst().map { Array($0.split(separator: "\n").dropFirst().map(String.init)) }
    }

    func logs() -> String {
        (1...cluster.nodeCount).map { k in
            "--- node\(k) fenced\n" + fencedLog(k).split(separator: "\n").suffix(20).joined(separator: "\n")
                + "\n" + (cluster.upper[k]?["fenced"]?.stderr ?? "")
        }.joined(separator: "\n") + "\n" + cluster.logs(lines: 6)
    }

    func tool(_ k: Int, _ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try cluster.tool(k, name, arguments)
    }
}

/// A subscriber to one node's fenced events, as rgmanager and the control daemons are.
final class FenceSubscriber {
    let client: FenceClient
    private(set) var events: [FenceIPC.Event] = []

    init(_ c: FenceCluster, node k: Int) throws {
        client = try FenceClient(instance: c.cluster.instance(k))
        try client.subscribe()
    }

    deinit { client.close() }

    /// Reads events until one satisfies `match` (returning it) or the timeout passes.
    func wait(timeout: Duration = .seconds(45), _ match: (FenceIPC.Event) -> Bool) throws -> FenceIPC.Event {
        if let e = events.first(where: match) { return e }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let e = try client.nextEvent(timeoutMilliseconds: 100) {
                events.append(e)
                if match(e) { return e }
            }
        }
        throw ChildProcessError("no matching fenced event within \(timeout); got \(events)")
    }
}
