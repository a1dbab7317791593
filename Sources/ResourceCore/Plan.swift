// SPDX-License-Identifier: Apache-2.0

extension ResourceManager {
    /// One agent call of a plan: an action on the resource at `path` (child indices from the service root).
    public struct Step: Sendable, Hashable, CustomStringConvertible {
        public var action: Action
        public var path: [Int]
        public var type: String
        public var primaryValue: String

        public init(action: Action, path: [Int], type: String, primaryValue: String) {
            self.action = action
            self.path = path
            self.type = type
            self.primaryValue = primaryValue
        }

        /// `[start] ip:10.0.0.1/24`, as rg_test noop prints it.
        public var description: String { "[\(action.rawValue)] \(type):\(primaryValue)" }
    }

    /// The order in which rgmanager runs a tree (restree.c `_res_op_by_level`):
    ///
    /// - start (and status): a node first, then its children level by level (1, 2, …) by the parent's child table,
    ///   children of one level in tree order; then the untyped children (and typed ones with no level) in file order;
    /// - stop: the untyped children first in reverse order, then the typed levels by their stop level, children of
    ///   one level in reverse tree order; the node itself last;
    /// - a node whose type has no child table runs its children in order for start and in reverse for stop.
    public struct Planner: Sendable {
        public let rules: [String: Rule]
        public init(rules: [String: Rule]) { self.rules = rules }

        /// The steps of `action` on `tree`, or on its subtree at `path`.
        public func plan(_ action: Action, _ tree: Resource, at path: [Int] = []) -> [Step] {
            var steps: [Step] = []
            walk(action, tree[path: path], path: path, into: &steps)
            return steps
        }

        private func walk(_ action: Action, _ node: Resource, path: [Int], into steps: inout [Step]) {
            let me = Step(action: action, path: path, type: node.type, primaryValue: node.primaryValue)
            if action != .stop { steps.append(me) }
            for i in childOrder(action, node) {
                walk(action, node.children[i], path: path + [i], into: &steps)
            }
            if action == .stop { steps.append(me) }
        }

        /// The order of `node`'s children (indices) for `action`.
        public func childOrder(_ action: Action, _ node: Resource) -> [Int] {
            let all = Array(node.children.indices)
            guard let rule = rules[node.type], !rule.children.isEmpty else {
                return action == .stop ? all.reversed() : all
            }
            func level(_ child: Resource) -> Int {
                guard let entry = rule.child(child.type) else { return 0 }
                return action == .stop ? entry.stopLevel : entry.startLevel
            }
            // A child type with neither level runs with the untyped children (rgmanager's _xx_child_internal).
            func untyped(_ child: Resource) -> Bool {
                guard let entry = rule.child(child.type) else { return true }
                return entry.startLevel == 0 && entry.stopLevel == 0
            }
            let levels = Set(all.filter { !untyped(node.children[$0]) }.map { level(node.children[$0]) }).filter { $0 > 0 }.sorted()
            var leveled: [Int] = []
            for l in levels {
                // Within a level, rgmanager walks the child table's types in order, and each type's nodes in list
                // order (reverse for stop).
                for entry in rule.children where (action == .stop ? entry.stopLevel : entry.startLevel) == l {
                    let ofType = all.filter { node.children[$0].type == entry.type && !untyped(node.children[$0]) }
                    leveled += action == .stop ? ofType.reversed() : ofType
                }
            }
            let rest = all.filter { untyped(node.children[$0]) }
            return action == .stop ? rest.reversed() + leveled : leveled + rest
        }
    }
}
