// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The Totem single-ring ordering and membership protocol (Amir, Moser, Melliar-Smith, Agarwal, Ciarfella,
/// ACM TOCS 1995), as a pure state machine.
///
/// `Totem.StateMachine` takes `Totem.Event`s (a datagram, a deadline, a submission, a leave) together with the
/// current instant and returns a `Totem.Output` telling the shell what to persist, send and deliver, in that order.
/// It owns no sockets, clocks, threads or randomness.
///
/// ## Terminology
/// - *ring*: a configuration of processors with a token circulating among them in node-id order; identified by a
///   `RingID` (representative, sequence).
/// - *token* (`orf token`): carries `seq` (highest sequence number broadcast), `aru` (all-received-up-to),
///   `aruAddress`, the retransmission request list, and flow-control fields `fcc` and `backlog`.
/// - *gather*, *commit*, *recovery*, *operational*: the four states of the membership protocol.
/// - *transitional* and *regular* configurations: the two configuration changes delivered at each membership change,
///   in their place in the message stream (extended virtual synchrony).
///
/// ## Deviations from the paper (and from corosync)
/// - Application messages are packed into frames and fragmented (corosync's totempg layer), inside the core, so the
///   simulator checks reassembly and EVS of whole messages. Fragments of one message never span two rings: a
///   partly sent message is sent again whole in the next ring, and receivers drop partial messages at every
///   configuration change.
/// - Recovery ends when a token shows an empty `recoveryPending` set and `aru == seq`; the node that sees it sets a
///   sticky `recoveryComplete` flag on the token, so every member leaves recovery on its next token even if new
///   messages are already flowing.
/// - A multicast of another ring starts a merge only when its sender is outside this ring or its ring is newer
///   (corosync merges on any foreign message; a late one from a member of this ring is only late).
/// - Old-ring multicasts that arrive once a node has reported its old ring in the commit token (commit) or fixed
///   what it will recover (recovery) are dropped, as corosync does: only what the survivors hold is recovered, so
///   nobody delivers an old-ring message alone.
/// - Before the transitional configuration every survivor delivers the old ring's messages up to the highest
///   `highDelivered` any survivor reported in the commit token (corosync's high_ring_delivered), safe ones included.
/// - In commit and recovery only joins from members of the ring being formed abort it; others are merged once the
///   ring is up. The commit token is accepted on set equality and a higher sequence alone (no local consensus
///   needed), and is retransmitted like the regular token.
/// - After failing to receive (fail_recv_const) a node forms a ring of its own once consensus is reached, so the
///   others are not held back, and merges back later (corosync's failed_to_recv).
/// - A leaving node announces itself with a join that lists itself as failed, so the others reform at once.
/// - Gather follows corosync where the paper is silent: every change of the proc or fail set restarts the consensus
///   timeout (so nobody is failed for not yet having answered a change made just before it fires), and an
///   operational node ignores a join that lists it as failed (so two sides with crossed fail sets do not keep
///   breaking each other's rings; merge detection joins them once both are operational).
/// - A peer reported unreachable by the transport (ICMP port unreachable) is probed (`probe`/`probeReply`, not in the
///   paper) and acted on only while it stays silent: after `unreachableConfirm` this node starts a gather, and after
///   another `unreachableConfirm` of silence in that gather the peer is failed without waiting for consensus. Any
///   packet from the peer, or a token that went round since this node last passed it, clears the suspicion, so
///   forged or spurious reports about a live node change nothing.
/// - Configuration changes and deliveries come out as one ordered stream (`Output.events`), since EVS fixes their
///   relative order.
public enum Totem {}
