// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import GroupCore

extension Fence {
    /// A fence daemon in the domain's process group: its node and pid (the group's own address type).
    public typealias Member = ProcessGroup.Address

    /// Why a member left the domain's group (the process group's reasons that matter here).
    public enum LeaveReason: UInt8, Hashable, Sendable {
        /// `fence_tool leave`: not a victim.
        case clean = 2
        /// Its node left the cluster.
        case nodeDown = 3
        /// Its fence daemon died while its node stayed.
        case processDown = 5
    }

    /// A member that left, and why.
    public struct Departure: Hashable, Sendable {
        public var member: Member
        public var reason: LeaveReason
        public init(_ member: Member, _ reason: LeaveReason) {
            self.member = member
            self.reason = reason
        }
    }

    /// A view of the domain's group, in the group's agreed order.
    public struct DomainView: Hashable, Sendable {
        public var members: [Member]
        public var joined: [Member]
        public var left: [Departure]
        /// The totem ring the view was installed in.
        public var ringSequence: UInt64
        public init(members: [Member], joined: [Member], left: [Departure], ringSequence: UInt64) {
            self.members = members.sorted()
            self.joined = joined.sorted()
            self.left = left.sorted { $0.member < $1.member }
            self.ringSequence = ringSequence
        }
        /// The nodes with a member in the view, ascending.
        public var nodes: [NodeID] { Array(Set(members.map(\.node))).sorted() }
    }

    /// A node quorumd counts as a member (state M), with the incarnation it announced (new after every restart).
    public struct QuorumMember: Hashable, Sendable {
        public var node: NodeID
        public var incarnation: UInt64
        public init(node: NodeID, incarnation: UInt64) {
            self.node = node
            self.incarnation = incarnation
        }
    }

    /// One failure of one victim (see the module's terminology).
    public struct Incident: Hashable, Sendable, CustomStringConvertible {
        public var ringSequence: UInt64
        /// The pid of the domain member that failed; 0 for a startup victim.
        public var pid: UInt32
        public init(ringSequence: UInt64, pid: UInt32) {
            self.ringSequence = ringSequence
            self.pid = pid
        }
        public var description: String { "\(ringSequence)/\(pid)" }
    }

    /// How a victim's fate was settled (fence_tool ls -n's "how").
    public enum How: UInt8, Hashable, Sendable, CustomStringConvertible {
        case none = 0
        /// A fence method succeeded.
        case agent = 1
        /// It came back cleanly (restarted, rejoined the cluster and the domain) before it was fenced.
        case member = 2
        /// An operator acknowledged it (`fence_ack_manual`).
        case override = 3
        /// `fence_node` fenced it outside the daemon.
        case external = 4

        public var description: String {
            switch self {
            case .none: return "none"
            case .agent: return "agent"
            case .member: return "member"
            case .override: return "override"
            case .external: return "external"
            }
        }
    }

    /// What the shell may tell other daemons (and quorumd's record of last fences): a failed node's work may be
    /// recovered now.
    public struct Resolution: Hashable, Sendable, CustomStringConvertible {
        public var victim: NodeID
        public var victimName: String
        public var incident: Incident
        public var how: How
        /// The member that settled it (the master, or the operator's node).
        public var by: NodeID
        /// The agent(s) of the method that succeeded, or the external agent.
        public var agent: String
        public var method: String
        public var wallClockSeconds: UInt64

        /// The stable line operators grep for.
        public var description: String {
            switch how {
            case .agent: return "node \(victimName) fenced at \(wallClockSeconds) by \(agent) (method \(method), node \(by))"
            case .member: return "node \(victimName) rejoined the cluster cleanly; not fenced"
            case .override: return "node \(victimName) fence acknowledged by an operator on node \(by) at \(wallClockSeconds)"
            case .external: return "node \(victimName) fenced at \(wallClockSeconds) by \(agent) outside the fence domain (node \(by))"
            case .none: return "node \(victimName) settled"
            }
        }
    }

    /// A fence domain member's current victim.
    public struct Victim: Hashable, Sendable {
        public var node: NodeID
        public var name: String
        public var incident: Incident
        /// Added because it was not a cluster member when this node joined the domain.
        public var startup: Bool
        /// quorumd's incarnation for it when it failed (nil: not known).
        var failedIncarnation: UInt64?
        /// quorumd has since reported it gone or restarted, so quorum reflects the failure.
        var seenGone: Bool
        /// A resolution for it was multicast by this node and is on its way.
        var announced = false
        /// Full passes over its methods that failed, and when the next may start.
        var attempts = 0
        var retryAt: MonotonicInstant?
    }

