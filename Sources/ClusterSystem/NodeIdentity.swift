// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes

#if canImport(Glibc)
import Glibc
#endif

/// Which `<clusternode>` this process is, and every node's address.
public struct NodeIdentity: Sendable {
    public var node: ClusterNodeConfig
    public var address: SocketAddress
    public var peers: [NodeID: SocketAddress]

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
        return NodeIdentity(node: me, address: peers[NodeID(me.nodeID)]!, peers: peers)
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

    public var description: String {
        switch self {
        case .unresolved(let names): "cannot resolve the address of node(s) \(names.joined(separator: ", ")) (check DNS or /etc/hosts)"
        case .unknownNode(let n, let all): "node \"\(n)\" is not in cluster.conf (nodes: \(all.joined(separator: ", ")))"
        case .notFound(let host): "this host (\(host)) is not a <clusternode> by name or address; use -n NODENAME"
        }
    }
}
