// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Fence {
    /// The operator-facing log lines, in one place: administrators grep for them (fenced's "fencing node X",
    /// "fence X success"), so they change only on purpose.
    public enum Text {
        public static func fencing(_ name: String) -> String { "fencing node \(name)" }
        public static func deferred(_ name: String, to master: String) -> String { "fencing of node \(name) deferred to \(master)" }
        public static func attempt(_ name: String, method: String, device: String, agent: String, outcome: AgentOutcome,
                                   stderr: String) -> String {
            let tail = stderr.isEmpty ? "" : ": \(stderr)"
            return "fence \(name) method \(method) device \(device) agent \(agent) result: \(outcome)\(tail)"
        }
        public static func failedPass(_ name: String, retryIn: Duration) -> String {
            "fence \(name) failed; every method failed, retrying in \(retryIn.millisecondsClamped / 1000) s (fence_ack_manual \(name) overrides)"
        }
        public static func unconfigured(_ name: String) -> String {
            "fence \(name): no fence method is configured for it in cluster.conf"
        }
        public static func delayed(_ count: Int, by delay: Duration?, reason: String) -> String {
            let span = delay.map { "\($0.millisecondsClamped / 1000) s" } ?? "until they rejoin"
            return "\(count) victim(s); waiting \(span) (\(reason)) before fencing"
        }
        public static func resolved(_ r: Resolution) -> String {
            switch r.how {
            case .agent: return "fence \(r.victimName) success"
            case .member: return "fence \(r.victimName) averted: it restarted and rejoined"
            case .override: return "fence \(r.victimName) overridden by administrator intervention"
            case .external: return "fence \(r.victimName) done outside the domain by \(r.agent)"
            case .none: return "fence \(r.victimName) settled"
            }
        }
        public static func unfenced(_ name: String) -> String { "unfence \(name) success" }
        public static func unfenceFailed(_ name: String, _ why: String) -> String { "unfence \(name) failed: \(why); not joining the fence domain" }
        public static func kicked(_ name: String) -> String { "the fence daemon of node \(name) died; removing the node from the cluster" }
        public static func victimsFull(_ name: String) -> String { "cannot add node \(name) as a victim: \(Fence.victimsMax) victims already" }
    }
}
