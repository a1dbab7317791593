// SPDX-License-Identifier: Apache-2.0

extension ResourceManager {
    /// What a running service must do when its tree changes under it (a reload), as rgmanager's condstop/condstart:
    ///
    /// - a resource removed from the tree, or whose attributes or `__` options changed, is stopped with its whole
    ///   subtree (the resources that depend on it), in the stop order of the tree it was started with;
    /// - a resource added, or changed, is started with its whole subtree, in the start order of the new tree;
    /// - everything else keeps running untouched.
    ///
    /// Resources are matched by their chain of `type:primary` names from the root (`service:db/fs:data/script:pg`),
    /// so a resource that moves under another parent counts as removed and added. The root's own attributes
    /// (`autostart`, `domain`, `recovery`, …) are policy: `service` holds nothing, so they apply without any agent
    /// call. rgmanager's `reconfig` action for parameters marked `reconfig="1"` is not used: such a change restarts
    /// the resource like any other.
    public struct Reconfiguration: Sendable, Hashable {
        /// Stops on the old tree (paths into it), in its stop order.
        public var stop: [Step]
        /// Starts on the new tree (paths into it), in its start order.
        public var start: [Step]

        /// True when nothing needs an agent call.
        public var isEmpty: Bool { stop.isEmpty && start.isEmpty }

        /// The condstop/condstart plan from `old` (the tree the service's resources were started with) to `new`.
        public static func between(_ old: Resource, _ new: Resource, rules: [String: Rule]) -> Reconfiguration {
            let oldNodes = index(old), newNodes = index(new)
            // Name chains of the resources that must stop on the old side and start on the new one (never the root).
            var stopKeys = Set<[String]>(), startKeys = Set<[String]>()
            for (key, node) in oldNodes where key.count > 1 {
                if let other = newNodes[key], sameResource(node, other) { continue }
                stopKeys.insert(key)
            }
            for (key, node) in newNodes where key.count > 1 {
                if let other = oldNodes[key], sameResource(node, other) { continue }
                startKeys.insert(key)
            }
            let planner = Planner(rules: rules)
            return Reconfiguration(stop: planner.plan(.stop, old).filter { covered(chain(of: $0.path, in: old), by: stopKeys) },
                                   start: planner.plan(.start, new).filter { covered(chain(of: $0.path, in: new), by: startKeys) })
        }

        /// True if `a` and `b` differ in nothing an agent sees (ignoring the children, which are compared one by one).
        static func sameResource(_ a: Resource, _ b: Resource) -> Bool {
            a.type == b.type && a.primaryValue == b.primaryValue && a.attributes == b.attributes && a.options == b.options
        }

        /// Every node of `tree` under its chain of names from the root (the first of two equal chains wins; the
        /// tree builder refuses duplicates anyway).
        static func index(_ tree: Resource) -> [[String]: Resource] {
            var out: [[String]: Resource] = [:]
            func walk(_ r: Resource, _ chain: [String]) {
                if out[chain] == nil { out[chain] = r }
                for c in r.children { walk(c, chain + [c.displayName]) }
            }
            walk(tree, [tree.displayName])
            return out
        }

        static func chain(of path: [Int], in tree: Resource) -> [String] {
            var node = tree
            var chain = [tree.displayName]
            for i in path {
                node = node.children[i]
                chain.append(node.displayName)
            }
            return chain
        }

        /// A chain is covered when it or one of its ancestors is flagged (a flagged resource takes its subtree along).
        static func covered(_ chain: [String], by flagged: Set<[String]>) -> Bool {
            (1...chain.count).contains { flagged.contains(Array(chain.prefix($0))) }
        }
    }
}
