// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import GroupCore

extension Fence {
    /// Requests from `fence_tool`, `fence_ack_manual` and `fence_node`, answered at once; their effects follow
    /// through the domain's agreed stream.
    public enum Request: Hashable, Sendable {
        /// Unfence this node (if `<unfence>` is configured), then join the domain's group.
        case join
        /// Leave the domain's group cleanly (not a victim).
        case leave
        /// `fence_ack_manual NODE`: an operator vouches that the victim is cut off.
        case acknowledge(NodeID)
        /// `fence_node` fenced the node itself; the domain need not fence it again.
        case externallyFenced(NodeID, agent: String)
    }

    public enum RequestResult: Hashable, Sendable {
        case accepted
        case refused(String)
    }

    /// The single input type.
    public enum Event: Sendable {
        case request(Request)
        /// The domain group's view changed (in agreed order with the messages).
        case domainView(DomainView)
        /// A domain message, in agreed order.
        case delivered(from: Member, bytes: [UInt8])
        /// quorumd's view changed: quorate or not, the totem ring its view is of (cman's generation), and the nodes
        /// it counts as members. Feed it before `.join`.
        case quorum(quorate: Bool, ringSequence: UInt64, members: [QuorumMember])
        /// An agent run asked for by `.runAgent` finished.
        case agentFinished(AgentResult)
        /// A new cluster.conf: plans and delays for what starts from now on.
        case reconfigure(Settings)
        case deadlineReached
    }

    /// What the shell must do, in order.
    public enum Effect: Hashable, Sendable {
        /// Join the domain's process group (`Fence.groupName`).
        case joinGroup
        /// Leave it.
        case leaveGroup
        /// Multicast in the domain's group, agreed order.
        case multicast([UInt8])
        /// Run a fence agent and answer with `.agentFinished`. Never blocks the caller's loop for long.
        case runAgent(AgentRun)
        /// A member's fence daemon died on a live node: ask quorumd to remove the node (cman_kill_node).
        case removeFromCluster(NodeID, reason: String)
        /// A victim's fate is settled in the agreed stream: tell quorumd (last fence time and agent) and the
        /// daemons waiting to recover its work.
        case victimResolved(Resolution)
        /// A join asked for failed before the group was joined (unfencing failed).
        case joinFailed(String)
        case log(LogLine)
        /// What `status` shows changed (for STATUS= and `fence_tool -w`).
        case stateChanged
    }

    public struct Output: Sendable {
        public var effects: [Effect] = []
        public var result: RequestResult?
        public init() {}

        mutating func log(_ level: LogLine.Level, _ text: String) { effects.append(.log(LogLine(level, text))) }
        mutating func multicast(_ m: Message) { effects.append(.multicast(m.encode())) }
    }

    /// Where this node stands towards the domain.
    public enum Phase: String, Hashable, Sendable {
        case outside
        /// Running this node's `<unfence>` devices before joining.
        case unfencing
        /// Asked the group to join; waiting for the first view with this member.
        case joining
        case member
        /// Asked the group to leave; waiting for the view without this member.
        case leaving
    }

    /// An agent sequence this node runs: a victim's methods, or its own unfencing.
    struct Running: Hashable, Sendable {
        var runID: UInt64
        var target: NodeID
        var incident: Incident
        var sequence: Sequence
        /// The victim was settled meanwhile: the result is only logged.
        var abandoned = false
    }

