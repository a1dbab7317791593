// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Glibc

/// OCFS2's node manager (ocfs2_nodemanager) as o2cb_controld drives it (seed 003): the cluster's members in
/// configfs as `cluster/<cluster>/node/<name>/{num,ipv4_port,ipv4_address,local}`, written in that order (the
/// kernel takes `local` last, once it knows the node's address), added and removed as nodes come and go. A node
/// another component has pinned (ocfs2_controld, through `o2cb_tool pin`) stays until it is released.
///
/// Its groups are OCFS2 mounts (level 2: they recover after fencing and the lockspaces): the o2cb stack recovers a
/// mount through its own heartbeat, so the groups here hold the node in the cluster (a staged shutdown is refused
/// while one exists) and record each mount's members under `<run>/o2cb/<mount>` for the operator.
struct O2CBNodeManager: ControlSubsystem {
    let configfsRoot: String
    let port: UInt16
    let stateDirectory: String
    var tree: ConfigfsTree?
    /// The names under which nodes were written (a removal names the directory).
    var names: [NodeID: String] = [:]

    init(configfsRoot: String, port: UInt16, stateDirectory: String) {
        self.configfsRoot = configfsRoot
        self.port = port
        self.stateDirectory = stateDirectory
    }

    mutating func apply(_ changes: [Control.Topology.Change], cluster: ControlCluster) throws {
        let tree = self.tree ?? ConfigfsTree(root: configfsRoot + "/cluster/" + cluster.name)
        if self.tree == nil {
            try tree.makeItem("node")
            self.tree = tree
        }
        for change in changes {
            switch change {
            case .add(let node):
                guard Self.isIPv4(node.address) else {
                    throw ClusterError(.refused, "node \(node.id) (\(node.name)): o2cb needs an IPv4 address, not '\(node.address)'")
                }
                let dir = "node/\(node.name)"
                try tree.makeItem(dir)
                try tree.write(dir + "/num", "\(node.id)")
                try tree.write(dir + "/ipv4_port", "\(port)")
                try tree.write(dir + "/ipv4_address", node.address)
                try tree.write(dir + "/local", node.id == cluster.localNode ? "1" : "0")
                names[node.id] = node.name
            case .remove(let id):
                guard let name = names.removeValue(forKey: id) else { continue }
                try tree.removeItem("node/\(name)")
            case .removalDeferred:
                break
            }
        }
    }

    func created(group: String) throws { try record(group, "joining") }
    func stop(group: String) throws { try record(group, "stopped") }
    func start(group: String, members: [NodeID]) throws { try record(group, "starting " + members.map(\.description).joined(separator: " ")) }
    func recovered(group: String, members: [NodeID]) throws { try record(group, "running " + members.map(\.description).joined(separator: " ")) }
    func removed(group: String) throws { unlink(stateDirectory + "/" + group) }

    /// The mount's state for the operator, one line.
    func record(_ group: String, _ state: String) throws {
        try ConfigfsTree(root: stateDirectory).makeItem("")
        try ConfigfsTree(root: stateDirectory).write(group, state + "\n")
    }

    static func isIPv4(_ text: String) -> Bool {
        var a = in_addr()
        return inet_pton(AF_INET, text, &a) == 1
    }
}
