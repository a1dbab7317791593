// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The rgmanager safety check of a stack simulation: no service ever has resources up on two nodes at once.
///
/// It watches the simulated agents, not the cores' bookkeeping: a node holds a service from the moment one of the
/// service's resources is started there until every one of them is stopped there, or the node is fenced or reboots.
public struct ResourceChecker: Sendable {
    public internal(set) var violations: [String] = []
    /// What the run compared and did, so a run that checked nothing can be told apart.
    public internal(set) var holderChecks = 0
    public internal(set) var starts = 0
    public internal(set) var takeoversAfterFencing = 0
    public internal(set) var fencings = 0
    public internal(set) var statusFailures = 0
    public internal(set) var adminRequests = 0
    /// Runs whose cluster stayed inquorate after the heal (no liveness to require).
    public internal(set) var inquorateAfterHeal = 0
    /// node -> service -> resource paths that are up.
    var up: [Int: [String: Set<[Int]>]] = [:]

    /// The nodes holding any resource of `service`.
    public func holders(_ service: String) -> [Int] {
        up.keys.sorted().filter { !(up[$0]?[service]?.isEmpty ?? true) }
    }

    mutating func started(node: Int, service: String, path: [Int], at now: MonotonicInstant) {
        up[node, default: [:]][service, default: []].insert(path)
        if path.isEmpty { starts += 1 }
        check(service, at: now)
    }

    mutating func stopped(node: Int, service: String, path: [Int]) {
        up[node]?[service]?.remove(path)
    }

    /// The node's resources are gone (fenced, or rebooted).
    mutating func cleared(node: Int) { up[node] = nil }

    mutating func check(_ service: String, at now: MonotonicInstant) {
        holderChecks += 1
        let h = holders(service)
        if h.count > 1 && violations.count < 10 {
            violations.append("two owners at \(now): service:\(service) has resources up on \(h.map { "n\($0 + 1)" }.joined(separator: " and "))")
        }
    }

    mutating func fail(_ text: String) { if violations.count < 10 { violations.append(text) } }
}
