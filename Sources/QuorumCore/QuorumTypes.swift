// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Quorum {
    /// A node's state as `cman_tool nodes` shows it: M, X or d (and J for the moment between a node appearing in
    /// the membership and its first message, during which it does not count).
    public enum NodeState: String, Hashable, Sendable {
        case member = "M"
        case dead = "X"
        case disallowed = "d"
        /// In the totem membership, not yet heard from (cman's rule: a node counts once its message arrives).
        case joining = "J"
    }

    /// What this node knows about one node.
    public struct NodeRecord: Hashable, Sendable {
        public var id: NodeID
        public var name: String
        public var votes: UInt32
        public var expectedVotes: UInt32
        public var state: NodeState
        /// The ring sequence at which it joined (cman's "Inc").
        public var incarnation: UInt64
        public var joinTime: UInt64
        public var configVersion: UInt64
        public var dirty: Bool
        public var qdiskVotes: UInt32
        /// Its quorum-disk offer was made as the disk's master: it holds across membership changes, where a
        /// non-master's offer (computed against the old membership) does not.
        public var qdiskMaster = false
        /// It announced its departure (`leaving`): it no longer counts, before the membership shows it gone.
        public var leaving = false
        /// Heard from since it last (re)joined.
        public var heard: Bool
        /// Ports its clients listen on.
        public var ports: Set<UInt8> = []
        /// The incarnation it had when this node saw it leave; set while it is away.
        var leftIncarnation: UInt64?
        var seenAll: Bool
    }

    /// The computed quorum state.
    public struct Summary: Hashable, Sendable {
        public var quorate: Bool
        public var quorum: UInt32
        public var totalVotes: UInt32
        public var expectedVotes: UInt32
        public var qdiskVotes: UInt32
        public var memberCount: Int
        public var disallowed: [NodeID]
    }

    /// Whether `node` has a client listening on `port` (cman_is_listening).
    public static func isListening(_ nodes: [NodeID: NodeRecord], node: NodeID, port: UInt8) -> Bool {
        guard let r = nodes[node], r.state == .member else { return false }
        return r.ports.contains(port)
    }

    /// Administrative requests, answered at once with `RequestResult`; their effect arrives through totem.
    public enum Request: Hashable, Sendable {
        case setExpected(UInt32)
        case setVotes(node: NodeID, votes: UInt32)
        case kill(NodeID)
        case leave(remove: Bool)
        /// Propose `bytes` (already validated here) as config `version`; the outcome comes as `.configDistributed`.
        case proposeConfig(version: UInt64, bytes: [UInt8])
        /// Send a port message to a node (0: every node listening).
        case sendData(port: UInt8, to: NodeID, bytes: [UInt8])
        /// Arrive at a barrier; `.barrierReleased` / `.barrierFailed` follow.
        case barrierWait(name: String, expected: UInt32)
    }

    public enum RequestResult: Hashable, Sendable {
        case accepted
        case refused(String)
    }

    /// A local client of quorumd (its IPC connection), as the staged shutdown knows it.
    public typealias Client = UInt64

    /// What the shell found in a proposed cluster.conf: the core decides whether this node accepts it.
    public enum ProposedConfig: Hashable, Sendable {
        /// It does not parse, or breaks the configuration rules: the problems, in one line.
        case invalid(String)
        /// It is valid: the version it says it is, and the quorum settings it gives.
        case valid(configVersion: UInt64, settings: Settings)
    }

    /// The single input type.
    public enum Event: Sendable {
        /// A totem configuration change.
        case configuration(ConfigurationChange)
        /// A quorum message delivered by totem, in agreed order.
        case delivered(from: NodeID, bytes: [UInt8])
        case request(Request)
        /// A local daemon holds state now (cman_set_dirty).
        case setDirty
        /// The local quorum disk's decision for one interval: its votes while this node is in the master's partition
        /// (else 0), `asMaster` when this node is the disk's master (with master_wins only the master offers votes),
        /// the members the master declares dead by disk (`evict`), and whether the master evicted this node.
        case qdisk(votes: UInt32, asMaster: Bool, evict: [NodeID] = [], evicted: Bool = false)
        /// The shell's reading of a proposed configuration (`Effect.validateConfig`).
        case configChecked(version: UInt64, ProposedConfig)
        /// A new cluster.conf is running: new nodes, votes, expected votes and modes.
        case reconfigure(Settings)
        /// The ports this node's clients listen on changed.
        case localPorts(Set<UInt8>)
        /// A local client registered for notifications (`cman_start_notification`); `name` says who it is in
        /// refusals.
        case clientRegistered(Client, name: String)
        /// A local client's connection closed.
        case clientGone(Client)
        /// Staged shutdown (`cman_tool leave`, or SIGTERM when `by` is nil): ask every registered client, then leave
        /// (or, for SIGTERM, stop) if all agree within `shutdown_timeout`. `force` does not ask.
        case shutdownRequested(by: Client?, remove: Bool, force: Bool)
        /// A registered client's answer to TRY_SHUTDOWN (`cman_replyto_shutdown`).
        case shutdownReply(Client, allow: Bool)
        case deadlineReached

        /// The decision of one quorum-disk interval, as an event.
        public static func quorumDisk(_ d: QuorumDisk.Decision) -> Event {
            .qdisk(votes: d.votes, asMaster: d.isMaster, evict: d.evict, evicted: d.evicted)
        }
    }

    /// What the shell must do.
    public enum Effect: Hashable, Sendable {
        /// Multicast on the quorum channel.
        case multicast([UInt8])
        /// Quorum or membership changed: tell registered clients (STATECHANGE).
        case stateChanged
        /// Stop this node's stack: killed, leaving, or (`evicted`) thrown out by the quorum disk's master, which
        /// the daemon reports as a failure. A pending `cman_tool leave` was answered just before.
        case leaveCluster(reason: String, evicted: Bool)
        /// Read a proposed configuration (parse and check it) and answer with `.configChecked`.
        case validateConfig(origin: NodeID, version: UInt64, bytes: [UInt8])
        /// Every member accepted: write it atomically and tell the local daemons to reload. The core already runs
        /// its settings.
        case installConfig(version: UInt64, bytes: [UInt8])
        /// Write this state to quorumd's state file atomically (it changed: expected votes, this node's votes or the
        /// config version). A restarted quorumd reads it back (`StateMachine.init(…persisted:)`).
        case persistState(PersistedState)
        /// A distribution this node proposed finished: nil on success, else every refusal.
        case configDistributed(version: UInt64, failure: String?)
        /// Something an operator should read in the log (`OperatorLog` words it).
        case notice(Notice)
        /// A port message for the local clients listening on `port`.
        case portData(from: NodeID, port: UInt8, bytes: [UInt8])
        /// Some node started or stopped listening on a port (PORTOPENED / PORTCLOSED).
        case portsChanged(opened: Bool)
        /// Every expected node reached the barrier.
        case barrierReleased(String)
        /// The barrier cannot complete (a node it waited for left).
        case barrierFailed(String, reason: String)
        /// Send TRY_SHUTDOWN to this registered client.
        case tryShutdown(Client)
        /// The answer to a `cman_tool leave` (`shutdownRequested(by:)`).
        case leaveAnswered(Client, RequestResult)
        /// SIGTERM and every registered client agreed (or none is registered): stop quorumd.
        case stopDaemon(reason: String)
        /// SIGTERM was refused by a registered client: keep serving, and say why (log and status).
        case stopRefused(why: String)
    }

    public struct Output: Sendable {
        public var effects: [Effect] = []
        public var result: RequestResult?
        public init() {}
    }
}

extension Quorum.StateMachine: ProtocolCore {
    public static var deadlineReached: Quorum.Event { .deadlineReached }
}
