// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

/// The options every daemon takes, the same way everywhere.
public struct DaemonArguments: ParsableArguments, Sendable {
    @Option(name: [.customShort("f"), .customLong("config")],
            help: "cluster.conf to use (default: $CLUSTER_CONF or /etc/cluster/cluster.conf).")
    public var config: String?

    @Option(name: [.customShort("I"), .customLong("instance")],
            help: "Node instance name, for several nodes on one host (or $CLUSTER_INSTANCE).")
    public var instance: String?

    @Option(name: [.customShort("n"), .customLong("node")],
            help: "This node's name in cluster.conf (or $CLUSTER_NODE_NAME; default: the host name).")
    public var node: String?

    @Flag(name: .customShort("d"), help: "Debug logging to stderr.")
    public var debug = false

    public init() {}
}
