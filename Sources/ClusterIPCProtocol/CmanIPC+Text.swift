// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The text of `cman_tool status` and `cman_tool nodes`, in one place: the tool prints it, and the quorum transcript
/// tests compare it with their golden files. Operators and scripts read it, so it changes only on purpose.
extension CmanIPC.Status {
    /// The lines of `cman_tool status`.
    public var lines: [String] {
        let ports = portsBound.map(String.init).joined(separator: " ")
        var out = [
            "Version: \(version)",
            "Config Version: \(configVersion)",
            "Cluster Name: \(clusterName)",
            "Cluster Id: \(clusterID)",
            "Cluster Member: \(member ? "Yes" : "No")",
            "Cluster Generation: \(generation)",
            "Membership state: \(membershipState)",
            "Nodes: \(nodes)",
            "Expected votes: \(expectedVotes)",
        ]
        if qdiskVotes > 0 { out.append("Quorum device votes: \(qdiskVotes)") }
        out += [
            "Total votes: \(totalVotes)",
            "Node votes: \(nodeVotes)",
            "Quorum: \(quorum)\(quorate ? "" : " Activity blocked")",
            "Active subsystems: \(activeSubsystems)",
            "Flags: \(flags.joined(separator: " "))",
            "Ports Bound: \(ports.isEmpty ? "0" : ports)",
            "Node name: \(nodeName)",
            "Node ID: \(nodeID)",
            "Multicast addresses: \(multicastAddresses.joined(separator: " "))",
            "Node addresses: \(nodeAddresses.joined(separator: " "))",
        ]
        if !disallowed.isEmpty { out.append("Disallowed nodes: \(disallowed.joined(separator: " "))") }
        return out
    }
}

extension CmanIPC.Node {
    /// The heading of `cman_tool nodes`.
    public static let heading = "Node  Sts   Inc   Joined               Name"

    /// This node's line of `cman_tool nodes` (and, with `addresses`, the line after it); `joined` formats the join
    /// time (the tool shows local time; 0 means never).
    public func lines(addresses: Bool, joined formatTime: (UInt64) -> String) -> [String] {
        let joined = formatTime(joinTime).rightPadded(to: 19)
        var out = ["\(String(id.rawValue).leftPadded(to: 4))   \(state)  \(String(incarnation).leftPadded(to: 5))   \(joined)  \(name)"]
        if addresses { out.append("       Addresses: \(self.addresses.joined(separator: " "))") }
        return out
    }

    /// The whole of `cman_tool nodes`.
    public static func table(_ nodes: [CmanIPC.Node], addresses: Bool, joined formatTime: (UInt64) -> String) -> [String] {
        [heading] + nodes.flatMap { $0.lines(addresses: addresses, joined: formatTime) }
    }

}