    /// One node's fence domain state. Feed it `Event`s with `handle(_:at:)` and carry out the effects in order.
    public struct StateMachine: Sendable {
        /// This node's fence daemon in the domain's group.
        public let me: Member
        public internal(set) var settings: Settings
        let clock: WallClockAnchor
        public internal(set) var phase: Phase = .outside
        /// The current view of the domain (while a member).
        public internal(set) var view: DomainView?
        /// This member holds the domain's state (it formed the domain, or a master listed it in `complete`).
        public internal(set) var complete = false
        public internal(set) var victims: [Victim] = []
        /// The last fence of every node this member knows of.
        public internal(set) var history: [NodeID: HistoryEntry] = [:]
        /// The `start` messages received for the current view: member → its `complete` flag.
        var starts: [Member: Bool] = [:]
        var sentStart = false
        /// Every member's `start` for the current view arrived and the master is chosen.
        public internal(set) var settled = false
        public internal(set) var master: NodeID?
        var joinedSinceSettle = false
        public internal(set) var quorate = false
        var quorumKnown = false
        var quorumMembers: [NodeID: UInt64] = [:]
        /// The ring quorumd's view is of: a failure seen in this ring or an earlier one is reflected in its quorum.
        var quorumRing: UInt64 = 0
        /// Members added to the view since the last settled cycle.
        var addedSinceSettle: Set<Member> = []
        /// Members that merged in from another partition with a domain state of their own (their `start` said
        /// complete although they were just added): they take no part until they leave and come back afresh, as in
        /// fenced; quorumd's Disallowed state and the fencing of one side resolve such a merge.
        public internal(set) var disallowed: Set<Member> = []
        var delayUntil: MonotonicInstant?
        var delayForever = false
        var delay: Duration = .zero
        var running: Running?
        var unfencing: Running?
        var nextRunID: UInt64 = 1
        /// Domain messages that could not be decoded or came from outside the view.
        public internal(set) var droppedMessages = 0

        /// `pid` is this fence daemon's process id (its address in the group); `clock` ties the monotonic clock
        /// the core is given to wall-clock seconds.
        public init(nodeID: NodeID, pid: UInt32, settings: Settings, clock: WallClockAnchor) {
            me = Member(node: nodeID, pid: pid)
            self.settings = settings
            self.clock = clock
        }

        /// The single entry point.
        public mutating func handle(_ event: Event, at now: MonotonicInstant) -> Output {
            var out = Output()
            let before = status
            switch event {
            case .request(let r):
                out.result = request(r, now: now, out: &out)
            case .domainView(let v):
                viewChanged(v, now: now, out: &out)
            case .delivered(let from, let bytes):
                delivered(from: from, bytes: bytes, now: now, out: &out)
            case .quorum(let q, let ring, let members):
                quorumChanged(q, ring: ring, members, out: &out)
                settleIfReady(now: now, out: &out)
            case .agentFinished(let result):
                agentFinished(result, now: now, out: &out)
            case .reconfigure(let s):
                settings = s
            case .deadlineReached:
                break
            }
            work(now: now, out: &out)
            if status != before { out.effects.append(.stateChanged) }
            return out
        }

        /// When the shell must deliver `.deadlineReached`: the end of a post-join/post-fail delay, or a victim's
        /// next retry, on the master while it has nothing running.
        public var nextDeadline: MonotonicInstant? {
            guard phase == .member, settled, master == me.node, quorate || settings.mutations.contains(.ignoreQuorum) else { return nil }
            if let d = delayUntil { return d }
            guard running == nil, !delayForever else { return nil }
            return victims.filter { !$0.announced }.compactMap(\.retryAt).min()
        }

        /// The wait state fence_tool ls shows.
        public var waitState: WaitState {
            guard phase == .member else { return .none }
            if !settled { return sentStart ? .messages : .quorum }
            guard master == me.node, victims.contains(where: { !$0.announced }) else { return .none }
            return quorate || settings.mutations.contains(.ignoreQuorum) ? .fencing : .quorum
        }

        func wallClock(_ now: MonotonicInstant) -> UInt64 { clock.seconds(at: now) }

        // MARK: - Requests

