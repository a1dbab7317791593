// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension CmanIPC {
    /// A node's last fence as quorumd keeps it (cman's fence_time and fence_agent of a node): `cman_tool nodes -f`.
    public struct FenceRecord: Hashable, Sendable {
        /// quorumd keeps at most this many records (one per node; a cluster has far fewer nodes).
        public static let recordsMax = 1024
        /// An agent's name is cut to this many bytes.
        public static let agentBytesMax = 1024
        public var node: NodeID
        /// Wall-clock seconds of the fence.
        public var wallClockSeconds: UInt64
        /// The agent(s) that fenced it, or `fence_ack_manual` for an operator's override.
        public var agent: String
        public init(node: NodeID, wallClockSeconds: UInt64, agent: String) {
            self.node = node
            self.wallClockSeconds = wallClockSeconds
            self.agent = agent
        }
    }
}
