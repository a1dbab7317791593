// SPDX-License-Identifier: Apache-2.0
// Step 2 of docs/controld.md: the subsystem. "toyfs" is an imaginary cluster file system whose kernel side is a
// directory tree: <root>/nodes/<nodeid> for every cluster member, and <root>/mounts/<name>/{state,members} for every
// mount. A real control daemon writes configfs and sysfs the same way (ConfigfsTree works on both).
import ClusterClient

struct ToyfsKernel: ControlSubsystem {
    let tree: ConfigfsTree

    // The cluster's members changed: mirror them under nodes/.
    mutating func apply(_ changes: [Control.Topology.Change], cluster: ControlCluster) throws {
        for change in changes {
            switch change {
            case .add(let node):
                try tree.makeItem("nodes/\(node.id)")
                try tree.write("nodes/\(node.id)/address", node.address)
            case .remove(let id):
                try tree.removeItem("nodes/\(id)")
            case .removalDeferred:
                break  // someone pinned it (toyfs_tool pin): it stays until released
            }
        }
    }

    // A mount group is being joined: create it, stopped.
    mutating func created(group: String) throws {
        try tree.makeItem("mounts/\(group)")
        try tree.write("mounts/\(group)/state", "stopped")
    }

    // Its membership changed: suspend it. The framework waits for fencing and for every member to stop.
    mutating func stop(group: String) throws {
        try tree.write("mounts/\(group)/state", "stopped")
    }

    // Every member stopped and failed nodes are fenced: recover with these members.
    mutating func start(group: String, members: [NodeID]) throws {
        try tree.write("mounts/\(group)/members", members.map(\.description).joined(separator: " "))
        try tree.write("mounts/\(group)/state", "recovering")
    }

    // Every member has started: the mount runs.
    mutating func recovered(group: String, members: [NodeID]) throws {
        try tree.write("mounts/\(group)/state", "running")
    }

    mutating func removed(group: String) throws {
        try tree.removeItem("mounts/\(group)")
    }

    // A request of our own on the administrative socket: `toyfs_tool state NAME`.
    mutating func handle(request: [String], cluster: ControlCluster) throws -> String? {
        guard request.count == 2, request[0] == "state" else { return nil }
        guard let state = tree.read("mounts/\(request[1])/state") else {
            throw ClusterError(.notMember, "no mount \(request[1])")
        }
        return state + " " + (tree.read("mounts/\(request[1])/members") ?? "") + "\n"
    }
}
