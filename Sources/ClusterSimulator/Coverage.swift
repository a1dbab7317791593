// SPDX-License-Identifier: Apache-2.0
import TotemCore

/// What a simulated run compared and which protocol paths it went through, so that a run (or a sweep) that checked
/// nothing is told apart from one that passed: each checker counts its comparisons, and the cores' counters show
/// which recovery paths were taken.
public struct Coverage: Sendable, Hashable, CustomStringConvertible {
    /// One figure of a run.
    public enum Figure: String, CaseIterable, Sendable {
        // Comparisons made by the checkers.
        case messagesDelivered = "messages delivered"
        case orderedPairsCompared = "message pairs ordered"
        case configurationStepsCompared = "configuration steps compared"
        case transitionalDeliveries = "transitional deliveries"
        case safeDeliveriesChecked = "safe deliveries checked"
        case selfDeliveriesChecked = "self-deliveries checked"
        case ringsInstalled = "rings installed"
        /// Runs of the healed-phase stability check (light loss, spurious unreachable reports, no membership change).
        case stabilityChecks = "stability checks"
        case spuriousReportsInjected = "spurious unreachable reports"
        // Paths the cores took (their counters, summed over every node and incarnation).
        case lateOldRingMessages = "late old-ring messages dropped"
        case lateOldRingMessagesInRecovery = "late old-ring messages in recovery"
        case recoveryRebroadcasts = "recovery rebroadcasts"
        case failedToReceive = "failed to receive"
        case commitTokenRetransmits = "commit token retransmits"
        case tokenRetransmits = "token retransmits"
        case foreignRingMerges = "merges from foreign messages"
        case unreachableFailures = "peers failed as unreachable"
        case unreachableRefuted = "unreachable reports refuted"
    }

    private var counts = [Int](repeating: 0, count: Figure.allCases.count)

    public init() {}

    public subscript(_ f: Figure) -> Int {
        get { counts[Figure.allCases.firstIndex(of: f)!] }
        set { counts[Figure.allCases.firstIndex(of: f)!] = newValue }
    }

    mutating func add(_ c: Totem.Counters) {
        self[.lateOldRingMessages] += c.lateOldRingMessages
        self[.lateOldRingMessagesInRecovery] += c.lateOldRingMessagesInRecovery
        self[.recoveryRebroadcasts] += c.recoveryRebroadcasts
        self[.failedToReceive] += c.failedToReceive
        self[.commitTokenRetransmits] += c.commitTokenRetransmits
        self[.tokenRetransmits] += c.tokenRetransmits
        self[.foreignRingMerges] += c.foreignRingMerges
        self[.unreachableFailures] += c.unreachableFailures
        self[.unreachableRefuted] += c.unreachableRefuted
    }

    public static func + (a: Coverage, b: Coverage) -> Coverage {
        var s = a
        for i in s.counts.indices { s.counts[i] += b.counts[i] }
        return s
    }

    /// The figures a sweep must see above zero, summed over its seeds: a path no seed reached is a path the checks
    /// never tried.
    public static let sweepMustReach: [Figure] = Figure.allCases

    /// Figures of `sweepMustReach` that stayed at zero.
    public var unreached: [Figure] { Self.sweepMustReach.filter { self[$0] == 0 } }

    /// Whether the run compared anything at all: messages in order between nodes, or a node's own deliveries.
    public var comparedSomething: Bool { self[.orderedPairsCompared] > 0 || self[.selfDeliveriesChecked] > 0 }

    public var description: String { Figure.allCases.map { "\($0.rawValue) \(self[$0])" }.joined(separator: ", ") }
}
