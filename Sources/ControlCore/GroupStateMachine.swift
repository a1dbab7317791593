// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Control {
    /// One managed group and its recovery protocol (see `Control`). Feed it the group's views and messages in the
    /// order the group layer delivers them, fenced's fence times, quorum, the lower levels' state and the local
    /// subsystem's "started"; carry out its effects in order.
    public struct GroupStateMachine: Sendable {
        /// The group's name (a lockspace, a mount).
        public let name: String
        /// Recovery level: a group starts only when every group of a lower level has recovered (fencing is level 0,
        /// lockspaces 1, mounts 2, as groupd numbered them).
        public let level: Int
        public let me: Member
        /// Wait for quorum before starting (dlm's `enable_quorum`).
        public let requireQuorum: Bool
        /// Wait until failed nodes are fenced (dlm's `enable_fencing`; on unless told otherwise).
        public let requireFencing: Bool

        public private(set) var phase = Phase.joining
        public private(set) var waiting = Waiting.nothing
        /// The members of the current view, ascending.
        public private(set) var members: [Member] = []
        /// The recovery under way: the id of the view that began it.
        public private(set) var event: UInt64 = 0
        /// Recoveries completed (for status).
        public private(set) var recoveries = 0

        /// Nodes that failed and are not yet known fenced, with the wall-clock second of the failure.
        var failures: [NodeID: UInt64] = [:]
        /// The last fence of each node as fenced reports it (wall-clock seconds).
        var fenceTimes: [NodeID: UInt64] = [:]
        /// When each node last joined the group (wall-clock seconds of the view).
        var joinedAt: [NodeID: UInt64] = [:]
        var quorate = false
        var lowerLevelsReady = true
        var stoppedFrom: Set<Member> = []
        var startedFrom: Set<Member> = []
        var sentStopped = false
        var localStarted = false
        var sentStarted = false
        var subsystemRunning = false

        public enum Event: Sendable {
            /// A view of the group: its members, who joined, who left and how, an id that every member gets alike
            /// (the group layer's view number), and the wall-clock second it arrived (failures are timed by it).
            case view(members: [Member], joined: [Member], left: [(Member, LeftReason)], id: UInt64, wallSeconds: UInt64)
            /// A message of the group, in its agreed order.
            case delivered(from: Member, bytes: [UInt8])
            /// fenced's last fence time of nodes (wall-clock seconds; 0 never).
            case fenceTimes([NodeID: UInt64])
            case quorum(Bool)
            /// Whether every group of a lower level has recovered.
            case lowerLevels(ready: Bool)
            /// The local subsystem has started with the members `.start` gave it.
            case localStartDone
            /// Leave the group on purpose.
            case leave
        }

        public enum Effect: Sendable, Hashable {
            /// Stop (suspend) the group in the subsystem.
            case stop
            /// Configure the group's members in the subsystem and start its recovery.
            case start(members: [NodeID])
            /// Multicast to the group (agreed order).
            case multicast([UInt8])
            /// Every member has started: the group runs with these members.
            case recovered(members: [NodeID])
            /// Leave the group in the group layer.
            case leaveGroup
            /// For status and logs.
            case phaseChanged(Phase, Waiting)
        }

        public struct Output: Sendable {
            public var effects: [Effect] = []
        }

        public init(name: String, level: Int = 1, me: Member, requireQuorum: Bool = false, requireFencing: Bool = true) {
            self.name = name
            self.level = level
            self.me = me
            self.requireQuorum = requireQuorum
            self.requireFencing = requireFencing
        }

        /// Nothing in the protocol is timed: it never needs a deadline.
        public var nextDeadline: MonotonicInstant? { nil }

        /// The single entry point.
        public mutating func handle(_ event: Event, at now: MonotonicInstant) -> Output {
            var out = Output()
            let before = (phase, waiting)
            switch event {
            case .view(let list, let joined, let left, let id, let wall):
                for m in joined { joinedAt[m.node] = wall }
                view(list, left: left, id: id, wallSeconds: wall, out: &out)
            case .delivered(let from, let bytes):
                guard let m = try? Message.decode(bytes) else { break } // garbage from a member: dropped
                guard members.contains(from) else { break }
                switch m {
                case .stopped(let e) where e == self.event: stoppedFrom.insert(from)
                case .started(let e) where e == self.event: startedFrom.insert(from)
                case .stopped, .started: break  // about an older recovery
                }
            case .fenceTimes(let times):
                fenceTimes.merge(times) { max($0, $1) }
            case .quorum(let q):
                quorate = q
            case .lowerLevels(let ready):
                lowerLevelsReady = ready
            case .localStartDone:
                if phase == .starting { localStarted = true }
            case .leave:
                if subsystemRunning { out.effects.append(.stop) }
                subsystemRunning = false
                phase = .leaving
                waiting = .nothing
                out.effects.append(.leaveGroup)
            }
            if phase != .leaving { advance(&out) }
            if (phase, waiting) != before { out.effects.append(.phaseChanged(phase, waiting)) }
            return out
        }

        /// A new view begins a new recovery: whatever was under way is abandoned, the subsystem is stopped.
        private mutating func view(_ list: [Member], left: [(Member, LeftReason)], id: UInt64, wallSeconds: UInt64, out: inout Output) {
            members = list.sorted()
            guard phase != .leaving, members.contains(me) else { return }
            for (m, reason) in left where reason == .failed && requireFencing && m.node != me.node {
                // The node may still have another member in the group (another process): it is the node that is fenced.
                if failures[m.node] == nil { failures[m.node] = Self.failureTime(seen: wallSeconds, joined: joinedAt[m.node]) }
            }
            if subsystemRunning || phase == .starting { out.effects.append(.stop) }
            subsystemRunning = false
            event = id
            phase = .stopped
            stoppedFrom = []
            startedFrom = []
            sentStopped = false
            localStarted = false
            sentStarted = false
        }

        /// Takes every step whose conditions hold.
        private mutating func advance(_ out: inout Output) {
            // A failure is settled once fenced reports a fence of the node at or after the second it failed.
            failures = failures.filter { node, failedAt in (fenceTimes[node] ?? 0) < failedAt }
            switch phase {
            case .joining, .running, .leaving:
                return
            case .stopped:
                if !failures.isEmpty {
                    waiting = .fencing(failures.keys.sorted())
                    return
                }
                if requireQuorum && !quorate {
                    waiting = .quorum
                    return
                }
                if !lowerLevelsReady {
                    waiting = .lowerLevels
                    return
                }
                if !sentStopped {
                    sentStopped = true
                    out.effects.append(.multicast(Message.stopped(event: event).encode()))
                }
                let missing = members.filter { !stoppedFrom.contains($0) }
                guard missing.isEmpty else {
                    waiting = .stopped(missing)
                    return
                }
                phase = .starting
                subsystemRunning = true
                out.effects.append(.start(members: memberNodes))
                waiting = .localStart
                fallthrough
            case .starting:
                guard localStarted else {
                    waiting = .localStart
                    return
                }
                if !sentStarted {
                    sentStarted = true
                    out.effects.append(.multicast(Message.started(event: event).encode()))
                }
                let missing = members.filter { !startedFrom.contains($0) }
                guard missing.isEmpty else {
                    waiting = .started(missing)
                    return
                }
                phase = .running
                waiting = .nothing
                recoveries += 1
                out.effects.append(.recovered(members: memberNodes))
            }
        }

        /// The second a failure counts from, for comparison with fenced's fence times (dlm_controld's rule: settled
        /// once the node's last fence is at or after its failure). fenced may finish fencing before the group's view
        /// of the failure reaches this daemon, in an earlier second: one second of grace covers that. A fence of an
        /// earlier incarnation never counts, since it came before the node joined again — except when fence, rejoin
        /// and the new failure all fall within the same second or two, which no real node restarts in.
        static func failureTime(seen: UInt64, joined: UInt64?) -> UInt64 { max(joined ?? 0, seen > 0 ? seen - 1 : 0) }

        /// The member nodes, ascending, each once.
        public var memberNodes: [NodeID] { Array(Set(members.map(\.node))).sorted() }
    }
}
