// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The cman role as a pure state machine: votes, expected votes, quorum, two_node, quorum-disk votes, the optional
/// votequorum modes, Disallowed nodes, kills, staged departure and cluster-wide config versions.
///
/// Every node runs the same rules on the same totally ordered stream (totem configuration changes and the quorum
/// messages nodes multicast after them), so every member of a configuration computes the same quorum.
///
/// ## Rules (cman's, from its sources as summarised in REFERENCE.md)
/// - total votes: the votes of members that are not Disallowed, plus the quorum device's votes when the quorum disk
///   says this node's partition is the master's.
/// - expected votes: the highest of the configured value (or the sum of configured votes), every member's reported
///   expected votes, and the highest total ever present (sticky: cman never lowers quorum on its own, votequorum
///   raises expected votes to the highest total seen); raising a node's votes raises them by as much. Lowered only by
///   an administrator in a quorate partition (`cman_tool expected`), by members leaving with `remove`, or by
///   last_man_standing; a new configuration never lowers them.
/// - quorum: max((expected + 2) / 2, (total + 2) / 2) (the OpenVMS formula). With `two_node` and at most two nodes,
///   quorum is 1 (that mode relies on the fencing race instead).
/// - an administrative change that would add power to an inquorate partition (lower expected votes, raise votes) is
///   refused, and so is one that would make the cluster inquorate; a new configuration is installed only by a quorate
///   partition.
/// - the quorum disk's votes count when a member offers them; a non-master's offer (it was made for the old
///   membership) is dropped at every membership change, and with master_wins only the master offers them.
/// - a node that left and comes back without having restarted, while it holds state ("dirty"), is Disallowed: it
///   takes no part; a quorate side tells it to leave, an inquorate side waits for an administrator.
/// - a quorumd's first announcement makes every member announce again, so one restarted within an unchanged ring
///   learns its peers.
///
/// ## Beyond cman (off unless cluster.conf turns them on)
/// - wait_for_all: not quorate until every configured node has been seen at once.
/// - last_man_standing: after `last_man_standing_window` of stable membership with fewer nodes, expected votes drop
///   to what is present.
/// - auto_tie_breaker: in an exact half split, the half holding the lowest configured node id stays quorate; a
///   quorumd breaks ties only once it has seen every configured node at once (or joined a member that has), as
///   wait_for_all: before that its own cluster.conf is all it knows, and it may be older than the cluster's votes.
///
/// ## Changes of voting power
/// More votes for a node, fewer expected votes, or a reload giving this partition's members more votes take effect
/// only in a partition quorate on its own votes (with a quorum device: without the device's votes), or one holding
/// every configured node (no device): checked where requested and again where delivered
/// (`QuorumStateMachine+Power.swift`).
public enum Quorum {}
