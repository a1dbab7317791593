// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes

extension ResourceManager.Settings {
    /// The settings of node `nodeID` from a validated configuration, its built trees and the rules they were built
    /// with: every configured node, the failover domains with node ids, each service's options and status checks,
    /// `status_child_max` (default 5).
    public init(configuration c: ClusterConfiguration, nodeID: NodeID, forest: ResourceManager.Forest, rules: [String: ResourceManager.Rule],
                wallClockOrigin: UInt64 = 0) {
        let ids = Dictionary(c.nodes.map { ($0.name, NodeID($0.nodeID)) }, uniquingKeysWith: { a, _ in a })
        let rm = c.resourceManager ?? ResourceManagerConfig()
        let domains = ResourceManager.Domain.all(rm, nodeIDs: ids)
        self.init(nodeID: nodeID, configuredNodes: c.nodes.map { NodeID($0.nodeID) }.sorted(),
                  services: forest.services.map { ResourceManager.ServiceSpec(tree: $0, rules: rules, domains: domains) },
                  rules: rules, statusChildMax: Int(rm.statusChildMax ?? 5), wallClockOrigin: wallClockOrigin, configVersion: c.configVersion)
    }
}

extension ResourceManager.Domain {
    /// `<failoverdomains>` with node names turned into ids (names cluster.conf does not list are left out; the
    /// config rules already reported them).
    public static func all(_ rm: ResourceManagerConfig, nodeIDs: [String: NodeID]) -> [ResourceManager.Domain] {
        rm.failoverDomains.map { d in
            ResourceManager.Domain(name: d.name, ordered: d.ordered, restricted: d.restricted, noFailback: d.noFailback,
                                   members: d.nodes.compactMap { n in nodeIDs[n.name].map { ($0, d.ordered ? n.priority : 1) } })
        }
    }
}
