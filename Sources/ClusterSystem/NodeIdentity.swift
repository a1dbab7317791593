// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes

#if canImport(Glibc)
import Glibc
#endif

/// Which `<clusternode>` this process is, and every node's address on every ring.
public struct NodeIdentity: Sendable {
    public var node: ClusterNodeConfig
    /// This node's ring 0 address (its `<clusternode name>`).
    public var address: SocketAddress
    /// Every node's ring 0 address.
    public var peers: [NodeID: SocketAddress]
    /// Ring 0 and one more per `<altname>`: this node's address on it and every node's.
    public var rings: [Ring] = []

    public struct Ring: Sendable, Hashable {
        public var local: SocketAddress
        public var peers: [NodeID: SocketAddress]
        /// The `<altname mcast=>` of this node for rings beyond 0, when given.
        public var multicastAddress: String?
    }

    /// Resolves the cluster's nodes and picks this one: by `name` when given, else by the host name, else by a
    /// node address that belongs to a local interface.
    public static func resolve(config: ClusterConfiguration, name: String?) throws(IdentityError) -> NodeIdentity {
        var peers: [NodeID: SocketAddress] = [:]
        var unresolved: [String] = []
        for n in config.nodes {
            if let a = SocketAddress.resolve(n.name, port: config.cman.port) {
                peers[NodeID(n.nodeID)] = a
            } else {
                unresolved.append(n.name)
            }
        }
        if !unresolved.isEmpty {
            throw .unresolved(unresolved)
        }
        let me: ClusterNodeConfig
        if let name {
            guard let n = config.node(named: name) else { throw .unknownNode(name, config.nodes.map(\.name)) }
            me = n
        } else if let n = config.node(named: hostName()) ?? config.node(named: String(hostName().prefix { $0 != "." })) {
            me = n
        } else {
            let local = Set(SocketAddress.localAddresses())
            let matches = config.nodes.filter { peers[NodeID($0.nodeID)].map { local.contains($0.address) } ?? false }
            guard matches.count == 1 else { throw .notFound(hostName()) }
            me = matches[0]
        }
        var identity = NodeIdentity(node: me, address: peers[NodeID(me.nodeID)]!, peers: peers)
        identity.rings = [Ring(local: identity.address, peers: peers, multicastAddress: nil)]
        for ring in 1..<(me.altNames.count + 1) {
            var ringPeers: [NodeID: SocketAddress] = [:]
            for n in config.nodes {
                guard n.altNames.count >= ring else { throw .missingAltName(n.name, ring) }
                let alt = n.altNames[ring - 1]
                guard let a = SocketAddress.resolve(alt.name, port: alt.port ?? config.cman.port) else {
                    throw .unresolved(["\(alt.name) (ring \(ring) of \(n.name))"])
                }
                ringPeers[NodeID(n.nodeID)] = a
            }
            identity.rings.append(Ring(local: ringPeers[NodeID(me.nodeID)]!, peers: ringPeers,
                                       multicastAddress: me.altNames[ring - 1].multicastAddress))
        }
        return identity
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

public enum IdentityError: Error, Sendable, CustomStringConvertible {
    case unresolved([String])
    case unknownNode(String, [String])
    case notFound(String)
    case missingAltName(String, Int)

    public var description: String {
        switch self {
        case .unresolved(let names): "cannot resolve the address of node(s) \(names.joined(separator: ", ")) (check DNS or /etc/hosts)"
        case .unknownNode(let n, let all): "node \"\(n)\" is not in cluster.conf (nodes: \(all.joined(separator: ", ")))"
        case .missingAltName(let n, let ring): "node \(n) has no <altname> for ring \(ring); every node needs an address on every ring"
        case .notFound(let host): "this host (\(host)) is not a <clusternode> by name or address; use -n NODENAME"
        }
    }
}
