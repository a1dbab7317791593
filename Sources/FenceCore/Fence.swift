// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The fence domain (cman's fenced) as a pure state machine: who is a victim, who fences it, when, and how every
/// member of the domain learns each victim's fate.
///
/// ## Terminology
/// - *Fence domain*: the process group `fenced:default` that every node's fence daemon joins (`fence_tool join`).
///   Its views and messages come from groupd in agreed order, so every member sees the same stream.
/// - *Victim*: a domain member that left the group without a clean leave (its node failed, or its fence daemon died),
///   or, when this node first joins the domain, a configured node that is not a cluster member (startup fencing,
///   skipped with `clean_start="1"`).
/// - *Incident*: one failure of one victim: the totem ring of the view that made it a victim and the pid of the
///   member that failed (0 for startup victims). Resolutions name their incident, so a late message about an old
///   failure never settles a new one.
/// - *Cycle*: after every view change each member waits for quorum (wait state `quorum`), multicasts a `start`, and
///   waits for every member's `start` (wait state `messages`). Then all agree on the *master*: the lowest node id
///   among members that hold the domain's state ("complete"), or the lowest node id if none does yet.
/// - *Master*: the only member that runs fence agents. It waits `post_join_delay` (after joins) or `post_fail_delay`
///   (after failures), lets victims that came back cleanly go, then fences the others one by one, trying each victim's
///   methods in order (every device of a method must succeed) and retrying the whole list with a backoff. Each
///   attempt and each outcome is multicast, so every member knows every victim's fate; a victim is settled on every
///   member when the `victimDone` message is delivered, never earlier.
///
/// ## Rules that keep shared data safe
/// - Nothing is fenced while this node's partition is inquorate: the master checks quorum before every agent it
///   starts, and a cycle does not settle before quorumd has seen every failed node go.
/// - A victim's fate is announced only after a method succeeded (`agent`), after it came back as a cluster member
///   with a new incarnation and rejoined the domain (`member`), after an operator said so (`override`,
///   `fence_ack_manual`), or after `fence_node` fenced it outside the daemon (`external`). `victimResolved` is the
///   event other daemons wait for before recovering a failed node's work.
///
/// ## Deviations from cman's fenced (cluster 2/3)
/// - Event driven: the master never blocks; agents run as effects and their results come back as events, and new
///   views are processed while an agent runs. A failed victim does not hold up the others: each has its own retry
///   time (5 s, doubling to 60 s by default), where fenced retried the head of its list every 5 s.
/// - `fence_ack_manual` is a domain message any member can send, not a FIFO on the master.
/// - A victim is let go only if quorumd reports it with an incarnation other than the one it failed with (it really
///   restarted); fenced asked only whether it was a cman member again.
/// - Agents get an enforced timeout (`<fence_daemon agent_timeout>`, 60 s).
public enum Fence {
    /// The one fence domain of a cluster, as `fence_tool ls` names it.
    public static let domainName = "default"
    /// The process group the domain lives in.
    public static let groupName = "fenced:default"
    /// The most members a domain may have (a process group's limit).
    public static let membersMax = 128
    /// The most victims a node keeps at once; failures beyond it are logged and dropped (a cluster has at most a few
    /// hundred configured nodes).
    public static let victimsMax = 1024
    /// The most node records a `start` message carries.
    public static let historyMax = 1024
    /// Names (nodes, methods, devices, agents) on the wire are at most this long.
    public static let nameBytesMax = 256
    /// An agent's stderr is multicast up to this many bytes.
    public static let stderrBytesMax = 4096
}