        private mutating func request(_ r: Request, now: MonotonicInstant, out: inout Output) -> RequestResult {
            switch r {
            case .join:
                guard phase == .outside else { return .refused(phase == .member ? "already a member of the fence domain" : "already \(phase.rawValue) the fence domain") }
                guard quorumKnown else { return .refused("the cluster's membership is not known yet; is quorumd running?") }
                if let plan = settings.plan(for: me.node), !plan.unfence.isEmpty {
                    phase = .unfencing
                    var seq = Sequence(plan: plan, purpose: .unfence)
                    unfenceStep(seq.start(), seq, out: &out)
                } else {
                    phase = .joining
                    out.effects.append(.joinGroup)
                }
            case .leave:
                guard phase == .member || phase == .joining else { return .refused("not in the fence domain") }
                phase = .leaving
                out.effects.append(.leaveGroup)
            case .acknowledge(let node):
                guard phase == .member else { return .refused("not in the fence domain") }
                guard victims.contains(where: { $0.node == node }) else { return .refused("node \(settings.name(of: node)) is not a victim") }
                out.multicast(.acknowledge(victim: node, wallClockSeconds: wallClock(now)))
            case .externallyFenced(let node, let agent):
                guard phase == .member else { return .refused("not in the fence domain") }
                out.multicast(.external(victim: node, agent: agent, wallClockSeconds: wallClock(now)))
            }
            return .accepted
        }

        // MARK: - Unfencing before joining

        private mutating func unfenceStep(_ step: Sequence.Step, _ seq: Sequence, out: inout Output) {
            let name = settings.name(of: me.node)
            switch step {
            case .run(let m, let d, let device):
                if let problem = device.problem {
                    unfenceFailed("device \(device.name): \(problem)", out: &out)
                    return
                }
                let run = AgentRun(id: nextRunID, purpose: .unfence, target: me.node, targetName: name, method: "unfence",
                                   methodNumber: m + 1, device: device.name, deviceNumber: d + 1, agent: device.agent ?? device.name,
                                   stdin: AgentCall.stdin(device: device, target: name, defaultAction: "on"), timeout: settings.agentTimeout)
                nextRunID += 1
                unfencing = Running(runID: run.id, target: me.node, incident: Incident(ringSequence: 0, pid: 0), sequence: seq)
                out.effects.append(.runAgent(run))
            case .succeeded:
                unfencing = nil
                out.log(.notice, Text.unfenced(name))
                phase = .joining
                out.effects.append(.joinGroup)
            case .failed:
                unfenceFailed("every unfence device must succeed", out: &out)
            }
        }

        private mutating func unfenceFailed(_ why: String, out: inout Output) {
            let text = Text.unfenceFailed(settings.name(of: me.node), why)
            unfencing = nil
            phase = .outside
            out.log(.error, text)
            out.effects.append(.joinFailed(text))
        }

        // MARK: - Agent results

        private mutating func agentFinished(_ result: AgentResult, now: MonotonicInstant, out: inout Output) {
            if var u = unfencing, u.runID == result.runID {
                let device = u.sequence.current
                if case .run(_, _, let d) = device {
                    out.log(result.outcome.isSuccess ? .info : .error,
                            Text.attempt(settings.name(of: me.node), method: "unfence", device: d.name, agent: d.agent ?? d.name,
                                         outcome: result.outcome, stderr: result.stderr))
                }
                let step = u.sequence.record(success: result.outcome.isSuccess)
                unfencing = u
                unfenceStep(step, u.sequence, out: &out)
                return
            }
            guard let r = running, r.runID == result.runID else {
                out.log(.debug, "ignoring the result of agent run \(result.runID), which nothing waits for")
                return
            }
            if case .run(_, _, let device) = r.sequence.current {
                let method = r.sequence.methods[r.sequence.method].name
                out.multicast(.attempt(victim: r.target, incident: r.incident, method: method, device: device.name,
                                       agent: device.agent ?? device.name, outcome: result.outcome,
                                       stderr: Message.clip(result.stderr, Fence.stderrBytesMax), wallClockSeconds: wallClock(now)))
            }
            running = nil
            guard !r.abandoned, let i = victims.firstIndex(where: { $0.node == r.target && $0.incident == r.incident }) else { return }
            var seq = r.sequence
            let step = seq.record(success: result.outcome.isSuccess)
            proceed(step, seq, victim: i, now: now, out: &out)
        }
    }
}
