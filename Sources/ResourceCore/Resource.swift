// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel

extension ResourceManager {
    /// One node of a resolved resource tree: its type, every attribute the agent will get (configured, defaulted from
    /// the metadata, or inherited from an ancestor), rgmanager's per-node options and its children in tree order
    /// (typed children first, in the order of the parent's child table, then the untyped ones in file order).
    public struct Resource: Sendable, Hashable {
        public var type: String
        /// The value that names this resource among its type (the primary parameter, else the first attribute).
        public var primaryValue: String
        /// In the rule's parameter order; only those with a value or an inheritance rule.
        public var attributes: [Attribute]
        public var options: Options
        public var children: [Resource]
        /// Where the element is in cluster.conf (for a `ref=`, the referring element).
        public var line: Int
        /// The `ref=` this node came from, if it refers to a definition in `<resources>`.
        public var reference: String?

        public init(type: String, primaryValue: String, attributes: [Attribute], options: Options = Options(), children: [Resource] = [],
                    line: Int = 0, reference: String? = nil) {
            self.type = type
            self.primaryValue = primaryValue
            self.attributes = attributes
            self.options = options
            self.children = children
            self.line = line
            self.reference = reference
        }

        /// One resolved attribute. `value` is nil only for an inherited parameter whose ancestor lacks it.
        public struct Attribute: Sendable, Hashable {
            public enum Source: Sendable, Hashable { case configured, metadataDefault, inherited }
            public var name: String
            public var value: String?
            public var source: Source
            public init(_ name: String, _ value: String?, source: Source = .configured) {
                self.name = name
                self.value = value
                self.source = source
            }
        }

        /// rgmanager's `__` options on a tree node.
        public struct Options: Sendable, Hashable {
            /// `__independent_subtree="1"`: a failed status check restarts only this subtree.
            public var independentSubtree = false
            /// `__independent_subtree="2"` (non-critical): a failure stops only this subtree and marks the
            /// service partial.
            public var nonCritical = false
            /// `__enforce_timeouts="1"`.
            public var enforceTimeouts = false
            public var maxRestarts: Int = 0
            public var restartExpireTime: Duration = .zero
            public var maxFailures: Int = 0
            public var failureExpireTime: Duration = .zero
            public init() {}
        }

        /// The value of attribute `name` as the agent gets it.
        public subscript(_ name: String) -> String? { attributes.first { $0.name == name }?.value }


        /// `type:primary`, as rg_test prints a resource (`ip:10.0.0.1/24`, `service:www`).
        public var displayName: String { "\(type):\(primaryValue)" }

        /// The number of nodes in this subtree, this one included.
        public var count: Int { 1 + children.reduce(0) { $0 + $1.count } }

        /// The node at `path` (child indices from this node).
        public subscript(path path: [Int]) -> Resource {
            var node = self
            for i in path { node = node.children[i] }
            return node
        }
    }
}
