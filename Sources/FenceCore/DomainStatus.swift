// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Fence {
    /// One node as `fence_tool ls -n` shows it.
    public struct NodeStatus: Hashable, Sendable {
        public var node: NodeID
        public var member: Bool
        /// A member left out because it merged in with a domain state of its own (fenced shows it as member -1).
        public var disallowed: Bool = false
        public var victim: Bool
        /// The node that settled its last failure (0: never).
        public var lastFenceMaster: NodeID
        public var lastFenceHow: How
        public var lastFenceTime: UInt64
        public var lastFenceAgent: String
        public init(node: NodeID, member: Bool, victim: Bool, lastFenceMaster: NodeID = NodeID(0), lastFenceHow: How = .none,
                    lastFenceTime: UInt64 = 0, lastFenceAgent: String = "") {
            self.node = node
            self.member = member
            self.victim = victim
            self.lastFenceMaster = lastFenceMaster
            self.lastFenceHow = lastFenceHow
            self.lastFenceTime = lastFenceTime
            self.lastFenceAgent = lastFenceAgent
        }
    }

    /// The fence domain as one member sees it: what `fence_tool ls` prints.
    public struct DomainStatus: Hashable, Sendable {
        public var name: String
        public var phase: Phase
        /// Member node ids, ascending.
        public var members: [NodeID]
        public var victimCount: Int
        /// The victim being fenced now (0: none).
        public var victimNow: NodeID
        /// The master's node id (0: not chosen yet).
        public var master: NodeID
        public var waitState: WaitState
        /// Every configured node, and any other node the domain knows of, ascending.
        public var nodes: [NodeStatus]
        public init(name: String = Fence.domainName, phase: Phase, members: [NodeID], victimCount: Int, victimNow: NodeID, master: NodeID,
                    waitState: WaitState, nodes: [NodeStatus]) {
            self.name = name
            self.phase = phase
            self.members = members
            self.victimCount = victimCount
            self.victimNow = victimNow
            self.master = master
            self.waitState = waitState
            self.nodes = nodes
        }

        /// `fence_tool ls` output, laid out as cluster 3's fence_tool prints it (including the space after each
        /// member id and the closing empty line); with `allNodes`, the `-n` table follows.
        public func listing(allNodes: Bool = false) -> String {
            var s = "fence domain\n"
            s += "member count  \(members.count)\n"
            s += "victim count  \(victimCount)\n"
            s += "victim now    \(victimNow)\n"
            s += "master nodeid \(master)\n"
            s += "wait state    \(waitState.rawValue)\n"
            s += "members       " + members.map { "\($0) " }.joined() + "\n"
            if allNodes {
                s += "all nodes\n"
                for n in nodes {
                    s += "nodeid \(n.node) member \(n.disallowed ? -1 : n.member ? 1 : 0) victim \(n.victim ? 1 : 0) last fence master \(n.lastFenceMaster) how \(n.lastFenceHow)\n"
                }
            }
            return s + "\n"
        }
    }
}

extension Fence.StateMachine {
    /// What `fence_tool ls` shows on this member.
    public var status: Fence.DomainStatus {
        let members = view?.nodes ?? []
        var ids = Set(settings.nodes.map(\.id)).union(history.keys).union(victims.map(\.node)).union(members)
        ids.remove(NodeID(0))
        let nodes = ids.sorted().map { id -> Fence.NodeStatus in
            let h = history[id]
            var s = Fence.NodeStatus(node: id, member: members.contains(id), victim: victims.contains { $0.node == id },
                                     lastFenceMaster: h?.master ?? NodeID(0), lastFenceHow: h?.how ?? .none,
                                     lastFenceTime: h?.wallClockSeconds ?? 0, lastFenceAgent: h?.agent ?? "")
            s.disallowed = disallowed.contains { $0.node == id }
            return s
        }
        let now = running.flatMap { $0.abandoned ? nil : $0.target } ?? NodeID(0)
        return Fence.DomainStatus(phase: phase, members: members, victimCount: victims.count, victimNow: now,
                                  master: master ?? NodeID(0), waitState: waitState, nodes: nodes)
    }
}
