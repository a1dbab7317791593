// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPC
import TotemLink
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Real daemons of several nodes on 127.0.0.1..N, each with its own instance name, IPC names and directories, for
/// multi-process tests. Everything it started is killed when it is dropped.
public final class LocalCluster: @unchecked Sendable {
    public let directory: String
    public let nodeCount: Int
    public let port: UInt16
    public let tag: String
    public private(set) var processes: [Int: ChildProcess] = [:]

    /// Writes a cluster.conf for `nodes` nodes (udpu on 127.0.0.x) with the given `<totem>` attributes.
    /// Each node has its own copy of cluster.conf (as real nodes do), for config distribution tests.
    public let perNodeConfig: Bool

    /// `redundantRing`: every node also gets `<altname name="127.0.1.K"/>` (ring 1). `nodeElements(K)` is put inside
    /// node K's `<clusternode>` (its `<fence>` section, say).
    public init(nodes: Int, totem: String = "token=\"3000\"", extraCman: String = "", multicast: Bool = false,
                perNodeConfig: Bool = false, redundantRing: Bool = false, extra: String = "",
                nodeElements: (Int) -> String = { _ in "" }) throws {
        self.perNodeConfig = perNodeConfig
        nodeCount = nodes
        directory = try makeTemporaryDirectory("localcluster")
        port = UInt16.random(in: 20_000...50_000) & ~1
        tag = "t\(UInt32.random(in: 0...UInt32.max) % 100_000)"
        var conf = "<?xml version=\"1.0\"?>\n<cluster name=\"testcluster\" config_version=\"1\">\n"
        conf += "  <cman transport=\"\(multicast ? "udp" : "udpu")\" port=\"\(port)\" \(extraCman)/>\n  <totem \(totem)/>\n"
        conf += "  <logging to_syslog=\"no\" to_logfile=\"yes\" debug=\"on\"/>\n  <clusternodes>\n"
        for k in 1...nodes {
            let inner = (redundantRing ? "<altname name=\"127.0.1.\(k)\"/>" : "") + nodeElements(k)
            conf += inner.isEmpty ? "    <clusternode name=\"127.0.0.\(k)\" nodeid=\"\(k)\"/>\n"
                : "    <clusternode name=\"127.0.0.\(k)\" nodeid=\"\(k)\">\(inner)</clusternode>\n"
        }
        // tools/fence_localcluster's view of this cluster: the node count and, per node, a pid file per daemon.
        try "\(nodes)\n".write(toFile: directory + "/nodes", atomically: true, encoding: .utf8)
        conf += "  </clusternodes>\n\(extra)</cluster>\n"
        try conf.write(toFile: configPath, atomically: true, encoding: .utf8)
        if perNodeConfig {
            for k in 1...nodes {
                try FileManager.default.createDirectory(atPath: "\(directory)/node\(k)", withIntermediateDirectories: true)
                try conf.write(toFile: configPath(k), atomically: true, encoding: .utf8)
            }
        }
    }

