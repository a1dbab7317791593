// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes

extension Quorum {
    /// What quorumd knows beyond the core for `cman_tool status` and `nodes`: its version, the cluster id, the
    /// multicast address and the nodes' addresses (resolved by the shell).
    public struct HostFacts: Hashable, Sendable {
        public var version: String
        public var clusterID: UInt16
        public var multicastAddresses: [String]
        public var addresses: [NodeID: String]

        public init(version: String, clusterID: UInt16, multicastAddresses: [String], addresses: [NodeID: String]) {
            self.version = version
            self.clusterID = clusterID
            self.multicastAddresses = multicastAddresses
            self.addresses = addresses
        }
    }
}

/// The core's state as libcman reports it (`cman_get_cluster`, `cman_get_nodes`): one place, used by quorumd's
/// IPC service and by the transcript tests.
extension Quorum.StateMachine {
    /// `cman_tool status`.
    public func cmanStatus(_ host: Quorum.HostFacts) -> CmanIPC.Status {
        let s = summary
        let member = members.contains(nodeID)
        var flags: [String] = []
        if settings.twoNode { flags.append("2node") }
        if dirty { flags.append("Dirty") }
        if !s.disallowed.isEmpty { flags.append("DisallowedNodes") }
        if settings.waitForAll { flags.append("WaitForAll") }
        if settings.lastManStanding { flags.append("LastManStanding") }
        if settings.autoTieBreaker { flags.append("AutoTieBreaker") }
        return CmanIPC.Status(
            version: host.version, configVersion: configVersion, clusterName: settings.clusterName, clusterID: host.clusterID,
            member: member, generation: generation, membershipState: member ? "Cluster-Member" : "Joining",
            nodes: UInt32(s.memberCount), expectedVotes: s.expectedVotes, totalVotes: s.totalVotes, nodeVotes: me.votes,
            quorum: s.quorum, quorate: s.quorate, activeSubsystems: UInt32(registered.count), flags: flags,
            portsBound: localPorts.sorted(), nodeName: me.name, nodeID: nodeID, multicastAddresses: host.multicastAddresses,
            nodeAddresses: [host.addresses[nodeID] ?? "?"], disallowed: s.disallowed.map { nodes[$0]?.name ?? $0.description },
            qdiskVotes: s.qdiskVotes)
    }

    /// `cman_tool nodes`: every node known, by id.
    public func cmanNodes(_ host: Quorum.HostFacts) -> [CmanIPC.Node] {
        nodes.values.sorted { $0.id < $1.id }.map { r in
            CmanIPC.Node(id: r.id, name: r.name, votes: r.votes, state: r.state.rawValue, incarnation: r.incarnation,
                         joinTime: r.state == .dead ? 0 : r.joinTime, addresses: host.addresses[r.id].map { [$0] } ?? [])
        }
    }

    /// Registered clients, in a stable order (notifications go to them).
    public var registeredClients: [Quorum.Client] { registered.keys.sorted() }
}
