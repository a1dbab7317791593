// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The logic control daemons share (seed 003: dlm_controld, and o2cb_controld made from it), as pure state
/// machines a daemon drives with events and whose effects it carries out:
///
/// - `Control.GroupStateMachine`: one managed group of nodes (a DLM lockspace, an OCFS2 mount) and the recovery
///   protocol it runs when its membership changes. On a member failure every member stops the group, waits until
///   fenced has fenced the failed nodes (and for quorum, if required, and for lower levels to finish), then the
///   members agree — through the group's agreed order — that all have stopped, start again with the new member list,
///   and agree that all have started. Every member goes through the same sequence of states, because every step is
///   taken on a view or a message of the group's total order.
/// - `Control.Topology`: the cluster's nodes as the daemon last saw them, the difference after a state change
///   (dlm_controld's STATECHANGE handling), and node removals held back while another component has the node pinned.
public enum Control {
    /// A process in a managed group: its node and pid (the stack's shared `ProcessAddress`, as groupd names it).
    public typealias Member = ProcessAddress

    /// Why a member left the group's view (the group layer's reasons).
    public enum LeftReason: Sendable, Hashable {
        /// It left on purpose: nothing to fence.
        case clean
        /// Its node failed, or its daemon died with the node still up: the node must be fenced first.
        case failed
    }

    /// A group's phase, as `dlm_tool ls` shows it.
    public enum Phase: String, Sendable, Hashable {
        /// Joined, waiting for the first recovery with the others.
        case joining = "join"
        /// Recovered: the subsystem runs with the agreed members.
        case running = "run"
        /// Stopped after a membership change, waiting (see `Waiting`).
        case stopped = "stop"
        /// Every member has stopped: the subsystem is starting with the new members.
        case starting = "start"
        case leaving = "leave"
    }

    /// What a stopped or starting group waits for.
    public enum Waiting: Sendable, Hashable, CustomStringConvertible {
        case nothing
        /// fenced has not yet fenced these failed nodes (since they failed).
        case fencing([NodeID])
        case quorum
        /// Groups of a lower level (fencing's own, then lockspaces before mounts) are still recovering.
        case lowerLevels
        /// Members that have not yet said they stopped.
        case stopped([Member])
        /// The local subsystem has not finished starting.
        case localStart
        /// Members that have not yet said they started.
        case started([Member])

        public var description: String {
            switch self {
            case .nothing: "none"
            case .fencing(let n): "fencing of \(n.map(\.description).joined(separator: ","))"
            case .quorum: "quorum"
            case .lowerLevels: "lower levels"
            case .stopped(let m): "stop of \(m.map(\.description).joined(separator: ","))"
            case .localStart: "local start"
            case .started(let m): "start of \(m.map(\.description).joined(separator: ","))"
            }
        }
    }
}
