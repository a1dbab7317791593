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
///   expected votes, and the total votes; lowered only by an administrator (`cman_tool expected`) or by members
///   leaving with `remove`.
/// - quorum: max((expected + 2) / 2, (total + 2) / 2) (the OpenVMS formula); it never drops on its own when nodes
///   leave. With `two_node` and at most two nodes, quorum is 1.
/// - a node that left and comes back without having restarted, while it and this side both hold state ("dirty"),
///   is Disallowed: it takes no part; a quorate side tells it to leave, an inquorate side waits for an administrator.
///
/// ## Beyond cman (off unless cluster.conf turns them on)
/// - wait_for_all: not quorate until every configured node has been seen at once.
/// - last_man_standing: after `last_man_standing_window` of stable membership with fewer nodes, expected votes drop
///   to what is present.
/// - auto_tie_breaker: in an exact half split, the half holding the lowest configured node id stays quorate.
public enum Quorum {}
