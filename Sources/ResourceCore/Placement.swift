// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension ResourceManager {
    /// Where a service may and should run: failover domains (ordered, restricted), `exclusive`, nodes to avoid.
    /// Pure functions of the agreed table and view, so every node would pick the same.
    public enum Placement {
        /// The node to start `spec` on among `members`, or nil if none may run it.
        ///
        /// Candidates are the members not in `avoid`, inside the domain if it is restricted, and compatible with
        /// `exclusive` (an exclusive service needs a node running nothing; nothing joins a node running an
        /// exclusive service). `preferred` wins if it is a candidate. Otherwise domain members come first (by
        /// priority when ordered), then the others; ties go to the node running fewest services, then the lowest id.
        public static func target(for spec: ServiceSpec, members: [NodeID], table: [String: Record], specs: [String: ServiceSpec],
                                  avoid: Set<NodeID>, preferred: NodeID?) -> NodeID? {
            var load: [NodeID: Int] = [:]
            var exclusiveHosts = Set<NodeID>()
            for (name, rec) in table.sorted(by: { $0.key < $1.key }) where name != spec.name && rec.state.holdsResources {
                guard let o = rec.owner else { continue }
                load[o, default: 0] += 1
                if specs[name]?.exclusive == true { exclusiveHosts.insert(o) }
            }
            let candidates = members.filter { n in
                guard !avoid.contains(n) else { return false }
                if let d = spec.domain, d.restricted, !d.contains(n) { return false }
                if spec.exclusive { return load[n, default: 0] == 0 }
                return !exclusiveHosts.contains(n)
            }
            if let p = preferred, candidates.contains(p) { return p }
            return candidates.min { a, b in rank(a, spec, load) < rank(b, spec, load) }
        }

        /// Sort key: in-domain first, then priority (ordered domains), then load, then id.
        static func rank(_ n: NodeID, _ spec: ServiceSpec, _ load: [NodeID: Int]) -> (Int, UInt32, Int, UInt32) {
            guard let d = spec.domain, let p = d.priority(n) else { return (1, 0, load[n, default: 0], n.rawValue) }
            return (0, d.ordered ? p : 0, load[n, default: 0], n.rawValue)
        }

        /// For an ordered domain without nofailback: a member of a better priority than `owner`'s that could run it
        /// (failback), or nil.
        public static func failback(for spec: ServiceSpec, owner: NodeID, members: [NodeID], table: [String: Record],
                                    specs: [String: ServiceSpec]) -> NodeID? {
            guard let d = spec.domain, d.ordered, !d.noFailback else { return nil }
            let current = d.priority(owner) ?? UInt32.max
            guard let best = target(for: spec, members: members, table: table, specs: specs, avoid: [], preferred: nil),
                  let p = d.priority(best), p < current else { return nil }
            return best
        }
    }
}
