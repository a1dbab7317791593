// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension ProcessGroup {
    /// A local client's handle (one per IPC connection).
    public typealias Handle = UInt64

    /// The single input type.
    public enum Event: Sendable {
        /// A totem configuration change.
        case configuration(ClusterTypes.ConfigurationChange)
        /// A groupd message delivered by totem in agreed order, at `position` in its ring's stream.
        case delivered(from: NodeID, bytes: [UInt8], position: UInt64)
        /// A local process (pid) on `handle` asks to join `group`; `totemEvents` also gives it totem configurations.
        case join(handle: Handle, pid: UInt32, group: String)
        case leave(handle: Handle, group: String)
        case mcast(handle: Handle, group: String, payload: [UInt8])
        /// Also send this handle the totem configuration changes.
        case subscribeTotem(handle: Handle)
        /// The client went away: leave its groups with reason process down.
        case processGone(handle: Handle)
        /// groupd is stopping: tell the others (its processes leave with reason process down everywhere).
        case stop
        case deadlineReached
    }

    /// A request's result, as libcpg returns them.
    public enum RequestResult: Hashable, Sendable {
        case ok
        /// Already joined, or joining (CS_ERR_EXIST).
        case exists
        /// Not a member of that group, or leaving it (CS_ERR_NOT_EXIST).
        case notMember
        /// A join is still pending (leave) or a leave is (join) (CS_ERR_BUSY).
        case busy
        /// This process's previous membership has not settled yet (CS_ERR_TRY_AGAIN).
        case tryAgain
        case invalid(String)
    }

    public enum Effect: Hashable, Sendable {
        /// Multicast on the group channel.
        case multicast([UInt8])
        /// Hand an event to a local client.
        case event(Handle, ClientEvent)
    }

    public struct Output: Sendable {
        public var effects: [Effect] = []
        public var result: RequestResult?
        public init() {}
    }

    /// One node's group state.
    public struct StateMachine: Sendable {
        public let nodeID: NodeID
        /// Every group's members, as agreed cluster-wide.
        public internal(set) var groups: [String: [Address]] = [:]
        /// Totem's current members.
        public internal(set) var nodes: [NodeID] = []
        public internal(set) var ringSequence: UInt64 = 0
        /// The first sync this groupd took part in has finished: it knows every group (READY for systemd).
        public internal(set) var synchronised = false
        var ringRepresentative = NodeID(0)
        var transitional: Set<NodeID>?
        var handles: [Handle: LocalProcess] = [:]
        /// Handles in each group's view, in join order.
        var inView: [String: [Handle]] = [:]
        var sync: Sync?
        var held: [(NodeID, Message, UInt64)] = []
        /// The stream position of the message being applied: it names the views that message installs.
        var position: UInt64 = 0
        /// Views installed now are seen by one side of a partition only (a round closed by a configuration change):
        /// they are numbered 0.
        var provisionalViews = false
        /// Nodes a transitional configuration dropped, whose processes left at it (node down), until the regular
        /// configuration: their old-ring messages still delivered now (joins, leaves, multicasts) change nothing.
        var departed: Set<NodeID> = []
        /// This groupd joined a running ring and knows nobody's processes yet.
        var newcomer = false
        /// Ring members known to run no groupd (silent in the last sync, or stopped since).
        var knownAbsent: Set<NodeID> = []
        /// The last finished round and whose lists it had: a list for it from anyone else is a late announcement.
        var finished: (key: RoundKey, listed: Set<NodeID>)?
        /// The instant of the event being handled.
        var now = MonotonicInstant.zero
        /// Tells this process's sync requests apart from an earlier groupd's on the same node.
        let incarnation: UInt32
        /// How long a member waits for lists before closing a sync round without them.
        public let syncWait: Duration
        let mutations: Mutations

        struct LocalProcess {
            var pid: UInt32
            /// Groups joined or being joined (one at most, as with libcpg).
            var groups: Set<String> = []
            /// Groups whose join is not yet delivered.
            var joining: Set<String> = []
            /// Groups this process asked to leave, until that leave is delivered.
            var leaving: Set<String> = []
            var totem = false
        }

        struct RoundKey: Hashable {
            var ringSequence: UInt64
            var requester: NodeID
            var round: UInt32
        }

        struct Sync {
            var key: RoundKey
            var lists: [NodeID: [SyncEntry]] = [:]
            /// Members some list says run no groupd.
            var absent: Set<NodeID> = []
            var transitional: Set<NodeID>
            var deadline: MonotonicInstant
            var closeSent = false
            /// The totem configuration to hand subscribers once the round is over (corosync's order).
            var totem: ClientEvent?
            /// Every member of the ring held the same groups when this round started: the ring's first round ended
            /// with every list (or closed through the order), and nothing since but the ordered stream changed them.
            /// Not so for a ring's first round (its members come from different rings and histories) or a newcomer's
            /// (it knows nobody). A round cut short keeps the processes of members whose list is missing from this
            /// node's own state, so what it installs is the same everywhere only if that state was.
            var agreedAtStart: Bool
        }

        /// `incarnation` distinguishes this groupd process from earlier ones on the node (the shell passes its pid).
        public init(nodeID: NodeID, incarnation: UInt32 = 0, syncWait: Duration = .seconds(1), mutations: Mutations = []) {
            self.nodeID = nodeID
            self.incarnation = incarnation
            self.syncWait = syncWait
            self.mutations = mutations
        }

        /// True while the groupds exchange their lists after a configuration change.
        public var isSyncing: Bool { sync != nil }

        /// When `.deadlineReached` is due: the end of a sync round's wait.
        public var nextDeadline: MonotonicInstant? {
            // Read in place: the driver asks after every input, and copying the round out cost a copy of it each time.
            sync?.closeSent == false ? sync?.deadline : nil
        }

        /// The single entry point.
        public mutating func handle(_ event: Event, at now: MonotonicInstant) -> Output {
            self.now = now
            var out = Output()
            switch event {
            case .configuration(let c):
                configuration(c.kind, c.ringID.sequence, c.ringID.representative, c.members, now: now, out: &out)
            case .delivered(let from, let bytes, let position):
                guard let m = try? Message.decode(bytes) else { break } // garbage from a member: dropped
                switch m {
                case .syncList, .syncRequest, .syncClose, .daemonStopped:
                    deliver(m, from: from, at: position, out: &out)
                case .join, .leave, .mcast:
                    if (sync != nil || newcomer) {
                        held.append((from, m, position))
                    } else {
                        deliver(m, from: from, at: position, out: &out)
                    }
                }
            case .join(let h, let pid, let group):
                out.result = join(h, pid: pid, group: group, out: &out)
            case .leave(let h, let group):
                out.result = leave(h, group: group, out: &out)
            case .mcast(let h, let group, let payload):
                // libcpg: multicast is allowed from the join request on, until a leave is asked for.
                guard let p = handles[h], p.groups.contains(group), !p.leaving.contains(group) else { out.result = .notMember; break }
                guard payload.count <= ProcessGroup.payloadBytesMax else { out.result = .invalid("payload larger than \(ProcessGroup.payloadBytesMax) bytes"); break }
                out.effects.append(.multicast(Message.mcast(group: group, pid: p.pid, payload: payload).encode()))
                out.result = .ok
            case .subscribeTotem(let h):
                handles[h, default: LocalProcess(pid: 0)].totem = true
                // During a sync the configuration follows at its end, after the membership changes.
                if !nodes.isEmpty && sync == nil && !newcomer {
                    out.effects.append(.event(h, .totemConfiguration(ringSequence: ringSequence, ringRepresentative: ringRepresentative, members: nodes)))
                }
            case .processGone(let h):
                guard let p = handles.removeValue(forKey: h) else { break }
                // A leave already asked for is on its way; a second one could take out a later process with this pid.
                for g in p.groups.sorted() { inView[g]?.removeAll { $0 == h } }
                for g in p.groups.subtracting(p.leaving).sorted() {
                    out.effects.append(.multicast(Message.leave(group: g, pid: p.pid, reason: .processDown).encode()))
                }
            case .stop:
                out.effects.append(.multicast(Message.daemonStopped.encode()))
            case .deadlineReached:
                if var s = sync, !s.closeSent, now >= s.deadline {
                    // Lists still missing after the wait: those nodes run no groupd we know of. Closing goes through
                    // the total order, so every member ends the round at the same point.
                    s.closeSent = true
                    sync = s
                    out.effects.append(.multicast(Message.syncClose(ringSequence: s.key.ringSequence, requester: s.key.requester,
                                                                    round: s.key.round).encode()))
                }
            }
            return out
        }

        private mutating func join(_ h: Handle, pid: UInt32, group: String, out: inout Output) -> RequestResult {
            guard !group.isEmpty, group.utf8.count <= ProcessGroup.nameBytesMax else {
                return .invalid("group names are 1-\(ProcessGroup.nameBytesMax) bytes")
            }
            // Until this groupd has taken part in one sync it does not know the groups: a join now could not be placed
            // in any view (and its own held join would be lost when the lists arrive), so the client tries again.
            guard synchronised else { return .tryAgain }
            // One group per handle, as libcpg: leaving → busy, joining or joined → exists.
            if let p = handles[h], !p.groups.isEmpty { return p.groups == p.leaving ? .busy : .exists }
            // (pid, group) is unique on a node.
            if handles.values.contains(where: { $0.pid == pid && $0.groups.contains(group) && !$0.leaving.contains(group) }) { return .exists }
            // The same process's previous membership (a closed handle, or one leaving) is still in the group.
            if groups[group]?.contains(Address(node: nodeID, pid: pid)) == true { return .tryAgain }
            if (groups[group]?.count ?? 0) >= ProcessGroup.membersMax { return .invalid("group \(group) has \(ProcessGroup.membersMax) members") }
            handles[h, default: LocalProcess(pid: pid)].pid = pid
            handles[h]!.groups.insert(group)
            handles[h]!.joining.insert(group)
            out.effects.append(.multicast(Message.join(group: group, pid: pid).encode()))
            return .ok
        }

        private mutating func leave(_ h: Handle, group: String, out: inout Output) -> RequestResult {
            guard let p = handles[h], p.groups.contains(group), !p.leaving.contains(group) else { return .notMember }
            if p.joining.contains(group) { return .busy }
            handles[h]!.leaving.insert(group)
            out.effects.append(.multicast(Message.leave(group: group, pid: p.pid, reason: .leave).encode()))
            return .ok
        }

        // MARK: - The ordered stream

        mutating func deliver(_ m: Message, from: NodeID, at position: UInt64, out: inout Output) {
            self.position = position
            switch m {
            case .join(let g, let pid):
                let a = Address(node: from, pid: pid)
                if from == nodeID, let h = localHandle(pid: pid, group: g) { handles[h]!.joining.remove(g) }
                guard !departed.contains(from), !(groups[g]?.contains(a) ?? false), (groups[g]?.count ?? 0) < ProcessGroup.membersMax else { return }
                groups[g, default: []].append(a)
                groups[g]!.sort()
                if from == nodeID, let h = localHandle(pid: pid, group: g), !(inView[g]?.contains(h) ?? false) {
                    inView[g, default: []].append(h)
                }
                notify(g, joined: [(a, .join)], left: [], out: &out)
            case .leave(let g, let pid, let reason):
                let a = Address(node: from, pid: pid)
                guard groups[g]?.contains(a) == true else { return }
                groups[g]!.removeAll { $0 == a }
                // The leaving process also sees the view that lists it as left.
                notify(g, joined: [], left: [(a, reason)], out: &out)
                // Only the handle that asked to leave goes. A handle that is gone already left the view when it went; a
                // newer connection of the same pid that joined since must not be taken out by its predecessor's leave.
                if from == nodeID, let h = handles.keys.sorted().first(where: { handles[$0]!.pid == pid && handles[$0]!.leaving.contains(g) }) {
                    inView[g]?.removeAll { $0 == h }
                    handles[h]!.groups.remove(g)
                    handles[h]!.leaving.remove(g)
                }
                if groups[g]!.isEmpty { groups[g] = nil }
            case .mcast(let g, let pid, let payload):
                let a = Address(node: from, pid: pid)
                if mutations.contains(.deliverOutsideView) {
                    for h in handles.keys.sorted() where handles[h]!.groups.contains(g) {
                        out.effects.append(.event(h, .delivery(group: g, sender: a, payload: payload)))
                    }
                    return
                }
                // Delivered only to members of the view it arrives in, and only from a member.
                guard groups[g]?.contains(a) == true else { return }
                for h in inView[g] ?? [] { out.effects.append(.event(h, .delivery(group: g, sender: a, payload: payload))) }
            case .syncList(let seq, let requester, let round, let entries, let absent):
                syncListDelivered(RoundKey(ringSequence: seq, requester: requester, round: round), from: from, entries: entries,
                                  absent: absent, out: &out)
            case .syncRequest(let seq, let round):
                syncRequested(ringSequence: seq, round: round, from: from, out: &out)
            case .syncClose(let seq, let requester, let round):
                guard let s = sync, s.key == RoundKey(ringSequence: seq, requester: requester, round: round) else { return }
                finishSync(out: &out)
            case .daemonStopped:
                daemonStopped(from, out: &out)
            }
        }

        func localHandle(pid: UInt32, group: String) -> Handle? {
            handles.keys.sorted().first { handles[$0]!.pid == pid && handles[$0]!.groups.contains(group) && !handles[$0]!.leaving.contains(group) }
        }

        /// A view change of `group`, to every local process in its view, named by the position of the message that
        /// caused it (0 while views are provisional).
        mutating func notify(_ g: String, joined: [(Address, Reason)], left: [(Address, Reason)], out: inout Output) {
            var change = ConfigurationChange(group: g, members: groups[g] ?? [], joined: joined, left: left)
            change.ringSequence = ringSequence
            change.ringRepresentative = ringRepresentative
            if sync == nil && !newcomer && !provisionalViews { change.viewNumber = position }
            for h in inView[g] ?? [] { out.effects.append(.event(h, .configurationChange(change))) }
        }

        func totemEvent() -> ClientEvent {
            .totemConfiguration(ringSequence: ringSequence, ringRepresentative: ringRepresentative, members: nodes)
        }

        // MARK: - Queries

        /// The members of `group` (empty if nobody is in it).
        public func members(of group: String) -> [Address] { groups[group] ?? [] }

        /// Every group and its members, by name.
        public var allGroups: [(name: String, members: [Address])] { groups.keys.sorted().map { ($0, groups[$0]!) } }
    }
}
