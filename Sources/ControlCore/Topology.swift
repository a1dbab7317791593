// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Control {
    /// The cluster's member nodes as a control daemon last saw them, and what to tell the kernel when they change:
    /// dlm_controld's STATECHANGE handling (query the members, compare with the last view, act on the difference).
    /// A node another component still uses can be pinned (seed 003: o2cb_controld must not remove a node that
    /// ocfs2_controld has pinned); its removal waits until every pin is released.
    public struct Topology: Sendable {
        /// A member node and what the kernel needs to know of it.
        public struct Node: Hashable, Sendable {
            public var id: NodeID
            public var name: String
            public var address: String
            public init(id: NodeID, name: String, address: String) {
                self.id = id
                self.name = name
                self.address = address
            }
        }

        /// What to do to the kernel's node list.
        public enum Change: Hashable, Sendable, CustomStringConvertible {
            case add(Node)
            case remove(NodeID)
            /// A removal held back by pins.
            case removalDeferred(NodeID, pinnedBy: [String])
            public var description: String {
                switch self {
                case .add(let n): "add node \(n.id) (\(n.name) \(n.address))"
                case .remove(let n): "remove node \(n)"
                case .removalDeferred(let n, let by): "node \(n) left; removal waits for \(by.joined(separator: ", "))"
                }
            }
        }

        /// Nodes in the kernel's list now.
        public private(set) var nodes: [NodeID: Node] = [:]
        private var pins: [NodeID: Set<String>] = [:]
        /// Nodes that left but stay in the kernel's list while pinned.
        public private(set) var leaving: Set<NodeID> = []

        public init() {}

        /// The members after a state change; returns the changes to make, adds before removals, each ascending.
        public mutating func update(members: [Node]) -> [Change] {
            var changes: [Change] = []
            let current = Dictionary(members.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for n in members.sorted(by: { $0.id < $1.id }) {
                leaving.remove(n.id)
                guard nodes[n.id] != n else { continue }
                nodes[n.id] = n
                changes.append(.add(n))
            }
            for id in nodes.keys.sorted() where current[id] == nil && !leaving.contains(id) {
                if let by = pins[id], !by.isEmpty {
                    leaving.insert(id)
                    changes.append(.removalDeferred(id, pinnedBy: by.sorted()))
                } else {
                    nodes[id] = nil
                    changes.append(.remove(id))
                }
            }
            return changes
        }

        /// `holder` uses `node`: it stays in the kernel's list until released.
        public mutating func pin(_ node: NodeID, by holder: String) { pins[node, default: []].insert(holder) }

        /// `holder` no longer uses `node`; a removal it held back happens now.
        public mutating func unpin(_ node: NodeID, by holder: String) -> [Change] {
            pins[node]?.remove(holder)
            if pins[node]?.isEmpty == true { pins[node] = nil }
            guard leaving.contains(node), pins[node] == nil else { return [] }
            leaving.remove(node)
            nodes[node] = nil
            return [.remove(node)]
        }

        /// Who pins `node`.
        public func pinned(_ node: NodeID) -> [String] { (pins[node] ?? []).sorted() }
    }
}
