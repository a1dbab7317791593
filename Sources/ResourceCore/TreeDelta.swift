// SPDX-License-Identifier: Apache-2.0

extension ResourceManager {
    /// How one service's tree differs between two configurations (`rg_test delta`, and what a reload must do).
    public struct TreeDelta: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable { case added, removed, changed }
        public var service: String
        public var kind: Kind
        /// For a changed service: one line per resource added (`+`), removed (`-`) or with new attributes (`~`).
        public var details: [String]

        public var description: String {
            ([ "\(service) \(kind.rawValue)" ] + details.map { "  " + $0 }).joined(separator: "\n")
        }

        /// The differences from `old` to `new`, services in `new`'s order then the removed ones.
        public static func between(_ old: [Resource], _ new: [Resource]) -> [TreeDelta] {
            var out: [TreeDelta] = []
            let oldByName = Dictionary(old.map { ($0.displayName, $0) }, uniquingKeysWith: { a, _ in a })
            let newNames = Set(new.map(\.displayName))
            for n in new {
                guard let o = oldByName[n.displayName] else {
                    out.append(TreeDelta(service: n.displayName, kind: .added, details: []))
                    continue
                }
                let details = compare(flatten(o), flatten(n))
                if !details.isEmpty { out.append(TreeDelta(service: n.displayName, kind: .changed, details: details)) }
            }
            for o in old where !newNames.contains(o.displayName) {
                out.append(TreeDelta(service: o.displayName, kind: .removed, details: []))
            }
            return out
        }

        /// Each node under its chain of display names (`service:www/fs:docroot/script:httpd`), in tree order.
        static func flatten(_ r: Resource, prefix: String = "") -> [(key: String, node: Resource)] {
            let key = prefix.isEmpty ? r.displayName : prefix + "/" + r.displayName
            return [(key, r)] + r.children.flatMap { flatten($0, prefix: key) }
        }

        static func compare(_ a: [(key: String, node: Resource)], _ b: [(key: String, node: Resource)]) -> [String] {
            let aMap = Dictionary(a.map { ($0.key, $0.node) }, uniquingKeysWith: { x, _ in x })
            let bKeys = Set(b.map(\.key))
            var lines: [String] = []
            for (key, node) in b {
                guard let before = aMap[key] else {
                    lines.append("+ \(key)")
                    continue
                }
                let names = (before.attributes.map(\.name) + node.attributes.map(\.name)).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
                for name in names where before[name] != node[name] {
                    lines.append("~ \(key): \(name) \(quote(before[name])) -> \(quote(node[name]))")
                }
                if before.options != node.options { lines.append("~ \(key): rgmanager options changed") }
            }
            for (key, _) in a where !bKeys.contains(key) { lines.append("- \(key)") }
            return lines
        }

        static func quote(_ v: String?) -> String { v.map { "\"\($0)\"" } ?? "(unset)" }
    }
}