    /// What a domain member is waiting for (fence_tool ls's "wait state").
    public enum WaitState: String, Hashable, Sendable {
        case none
        /// Quorum, or quorumd to notice the failures of the last view.
        case quorum
        /// Every member's `start` for the current view.
        case messages
        /// The master is fencing victims.
        case fencing
    }

    /// What an agent run is for.
    public enum Purpose: UInt8, Hashable, Sendable {
        /// Cut a victim off (action `off` unless configured).
        case fence = 1
        /// Give this node back its access before joining (`<unfence>`, action `on`).
        case unfence = 2
    }

    /// A fence agent to run: the shell execs `agent` with no arguments, writes `stdin` (one `key=value` per line),
    /// enforces `timeout`, and answers with `.agentFinished` carrying the same `id`.
    public struct AgentRun: Hashable, Sendable, CustomStringConvertible {
        public var id: UInt64
        public var purpose: Purpose
        public var target: NodeID
        public var targetName: String
        public var method: String
        /// 1-based numbers of the method and device, as fenced logs them ("dev 1.2").
        public var methodNumber: Int
        public var device: String
        public var deviceNumber: Int
        /// A bare name (looked up in the agent path) or an absolute path.
        public var agent: String
        public var stdin: [String]
        public var timeout: Duration

        public init(id: UInt64, purpose: Purpose, target: NodeID, targetName: String, method: String, methodNumber: Int, device: String,
                    deviceNumber: Int, agent: String, stdin: [String], timeout: Duration) {
            self.id = id
            self.purpose = purpose
            self.target = target
            self.targetName = targetName
            self.method = method
            self.methodNumber = methodNumber
            self.device = device
            self.deviceNumber = deviceNumber
            self.agent = agent
            self.stdin = stdin
            self.timeout = timeout
        }

        public var description: String {
            "\(purpose == .fence ? "fence" : "unfence") \(targetName) dev \(methodNumber).\(deviceNumber) agent \(agent)"
        }
    }

    /// How an agent run ended.
    public enum AgentOutcome: Hashable, Sendable, CustomStringConvertible {
        case success
        /// It exited with a non-zero status.
        case failed(exitCode: Int32)
        /// It ran past its timeout and was killed.
        case timedOut
        /// It died of a signal it was not sent by the runner.
        case killed(signal: Int32)
        /// It could not be started (no such agent, not executable, …); the text says what was looked for.
        case notStarted(String)

        public var isSuccess: Bool { self == .success }

        public var description: String {
            switch self {
            case .success: return "success"
            case .failed(let code): return "error from agent (exit \(code))"
            case .timedOut: return "error: timed out"
            case .killed(let signal): return "error: killed by signal \(signal)"
            case .notStarted(let why): return "error: not started: \(why)"
            }
        }
    }

    /// The shell's report of a finished agent run.
    public struct AgentResult: Hashable, Sendable {
        public var runID: UInt64
        public var outcome: AgentOutcome
        /// What the agent wrote on stderr (bounded, control characters removed by the shell).
        public var stderr: String
        public init(runID: UInt64, outcome: AgentOutcome, stderr: String = "") {
            self.runID = runID
            self.outcome = outcome
            self.stderr = stderr
        }
    }

    /// Ties the monotonic clock to the wall clock once, so the core can stamp fences with wall-clock seconds (what
    /// operators and `cman_tool nodes -f` show) without reading a clock.
    public struct WallClockAnchor: Hashable, Sendable {
        public var instant: MonotonicInstant
        public var secondsSinceEpoch: UInt64
        public init(instant: MonotonicInstant, secondsSinceEpoch: UInt64) {
            self.instant = instant
            self.secondsSinceEpoch = secondsSinceEpoch
        }
        /// Wall-clock seconds at `now`.
        public func seconds(at now: MonotonicInstant) -> UInt64 {
            now >= instant ? secondsSinceEpoch + UInt64((now - instant).secondsDouble) : secondsSinceEpoch
        }
    }

    /// A line for the daemon's log.
    public struct LogLine: Hashable, Sendable, CustomStringConvertible {
        public enum Level: String, Hashable, Sendable { case debug, info, notice, warning, error }
        public var level: Level
        public var text: String
        public init(_ level: Level, _ text: String) {
            self.level = level
            self.text = text
        }
        public var description: String { "\(level.rawValue): \(text)" }
    }

    /// What the last fence of a node was (fence_tool ls -n, and the start messages that teach joiners).
    public struct HistoryEntry: Hashable, Sendable {
        public var node: NodeID
        public var master: NodeID
        public var how: How
        public var wallClockSeconds: UInt64
        public var agent: String
        public init(node: NodeID, master: NodeID, how: How, wallClockSeconds: UInt64, agent: String) {
            self.node = node
            self.master = master
            self.how = how
            self.wallClockSeconds = wallClockSeconds
            self.agent = agent
        }
    }
}
