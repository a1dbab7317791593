// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol

/// How `cman_tool services` and `group_tool ls` describe a group.
public struct ServiceListing: Sendable, Hashable {
    public var type: String
    public var level: Int
    public var name: String
    public var id: UInt32
    public var state: String
    /// The nodes with a process in the group.
    public var nodes: [UInt32]

    /// The group's type and level from its name (the cluster suite's daemons name their groups `fence:…`,
    /// `dlm:…`, `gfs:…`, `rgmanager…`); the id is a stable hash of the name.
    public init(_ g: GroupIPC.GroupInfo) {
        let lower = g.name.lowercased()
        (type, level) = lower.hasPrefix("fence") ? ("fence", 0) : lower.hasPrefix("dlm") ? ("dlm", 1)
            : lower.hasPrefix("gfs") ? ("gfs", 2) : lower.hasPrefix("rgmanager") ? ("rgmanager", 3) : ("other", 4)
        let shortName = g.name.split(separator: ":", maxSplits: 1).count == 2 && type != "other"
            ? String(g.name.split(separator: ":", maxSplits: 1)[1]) : g.name
        name = shortName
        var h: UInt32 = 0x811C_9DC5
        for b in g.name.utf8 {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        id = h
        state = g.syncing ? "sync" : "run"
        nodes = Array(Set(g.members.map(\.node.rawValue))).sorted()
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }

    /// The listing as group_tool printed it: a header, then per group a line and its members.
    public static func text(_ groups: [ServiceListing]) -> String {
        var out = "type             level name             id       state\n"
        for g in groups.sorted(by: { ($0.level, $0.name) < ($1.level, $1.name) }) {
            let hex: String = String(g.id, radix: 16)
            let id: String = String(repeating: "0", count: max(0, 8 - hex.count)) + hex
            let type: String = pad(g.type, 17)
            let level: String = pad(String(g.level), 6)
            let name: String = pad(g.name, 17)
            out += "\(type)\(level)\(name)\(id) \(g.state)\n"
            out += "[" + g.nodes.map(String.init).joined(separator: " ") + "]\n"
        }
        return out
    }
}
