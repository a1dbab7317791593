// SPDX-License-Identifier: Apache-2.0

/// What the quorum and group checks of a stack run compared, so that a run (or a sweep) that checked nothing fails
/// instead of passing: the group sweep once passed seeds that delivered no message and compared no view.
public struct StackCoverage: Sendable, Hashable, CustomStringConvertible {
    /// One figure of a run.
    public enum Figure: String, CaseIterable, Sendable {
        case groupMessagesDelivered = "group messages delivered"
        case groupViewsCompared = "group views compared"
        case groupOrderComparisons = "group delivery sequences compared"
        case groupSelfDeliveriesChecked = "group self-deliveries checked"
        case groupLivenessChecked = "group deliveries checked for liveness"
        case quorumDecisions = "quorum decisions seen"
        case quorumPairsCompared = "quorate pairs compared"
        case quorumTransitions = "quorum gained or lost"
        case fencingDone = "nodes fenced"
        case qdiskMasters = "quorum disk master changes"
        case adminAccepted = "admin changes accepted"
        case adminRefused = "admin changes refused"
        case adminRepairs = "votes restored after the heal"
        case configInstalls = "configurations installed"
        case lastManStandingExpiries = "last_man_standing windows expired"
        case disallowedSeen = "Disallowed sightings"
        case upperRetries = "upper multicasts refused and retried"
    }

    private var counts = [Int](repeating: 0, count: Figure.allCases.count)

    public init() {}

    public subscript(_ f: Figure) -> Int {
        get { counts[Figure.allCases.firstIndex(of: f)!] }
        set { counts[Figure.allCases.firstIndex(of: f)!] = newValue }
    }

    public static func + (a: StackCoverage, b: StackCoverage) -> StackCoverage {
        var s = a
        for i in s.counts.indices { s.counts[i] += b.counts[i] }
        return s
    }

    /// A violation per layer whose checks compared nothing in this run.
    public func emptyChecks(quorum: Bool, groups: Bool) -> [String] {
        var v: [String] = []
        if quorum && (self[.quorumDecisions] == 0 || self[.quorumPairsCompared] == 0) {
            v.append("checked nothing: the quorum check saw \(self[.quorumDecisions]) decisions and compared \(self[.quorumPairsCompared]) quorate pairs")
        }
        if groups && (self[.groupMessagesDelivered] == 0 || self[.groupViewsCompared] == 0) {
            v.append("checked nothing: the group check saw \(self[.groupMessagesDelivered]) deliveries and compared \(self[.groupViewsCompared]) views")
        }
        return v
    }

    public var description: String { Figure.allCases.filter { self[$0] > 0 }.map { "\($0.rawValue) \(self[$0])" }.joined(separator: ", ") }
}
