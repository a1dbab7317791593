// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension ProcessGroup {
    /// A local client's handle (one per IPC connection).
    public typealias Handle = UInt64

    public enum ConfigurationKind: Sendable { case transitional, regular }

    /// The single input type.
    public enum Event: Sendable {
        /// A totem configuration change.
        case configuration(kind: ConfigurationKind, ringSequence: UInt64, ringRepresentative: NodeID, members: [NodeID])
        /// A groupd message delivered by totem in agreed order.
        case delivered(from: NodeID, bytes: [UInt8])
        /// A local process (pid) on `handle` asks to join `group`; `totemEvents` also gives it totem configurations.
        case join(handle: Handle, pid: UInt32, group: String)
        case leave(handle: Handle, group: String)
        case mcast(handle: Handle, group: String, payload: [UInt8])
        /// Also send this handle the totem configuration changes.
        case subscribeTotem(handle: Handle)
        /// The client went away: leave its groups with reason process down.
        case processGone(handle: Handle)
    }

    public enum RequestResult: Hashable, Sendable {
        case ok
        /// Already joined (CS_ERR_EXIST).
        case exists
        /// Not a member of that group.
        case notMember
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
        public private(set) var groups: [String: [Address]] = [:]
        /// Totem's current members.
        public private(set) var nodes: [NodeID] = []
        public private(set) var ringSequence: UInt64 = 0
        var ringRepresentative = NodeID(0)
        var transitional: Set<NodeID>?
        var handles: [Handle: LocalProcess] = [:]
        /// Handles in each group's view, in join order.
        var inView: [String: [Handle]] = [:]
        var sync: Sync?
        var held: [(NodeID, Message)] = []
        /// Views installed per group in the current ring.
        var viewCounter: [String: Int] = [:]
        /// This groupd joined a running ring and knows nobody's processes yet.
        var newcomer = false
        /// Tells this process's sync requests apart from an earlier groupd's on the same node.
        let incarnation: UInt32

        struct LocalProcess {
            var pid: UInt32
            /// Groups joined or being joined.
            var groups: Set<String> = []
            /// Groups this process asked to leave, until that leave is delivered.
            var leaving: Set<String> = []
            var totem = false
        }

        struct Sync {
            var ringSequence: UInt64
            var requester: NodeID
            var round: UInt32
            var waiting: Set<NodeID>
            var lists: [NodeID: [SyncEntry]]
            var transitional: Set<NodeID>
        }

        /// `incarnation` distinguishes this groupd process from earlier ones on the node (the shell passes its pid).
        public init(nodeID: NodeID, incarnation: UInt32 = 0) {
            self.nodeID = nodeID
            self.incarnation = incarnation
        }

        /// True while the groupds exchange their lists after a configuration change.
        public var isSyncing: Bool { sync != nil }

        /// The single entry point.
        public mutating func handle(_ event: Event) -> Output {
            var out = Output()
            switch event {
            case .configuration(let kind, let seq, let rep, let list):
                configuration(kind, seq, rep, list, out: &out)
            case .delivered(let from, let bytes):
                guard let m = try? Message.decode(bytes) else { break } // garbage from a member: dropped
                if sync != nil, case .syncList = m {
                    deliver(m, from: from, out: &out)
                } else if case .syncRequest = m {
                    deliver(m, from: from, out: &out)
                } else if sync != nil || newcomer {
                    held.append((from, m))
                } else {
                    deliver(m, from: from, out: &out)
                }
            case .join(let h, let pid, let group):
                out.result = join(h, pid: pid, group: group, out: &out)
            case .leave(let h, let group):
                guard let p = handles[h], p.groups.contains(group), !p.leaving.contains(group) else { out.result = .notMember; break }
                handles[h]!.leaving.insert(group)
                out.effects.append(.multicast(Message.leave(group: group, pid: p.pid, reason: .leave).encode()))
                out.result = .ok
            case .mcast(let h, let group, let payload):
                guard let p = handles[h], p.groups.contains(group) else { out.result = .notMember; break }
                guard payload.count <= ProcessGroup.payloadBytesMax else { out.result = .invalid("payload larger than \(ProcessGroup.payloadBytesMax) bytes"); break }
                out.effects.append(.multicast(Message.mcast(group: group, pid: p.pid, payload: payload).encode()))
                out.result = .ok
            case .subscribeTotem(let h):
                handles[h, default: LocalProcess(pid: 0)].totem = true
                if !nodes.isEmpty {
                    out.effects.append(.event(h, .totemConfiguration(ringSequence: ringSequence, ringRepresentative: ringRepresentative, members: nodes)))
                }
            case .processGone(let h):
                guard let p = handles.removeValue(forKey: h) else { break }
                // A leave already asked for is on its way; a second one could take out a later process with this pid.
                for g in p.groups.sorted() { inView[g]?.removeAll { $0 == h } }
                for g in p.groups.subtracting(p.leaving).sorted() {
                    out.effects.append(.multicast(Message.leave(group: g, pid: p.pid, reason: .processDown).encode()))
                }
            }
            return out
        }

        private mutating func join(_ h: Handle, pid: UInt32, group: String, out: inout Output) -> RequestResult {
            guard !group.isEmpty, group.utf8.count <= ProcessGroup.nameBytesMax else {
                return .invalid("group names are 1-\(ProcessGroup.nameBytesMax) bytes")
            }
            if handles[h]?.groups.contains(group) == true { return .exists }
            // (pid, group) is unique on a node.
            if handles.values.contains(where: { $0.pid == pid && $0.groups.contains(group) }) { return .exists }
            if (groups[group]?.count ?? 0) >= ProcessGroup.membersMax { return .invalid("group \(group) has \(ProcessGroup.membersMax) members") }
            handles[h, default: LocalProcess(pid: pid)].pid = pid
            handles[h]!.groups.insert(group)
            out.effects.append(.multicast(Message.join(group: group, pid: pid).encode()))
            return .ok
        }

        // MARK: - The ordered stream

        private mutating func deliver(_ m: Message, from: NodeID, out: inout Output) {
            switch m {
            case .join(let g, let pid):
                let a = Address(node: from, pid: pid)
                guard !(groups[g]?.contains(a) ?? false), (groups[g]?.count ?? 0) < ProcessGroup.membersMax else { return }
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
                // Delivered only to members of the view it arrives in, and only from a member.
                guard groups[g]?.contains(a) == true else { return }
                for h in inView[g] ?? [] { out.effects.append(.event(h, .delivery(group: g, sender: a, payload: payload))) }
            case .syncList(let seq, let requester, let round, let entries):
                guard var s = sync, s.ringSequence == seq, s.requester == requester, s.round == round, s.waiting.contains(from) else { return }
                s.lists[from] = entries
                s.waiting.remove(from)
                sync = s
                if s.waiting.isEmpty { finishSync(out: &out) }
            case .syncRequest(let seq, let round):
                guard seq == ringSequence else { return }
                // Everybody sends its list again for this round; a newcomer takes every list, the others only
                // what is new. A round opened earlier is superseded (a newcomer may not have seen it).
                let stayed: Set<NodeID> = newcomer ? [] : Set(nodes)
                sync = Sync(ringSequence: seq, requester: from, round: round, waiting: Set(nodes), lists: [:], transitional: stayed)
                newcomer = false
                sendList(out: &out)
            }
        }

        private func localHandle(pid: UInt32, group: String) -> Handle? {
            handles.keys.sorted().first { handles[$0]!.pid == pid && handles[$0]!.groups.contains(group) && !handles[$0]!.leaving.contains(group) }
        }

        /// A view change of `group`, to every local process in its view.
        private mutating func notify(_ g: String, joined: [(Address, Reason)], left: [(Address, Reason)], out: inout Output) {
            var change = ConfigurationChange(group: g, members: groups[g] ?? [], joined: joined, left: left)
            viewCounter[g, default: 0] += 1
            change.ringSequence = ringSequence
            change.viewNumber = viewCounter[g]!
            for h in inView[g] ?? [] { out.effects.append(.event(h, .configurationChange(change))) }
        }

        // MARK: - Configuration changes and sync

        private mutating func configuration(_ kind: ConfigurationKind, _ seq: UInt64, _ rep: NodeID, _ list: [NodeID],
                                            out: inout Output) {
            if kind == .transitional {
                transitional = Set(list)
                return
            }
            if nodes.isEmpty && transitional == nil && list.count > 1 {
                // Started while the ring was running: the others synchronised without us. Ask them again.
                nodes = list
                ringSequence = seq
                ringRepresentative = rep
                newcomer = true
                out.effects.append(.multicast(Message.syncRequest(ringSequence: seq, round: incarnation).encode()))
                for h in handles.keys.sorted() where handles[h]!.totem {
                    out.effects.append(.event(h, .totemConfiguration(ringSequence: seq, ringRepresentative: rep, members: list)))
                }
                return
            }
            // A sync still open from the previous ring ends here: what it held is applied in that ring's view.
            if sync != nil {
                sync = nil
                flushHeld(out: &out)
            }
            let stayed = transitional ?? Set(list)
            transitional = nil
            nodes = list
            ringSequence = seq
            viewCounter = [:]
            ringRepresentative = rep
            newcomer = false
            // Processes whose node did not come along (or came back from elsewhere) leave: node down.
            for g in groups.keys.sorted() {
                let gone = groups[g]!.filter { !stayed.contains($0.node) || !list.contains($0.node) }
                guard !gone.isEmpty else { continue }
                groups[g]!.removeAll { gone.contains($0) }
                notify(g, joined: [], left: gone.map { ($0, .nodeDown) }, out: &out)
                if groups[g]!.isEmpty { groups[g] = nil }
            }
            for h in handles.keys.sorted() where handles[h]!.totem {
                out.effects.append(.event(h, .totemConfiguration(ringSequence: seq, ringRepresentative: rep, members: list)))
            }
            guard list.contains(nodeID) else { return }
            sync = Sync(ringSequence: seq, requester: NodeID(0), round: 0, waiting: Set(list), lists: [:], transitional: stayed)
            sendList(out: &out)
        }

        private func sendList(out: inout Output) {
            guard let s = sync else { return }
            let mine = groups.keys.sorted().flatMap { g in
                groups[g]!.filter { $0.node == nodeID }.map { SyncEntry(group: g, pid: $0.pid) }
            }
            out.effects.append(.multicast(Message.syncList(ringSequence: s.ringSequence, requester: s.requester, round: s.round, entries: mine).encode()))
        }

        /// Every member's list arrived: processes of nodes that were not with us join with reason node up; then the
        /// messages held back meanwhile are applied in order.
        private mutating func finishSync(out: inout Output) {
            guard let s = sync else { return }
            sync = nil
            // Processes of nodes that stayed but are missing from their own node's list are gone (their groupd
            // restarted without them): process down.
            for node in s.lists.keys.sorted() where s.transitional.contains(node) && node != nodeID {
                let listed = Set(s.lists[node]!.map { "\($0.group)\u{0}\($0.pid)" })
                for g in groups.keys.sorted() {
                    let gone = groups[g]!.filter { $0.node == node && !listed.contains("\(g)\u{0}\($0.pid)") }
                    guard !gone.isEmpty else { continue }
                    groups[g]!.removeAll { gone.contains($0) }
                    notify(g, joined: [], left: gone.map { ($0, .processDown) }, out: &out)
                    if groups[g]!.isEmpty { groups[g] = nil }
                }
            }
            var added: [String: [Address]] = [:]
            for node in s.lists.keys.sorted() where !s.transitional.contains(node) {
                for e in s.lists[node]! {
                    let a = Address(node: node, pid: e.pid)
                    guard !(groups[e.group]?.contains(a) ?? false) else { continue }
                    added[e.group, default: []].append(a)
                }
            }
            for g in added.keys.sorted() {
                groups[g, default: []].append(contentsOf: added[g]!)
                groups[g]!.sort()
                notify(g, joined: added[g]!.sorted().map { ($0, .nodeUp) }, left: [], out: &out)
            }
            flushHeld(out: &out)
        }

        private mutating func flushHeld(out: inout Output) {
            let pending = held
            held = []
            for (from, m) in pending { deliver(m, from: from, out: &out) }
        }

        // MARK: - Queries

        /// The members of `group` (empty if nobody is in it).
        public func members(of group: String) -> [Address] { groups[group] ?? [] }

        /// Every group and its members, by name.
        public var allGroups: [(name: String, members: [Address])] { groups.keys.sorted().map { ($0, groups[$0]!) } }
    }
}
