// SPDX-License-Identifier: Apache-2.0
import ClusterSystem

/// What `totemd`'s command line and environment chose.
public struct TotemDaemonOptions: Sendable {
    public var instance: NodeInstance
    /// The cluster node this daemon is (`-n`, `CLUSTER_NODE_NAME`); nil: found from the host name or addresses.
    public var nodeName: String?
    public var debug: Bool

    public init(instance: NodeInstance, nodeName: String?, debug: Bool) {
        self.instance = instance
        self.nodeName = nodeName
        self.debug = debug
    }
}
