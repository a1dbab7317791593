// SPDX-License-Identifier: Apache-2.0
import ClusterClient
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
    public init(nodes: Int, totem: String = "token=\"3000\"", extraCman: String = "", multicast: Bool = false) throws {
        nodeCount = nodes
        directory = try makeTemporaryDirectory("localcluster")
        port = UInt16.random(in: 20_000...50_000) & ~1
        tag = "t\(UInt32.random(in: 0...UInt32.max) % 100_000)"
        var conf = "<?xml version=\"1.0\"?>\n<cluster name=\"testcluster\" config_version=\"1\">\n"
        conf += "  <cman transport=\"\(multicast ? "udp" : "udpu")\" port=\"\(port)\" \(extraCman)/>\n  <totem \(totem)/>\n"
        conf += "  <logging to_syslog=\"no\" to_logfile=\"yes\" debug=\"on\"/>\n  <clusternodes>\n"
        for k in 1...nodes { conf += "    <clusternode name=\"127.0.0.\(k)\" nodeid=\"\(k)\"/>\n" }
        conf += "  </clusternodes>\n</cluster>\n"
        try conf.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit {
        for p in processes.values { p.signal(SIGKILL) }
        for p in processes.values { _ = try? p.wait(timeout: .seconds(5)) } // already killed; only reaping
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var configPath: String { directory + "/cluster.conf" }

    public func instance(_ k: Int) -> NodeInstance {
        NodeInstance(name: "\(tag)n\(k)", configPath: configPath, runDirectory: "\(directory)/node\(k)/run",
                     stateDirectory: "\(directory)/node\(k)/state", logDirectory: "\(directory)/node\(k)/log")
    }

    public func environment(_ k: Int) -> [String: String] {
        let i = instance(k)
        return ["CLUSTER_INSTANCE": i.name, "CLUSTER_CONF": configPath, "CLUSTER_RUN_DIR": i.runDirectory,
                "CLUSTER_STATE_DIR": i.stateDirectory, "CLUSTER_LOG_DIR": i.logDirectory, "CLUSTER_NODE_NAME": "127.0.0.\(k)"]
    }

    /// Starts `daemon` on node `k`.
    public func start(_ k: Int, _ daemon: String = "totemd", arguments: [String] = []) throws {
        processes[k] = try ChildProcess(TestBinaries.path(daemon), arguments, environment: environment(k))
    }

    public func startAll() throws {
        for k in 1...nodeCount { try start(k) }
    }

    public func kill(_ k: Int) {
        processes[k]?.signal(SIGKILL)
        _ = try? processes[k]?.wait(timeout: .seconds(5)) // reaping a killed process
        processes[k] = nil
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
            let path = "\(directory)/node\(k)/log/totemd.log"
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" // no log yet
            let tail = text.split(separator: "\n").suffix(lines).joined(separator: "\n")
            let err = processes[k]?.stderr ?? ""
            return "--- node\(k)\n\(tail)\n\(err)"
        }.joined(separator: "\n")
    }
}