    deinit {
        let all = Array(processes.values) + upper.values.flatMap { $0.values }
        for p in all { p.signal(SIGKILL) }
        for p in all { _ = try? p.wait(timeout: .seconds(5)) } // already killed; only reaping
        sweepRingBuffers(of: all) // the killed daemons' connections to each other
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Removes the ring buffers of the connections between killed processes, once they are dead (SIGKILL is not
    /// instant on a loaded machine, and a buffer with a live end is kept).
    private func sweepRingBuffers(of killed: [ChildProcess]) {
        let pids = Set(killed.map(\.pid))
        let deadline = ContinuousClock.now + .seconds(5)
        while pids.contains(where: StaleRingBuffers.isRunning), ContinuousClock.now < deadline { usleep(10_000) }
        StaleRingBuffers.sweep(involving: pids)
    }

    public var configPath: String { directory + "/cluster.conf" }

    /// The cluster.conf node `k` uses.
    public func configPath(_ k: Int) -> String { perNodeConfig ? "\(directory)/node\(k)/cluster.conf" : configPath }

    public func instance(_ k: Int) -> NodeInstance {
        NodeInstance(name: "\(tag)n\(k)", configPath: configPath(k), runDirectory: "\(directory)/node\(k)/run",
                     stateDirectory: "\(directory)/node\(k)/state", logDirectory: "\(directory)/node\(k)/log")
    }

    public func environment(_ k: Int) -> [String: String] {
        let i = instance(k)
        return ["CLUSTER_INSTANCE": i.name, "CLUSTER_CONF": configPath(k), "CLUSTER_RUN_DIR": i.runDirectory,
                "CLUSTER_STATE_DIR": i.stateDirectory, "CLUSTER_LOG_DIR": i.logDirectory, "CLUSTER_NODE_NAME": "127.0.0.\(k)"]
    }

    /// Extra daemons per node (quorumd…), started after totemd.
    public private(set) var upper: [Int: [String: ChildProcess]] = [:]
    public var upperDaemons: [String] = []

    /// Starts `daemon` on node `k` (totemd, then the daemons in `upperDaemons`), with `environment` added to the node's.
    public func start(_ k: Int, _ daemon: String = "totemd", arguments: [String] = [], environment extra: [String: String] = [:]) throws {
        let p = try ChildProcess(TestBinaries.path(daemon), arguments, environment: environment(k).merging(extra) { $1 })
        // As tools/localcluster keeps them, so that tools/fence_localcluster can power the node off.
        try FileManager.default.createDirectory(atPath: "\(directory)/node\(k)", withIntermediateDirectories: true)
        try "\(p.pid)\n".write(toFile: "\(directory)/node\(k)/\(daemon).pid", atomically: true, encoding: .utf8)
        if daemon == "totemd" {
            processes[k] = p
            for d in upperDaemons { try start(k, d) }
        } else {
            upper[k, default: [:]][daemon] = p
        }
    }

    public func startAll() throws {
        for k in 1...nodeCount { try start(k) }
    }

    /// SIGKILL of every daemon of node `k`.
    public func kill(_ k: Int) {
        let all = [processes[k]].compactMap { $0 } + (upper[k]?.values.map { $0 } ?? [])
        for p in all { p.signal(SIGKILL) }
        for p in all { _ = try? p.wait(timeout: .seconds(5)) } // reaping killed processes
        sweepRingBuffers(of: all) // as a real node's reboot would clear /dev/shm
        processes[k] = nil
        upper[k] = nil
    }

    /// Runs a tool against node `k` and returns its status and output.
    public func tool(_ k: Int, _ name: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run(TestBinaries.path(name), arguments, environment: environment(k), timeout: .seconds(60))
    }

    /// SIGTERM (a clean leave) and wait for the exit status.
    @discardableResult
    public func stop(_ k: Int) throws -> Int32 {
        guard let p = processes[k] else { return -1 }
        p.signal(SIGTERM)
        let status = try p.wait(timeout: .seconds(10))
        processes[k] = nil
        return status
    }

    /// totemd's status on node `k`, or nil if it does not answer.
    public func status(_ k: Int) -> TotemIPC.Status? {
        guard let c = try? TotemClient(instance: instance(k)) else { return nil } // not up yet
        return try? c.status() // went away mid-call: treated as not answering
    }

    /// Waits until every node in `nodes` is operational on one ring whose members are exactly `nodes`.
    @discardableResult
    public func waitForRing(_ nodes: [Int], timeout: Duration = .seconds(20)) throws -> TotemIPC.Status {
        let deadline = ContinuousClock.now + timeout
        let want = nodes.map { NodeID(UInt32($0)) }
        var last: [Int: String] = [:]
        while ContinuousClock.now < deadline {
            let statuses = nodes.map { status($0) }
            if statuses.allSatisfy({ $0?.state == "operational" && $0?.members == want }),
               Set(statuses.map { "\($0!.ringRepresentative)/\($0!.ringSequence)" }).count == 1 {
                return statuses[0]!
            }
            for (k, s) in zip(nodes, statuses) { last[k] = s.map { "\($0.state) \($0.ringRepresentative)/\($0.ringSequence) \($0.members)" } ?? "down" }
            usleep(20_000)
        }
        throw ChildProcessError("no ring of \(nodes) within \(timeout): \(last.sorted { $0.key < $1.key }); logs: \(logs())")
    }

    /// The tail of every node's log, for failure messages.
    public func logs(lines: Int = 15) -> String {
        (1...nodeCount).map { k in
            (["totemd"] + upperDaemons).map { d in
                let path = "\(directory)/node\(k)/log/\(d).log"
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" // no log yet
                let tail = text.split(separator: "\n").suffix(lines).joined(separator: "\n")
                let err = (d == "totemd" ? processes[k] : upper[k]?[d])?.stderr ?? ""
                return "--- node\(k) \(d)\n\(tail)\n\(err)"
            }.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}

extension LocalCluster {
    /// quorumd's status on node `k`, or nil if it does not answer.
    public func cmanStatus(_ k: Int) -> CmanIPC.Status? {
        guard let c = try? CmanClient(instance: instance(k)) else { return nil } // not up yet
        return try? c.status() // gone mid-call: not answering
    }

    /// Waits until `predicate` holds for quorumd's status on every node in `nodes`.
    @discardableResult
    public func waitForQuorum(_ nodes: [Int], timeout: Duration = .seconds(30),
                              _ predicate: (CmanIPC.Status) -> Bool) throws -> [CmanIPC.Status] {
        let deadline = ContinuousClock.now + timeout
        var last: [String] = []
        while ContinuousClock.now < deadline {
            let s = nodes.map { cmanStatus($0) }
            if s.allSatisfy({ $0.map(predicate) ?? false }) { return s.map { $0! } }
            last = zip(nodes, s).map { k, st in "node\(k): " + (st.map { "\($0.nodes) nodes \($0.totalVotes)/\($0.expectedVotes) quorate=\($0.quorate)" } ?? "down") }
            usleep(30_000)
        }
        throw ChildProcessError("condition not reached within \(timeout): \(last); logs: \(logs())")
    }
}
