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
/// - Merges are found through merge-detect and join messages only; stray packets of foreign rings are dropped and
///   counted rather than starting a gather.
/// - A leaving node announces itself with a join that lists itself as failed, so the others reform at once.
/// - A peer reported unreachable by the transport (ICMP port unreachable) starts a gather at once; a second report
///   during that gather, with no join heard from the peer, puts it in the fail set without waiting for consensus.
/// - Configuration changes and deliveries come out as one ordered stream (`Output.events`), since EVS fixes their
///   relative order.
public enum Totem {}
