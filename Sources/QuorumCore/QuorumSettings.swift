// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes

extension Quorum {
    /// A configured node as the quorum rules need it.
    public struct ConfiguredNode: Hashable, Sendable {
        public var id: NodeID
        public var name: String
        public var votes: UInt32
        public init(id: NodeID, name: String, votes: UInt32) {
            self.id = id
            self.name = name
            self.votes = votes
        }
    }

    /// The quorum rules' inputs from cluster.conf.
    public struct Settings: Hashable, Sendable {
        public var clusterName: String
        public var nodes: [ConfiguredNode]
        /// `<cman expected_votes>`, or the sum of configured votes (plus the quorum disk's votes).
        public var expectedVotes: UInt32
        public var twoNode: Bool
        public var waitForAll: Bool
        public var lastManStanding: Bool
        public var lastManStandingWindow: Duration
        public var autoTieBreaker: Bool
        /// The quorum disk's votes, if one is configured.
        public var qdiskVotes: UInt32?
        /// How long a staged shutdown waits for registered clients' answers (`<cman shutdown_timeout>`).
        public var shutdownTimeout: Duration = .seconds(5)
        /// Deliberate weakenings (mutation tests only; cluster.conf cannot set them).
        public var mutations: Mutations = []

        public init(clusterName: String, nodes: [ConfiguredNode], expectedVotes: UInt32? = nil, twoNode: Bool = false,
                    waitForAll: Bool = false, lastManStanding: Bool = false, lastManStandingWindow: Duration = .seconds(10),
                    autoTieBreaker: Bool = false, qdiskVotes: UInt32? = nil) {
            self.clusterName = clusterName
            self.nodes = nodes.sorted { $0.id < $1.id }
            self.expectedVotes = expectedVotes ?? (nodes.reduce(0) { $0 + $1.votes } + (qdiskVotes ?? 0))
            self.twoNode = twoNode
            self.waitForAll = waitForAll
            self.lastManStanding = lastManStanding
            self.lastManStandingWindow = lastManStandingWindow
            self.autoTieBreaker = autoTieBreaker
            self.qdiskVotes = qdiskVotes
        }

        /// Settings from a validated configuration.
        public init(config c: ClusterConfiguration) {
            let nodes = c.nodes.map { ConfiguredNode(id: NodeID($0.nodeID), name: $0.name, votes: $0.votes) }
            var qdisk: UInt32?
            if let q = c.quorumDisk { qdisk = q.votes ?? UInt32(max(c.nodes.count - 1, 1)) }
            self.init(clusterName: c.name, nodes: nodes, expectedVotes: c.cman.expectedVotes, twoNode: c.cman.twoNode,
                      waitForAll: c.cman.waitForAll, lastManStanding: c.cman.lastManStanding,
                      lastManStandingWindow: c.cman.lastManStandingWindow, autoTieBreaker: c.cman.autoTieBreaker, qdiskVotes: qdisk)
            shutdownTimeout = c.cman.shutdownTimeout
        }
    }
}
