// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Quorum {
    /// Protocol events an operator should see in quorumd's log; `OperatorLog` words them.
    public enum Notice: Hashable, Sendable {
        case quorumRegained(totalVotes: UInt32, expectedVotes: UInt32, quorum: UInt32)
        case quorumLost(totalVotes: UInt32, expectedVotes: UInt32, quorum: UInt32)
        /// A node came back without restarting while holding state.
        case disallowed(node: String)
        /// An administrator (or last_man_standing) set expected votes, through the message from `by`.
        case expectedVotesSet(UInt32, by: NodeID)
        case votesSet(node: String, votes: UInt32)
        /// A delivered change that adds voting power was dropped: the quorum it was checked against does not hold
        /// where it landed.
        case adminChangeDropped(what: String, why: String)
        /// A newly installed configuration raised expected votes.
        case expectedRaisedByConfiguration(UInt32)
        /// A newly installed configuration names fewer expected votes than the cluster has: they stay.
        case expectedKeptOverConfiguration(configured: UInt32, kept: UInt32)
        /// This node tells a member to leave (`cman_tool kill`).
        case killing(node: String)
        /// A member was told to leave by another.
        case nodeKilled(node: String, by: NodeID, reason: String)
        /// The quorum disk's master declares a member dead by disk: this node tells it to leave.
        case deadByDisk(NodeID)
        /// A member announced its departure; with `remove`, expected votes were lowered to `loweredExpected`.
        case nodeLeaving(node: String, loweredExpected: UInt32?)
        /// This node votes no on a proposed configuration.
        case refusingConfig(version: UInt64, from: NodeID, reason: String)
        /// A proposed configuration was refused by some member: nobody installs it.
        case configRefused(version: UInt64, reasons: String)
        /// Staged shutdown: TRY_SHUTDOWN went to `count` registered clients (for SIGTERM, or for `cman_tool leave`).
        case askingClients(bySignal: Bool, count: Int)
        /// SIGTERM while a leave is already under way: it goes on.
        case signalDuringLeave
        /// `cman_tool leave` refused by the registered clients.
        case leaveRefused(String)
    }

    /// Words what an output means for an operator: the stable lines quorumd logs (admins grep for them), defined in
    /// one place so the daemon and the transcript tests print the same text.
    public enum OperatorLog {
        public typealias Line = OperatorLine

        /// The lines for one output, in order.
        public static func lines(for out: Output) -> [Line] {
            out.effects.compactMap(line(for:))
        }

        static func line(for effect: Effect) -> Line? {
            switch effect {
            case .notice(let n): return line(for: n)
            case .leaveCluster(let reason, false): return Line(level: .notice, text: "stopping the cluster stack: \(reason)")
            case .leaveCluster(let reason, true): return Line(level: .error, text: "\(reason): stopping the cluster stack")
            case .installConfig(let version, _): return Line(level: .notice, text: "configuration version \(version) is now running")
            case .stopRefused(let why): return Line(level: .error, text: why)
            case .multicast, .stateChanged, .validateConfig, .configDistributed, .portData, .portsChanged, .barrierReleased,
                 .barrierFailed, .tryShutdown, .leaveAnswered, .stopDaemon, .persistState:
                return nil
            }
        }

        /// The line for one notice.
        public static func line(for notice: Notice) -> Line {
            switch notice {
            case .quorumRegained(let total, let expected, let quorum):
                return Line(level: .notice, text: "quorum regained (\(total) of \(expected) votes; quorum \(quorum))")
            case .quorumLost(let total, let expected, let quorum):
                return Line(level: .notice, text: "quorum lost, blocking activity (\(total) of \(expected) votes; quorum \(quorum))")
            case .disallowed(let node):
                return Line(level: .notice, text: "node \(node) rejoined without restarting while holding state: Disallowed")
            case .expectedVotesSet(let n, let by):
                return Line(level: .notice, text: "expected votes set to \(n) by node \(by)")
            case .votesSet(let node, let votes):
                return Line(level: .notice, text: "node \(node) now has \(votes) vote(s)")
            case .adminChangeDropped(let what, let why):
                return Line(level: .warning, text: "not applying \(what): \(why); run it again once the partition is quorate")
            case .expectedRaisedByConfiguration(let n):
                return Line(level: .notice, text: "expected votes are \(n) under the new configuration")
            case .expectedKeptOverConfiguration(let configured, let kept):
                return Line(level: .notice, text: "the new configuration's expected votes (\(configured)) are below the cluster's \(kept); keeping \(kept) (use cman_tool expected to lower them)")
            case .killing(let node):
                return Line(level: .notice, text: "telling node \(node) to leave")
            case .nodeKilled(let node, let by, let reason):
                return Line(level: .notice, text: "node \(node) was told to leave by node \(by): \(reason)")
            case .deadByDisk(let node):
                return Line(level: .notice, text: "quorum disk: node \(node) is dead by disk; telling it to leave")
            case .nodeLeaving(let node, let lowered):
                return Line(level: .notice, text: "node \(node) is leaving\(lowered.map { "; expected votes lowered to \($0)" } ?? "")")
            case .refusingConfig(let version, let from, let reason):
                return Line(level: .warning, text: "refusing configuration version \(version) from node \(from): \(reason)")
            case .configRefused(let version, let reasons):
                return Line(level: .notice, text: "configuration version \(version) was refused: \(reasons)")
            case .askingClients(let bySignal, let count):
                return Line(level: .notice, text: "\(bySignal ? "SIGTERM" : "leave requested"): asking \(count) client(s)")
            case .signalDuringLeave:
                return Line(level: .notice, text: "SIGTERM while a leave is in progress: waiting for it")
            case .leaveRefused(let why):
                return Line(level: .notice, text: why)
            }
        }
    }
}
