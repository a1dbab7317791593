// SPDX-License-Identifier: Apache-2.0
// fence_ack_manual: the operator's word that a victim is cut off, for a node its fence agents cannot fence.
import ArgumentParser
import ClusterClient
import ClusterConfig
import ClusterSystem
import Foundation
import ToolSupport

struct FenceAckManual: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fence_ack_manual",
        abstract: "Tell the fence domain that NODE is off, so its failure counts as fenced.",
        discussion: """
        Use it only after making sure the node is really cut off from shared storage (powered off, or its \
        cables pulled): the domain then lets other nodes recover the node's work, exactly as after a successful \
        fence. fenced on this node must be in the fence domain, and NODE must be one of its victims. Asks for \
        confirmation when run from a terminal, unless -y.
        """)

    @Argument(help: "The victim's name (as in cluster.conf) or node id.") var node: String
    @Flag(name: .customShort("y"), help: "Do not ask for confirmation.") var yes = false
    @Option(name: [.customShort("f"), .customLong("file")], help: "The cluster.conf naming the nodes (default: $CLUSTER_CONF or /etc/cluster/cluster.conf).")
    var file: String?
    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance (or $CLUSTER_INSTANCE) when several nodes share a host.")
    var instance: String?

    func run() throws { try reportingToolErrors("fence_ack_manual") { try acknowledge() } }

    private func acknowledge() throws {
        let instance: NodeInstance
        do { instance = try NodeInstance.resolve(instance: self.instance, config: file) } catch { throw ToolError("\(error)", exit: .usage) }
        let (id, name) = try resolve(node, path: instance.configPath)
        if !yes && isatty(0) == 1 {
            print("WARNING: fence_ack_manual tells the cluster that node \(name) no longer touches shared storage.")
            print("If it is still running, its data and the cluster's may be corrupted. Is node \(name) off? [yes/no] ", terminator: "")
            guard readLine()?.lowercased() == "yes" else { throw ToolError("not acknowledged") }
        }
        let client = try daemonCall("fenced") { () throws(ClusterError) in try FenceClient(instance: instance, admin: true) }
        defer { client.close() }
        try daemonCall("fenced") { () throws(ClusterError) in try client.acknowledge(id) }
        print("fence_ack_manual: node \(name) acknowledged as fenced")
    }

    /// A node name or id to (id, name), through cluster.conf; a bare id works without it.
    private func resolve(_ text: String, path: String) throws -> (NodeID, String) {
        let config = ConfigLoader.load(path: path).configuration  // a bad file: ids still work, names are reported below
        if let n = config?.node(named: text) { return (NodeID(n.nodeID), n.name) }
        if let id = UInt32(text), id > 0 { return (NodeID(id), config?.node(id: id)?.name ?? "node\(id)") }
        let names = config.map { $0.nodes.map(\.name).joined(separator: ", ") } ?? "\(path) could not be read"
        throw ToolError("no node \"\(text)\" in \(path) (nodes: \(names))", exit: .usage)
    }
}

FenceAckManual.main()
