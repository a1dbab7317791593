// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Quorum {
    /// One node's quorum state machine. Feed it `Event`s with `handle(_:at:)`; carry out the effects in order.
    public struct StateMachine: Sendable {
        public let nodeID: NodeID
        public private(set) var settings: Settings
        public internal(set) var nodes: [NodeID: NodeRecord] = [:]
        public private(set) var members: [NodeID] = []
        /// The current regular configuration's ring sequence (cman's "Cluster Generation").
        public private(set) var generation: UInt64 = 0
        public private(set) var summary: Summary
        public internal(set) var configVersion: UInt64
        public private(set) var dirty = false
        public private(set) var otherClusterMessages = 0
        /// The cluster-wide expected votes, before taking the maximum with members' and total votes.
        public internal(set) var expectedVotes: UInt32
        var incarnation: UInt64?
        /// The members that came along from the previous ring (the transitional configuration), until the regular
        /// configuration that follows it.
        var cameAlong: Set<NodeID>?
        let joinTime: UInt64
        var localQdiskVotes: UInt32 = 0
        var localQdiskMaster = false
        /// This node announced a quorum-disk master offer, and no retraction of it has been delivered since: members
        /// of its partition may still count the device's votes through it. The quorum disk keeps its claim on the
        /// disk while this holds (`QuorumDisk.StateMachine.interval(…offerOutstanding:)`), so that no other node
        /// becomes master meanwhile.
        public private(set) var masterOfferOutstanding = false
        /// No announcement made yet by this process: the first one asks everyone to announce again.
        var announcedOnce = false
        var seenAll = false
        var lastManStandingDeadline: MonotonicInstant?
        /// Disallowed members this node told to leave in the current membership.
        var disallowedTold: Set<NodeID> = []
        /// Nodes a delivered kill told to leave, in this membership.
        var killsDelivered: Set<NodeID> = []
        /// A catch-up proposal of this node's file is on its way (until delivered, or the membership changes).
        var catchUpSent = false
        /// Members the quorum disk's master declared dead by disk in the interval being handled.
        var pendingEvictions: [NodeID] = []
        var proposal: Proposal?
        var leaving = false
        public private(set) var localPorts: Set<UInt8> = []
        /// Barriers with arrivals: who arrived, and how many are expected (0: every member).
        var barriers: [String: (arrived: Set<NodeID>, expected: UInt32)] = [:]
        var localBarriers: Set<String> = []
        /// The running cluster.conf as distributed (compared with proposals, proposed to members that are behind).
        public internal(set) var configBytes: [UInt8]
        /// Local clients registered for notifications, with the names refusals give them.
        public internal(set) var registered: [Client: String] = [:]
        /// A staged shutdown collecting answers.
        var shutdown: Shutdown?
        /// This node announced its departure (or is about to): no second leave.
        var leaveInProgress = false
        /// The `cman_tool leave` to answer once the departure is under way.
        var leaveRequester: Client?
        /// The state last handed to the shell to persist (or read at start).
        var lastPersisted: Quorum.PersistedState?

        struct Proposal: Sendable {
            var origin: NodeID
            var version: UInt64
            var bytes: [UInt8]
            var voters: Set<NodeID>
            var refusals: [String]
            var accepted: Set<NodeID>
            /// The settings this node read from the proposal, applied if every member accepts.
            var checked: Settings?
        }

        /// `joinTime` is the wall clock (seconds) at start; the core never reads clocks itself. `configBytes` is the
        /// running cluster.conf, `configVersion` its version. `persisted` is the state file a predecessor left
        /// (`Quorum.PersistedState`): used if it goes with `configVersion`.
        public init(nodeID: NodeID, settings: Settings, configVersion: UInt64, joinTime: UInt64, configBytes: [UInt8] = [],
                    persisted: PersistedState? = nil) {
            self.nodeID = nodeID
            self.settings = settings
            self.configVersion = configVersion
            self.joinTime = joinTime
            self.configBytes = configBytes
            expectedVotes = settings.expectedVotes
            for n in settings.nodes {
                nodes[n.id] = NodeRecord(id: n.id, name: n.name, votes: n.votes, expectedVotes: settings.expectedVotes, state: .dead,
                                         incarnation: 0, joinTime: 0, configVersion: 0, dirty: false, qdiskVotes: 0, heard: false,
                                         leftIncarnation: nil, seenAll: false)
            }
            summary = Summary(quorate: false, quorum: 0, totalVotes: 0, expectedVotes: settings.expectedVotes, qdiskVotes: 0,
                              memberCount: 0, disallowed: [])
            resume(from: persisted)
            summary = compute()
        }

        /// The earliest of the last_man_standing window and the staged shutdown's wait.
        public var nextDeadline: MonotonicInstant? {
            [lastManStandingDeadline, shutdown?.deadline].compactMap { $0 }.min()
        }

        public var isQuorate: Bool { summary.quorate }

        public var me: NodeRecord { nodes[nodeID]! }

        /// The single entry point.
        public mutating func handle(_ event: Event, at now: MonotonicInstant) -> Output {
            var out = Output()
            let before = (summary, members, nodes.mapValues(\.state))
            switch event {
            case .configuration(let c):
                if c.kind == .regular { regularConfiguration(c.ringID.sequence, c.members, now: now, out: &out) } else { cameAlong = Set(c.members) }
            case .delivered(let from, let bytes):
                guard let message = try? Message.decode(bytes) else { // garbage from a member: count and drop
                    otherClusterMessages += 1
                    break
                }
                deliver(message, from: from, now: now, out: &out)
            case .request(let r):
                out.result = request(r, out: &out)
            case .setDirty:
                if !dirty {
                    dirty = true
                    announce(&out)
                }
            case .qdisk(let votes, let asMaster, let evict, let evicted):
                // Before this node is in a configuration there is nobody to offer votes to or evict.
                guard !members.isEmpty else { break }
                if evicted {
                    departCluster(reason: "evicted by the quorum disk master", evicted: true, out: &out)
                    break
                }
                if votes != localQdiskVotes || asMaster != localQdiskMaster {
                    if localQdiskMaster && !asMaster && !settings.mutations.contains(.nonMastersCountQdiskVotes) {
                        // qdisk(5): a node that is no longer the master stops counting the device's votes at once;
                        // its peers stop where its announcement lands in the order.
                        nodes[nodeID]!.qdiskMaster = false
                        nodes[nodeID]!.qdiskVotes = 0
                    }
                    localQdiskVotes = votes
                    localQdiskMaster = asMaster
                    announce(&out)
                }
                // The master's evictions are carried out once quorum is recomputed with these votes.
                pendingEvictions = evict
            case .configChecked(let version, let checked):
                configChecked(version: version, checked, out: &out)
            case .reconfigure(let new):
                reconfigure(new, out: &out)
            case .localPorts(let ports):
                if ports != localPorts {
                    localPorts = ports
                    announce(&out)
                }
            case .clientRegistered(let client, let name):
                registered[client] = name
            case .clientGone(let client):
                clientGone(client, out: &out)
            case .shutdownRequested(let requester, let remove, let force):
                shutdownRequested(by: requester, remove: remove, force: force, now: now, out: &out)
            case .shutdownReply(let client, let allow):
                shutdownReply(from: client, allow: allow, out: &out)
            case .deadlineReached:
                if let d = lastManStandingDeadline, d <= now {
                    lastManStandingDeadline = nil
                    lastManStandingExpired(out: &out)
                }
                if let d = shutdown?.deadline, d <= now { shutdownTimedOut(out: &out) }
            }
            recompute(now: now, out: &out)
            evictDeadByDisk(out: &out)
            persistIfChanged(out: &out)
            if before.0 != summary || before.1 != members || before.2 != nodes.mapValues(\.state) {
                out.effects.append(.stateChanged)
            }
            return out
        }

        // MARK: - Configuration

        /// Applies a new configuration: nodes it adds get records, configured votes apply to nodes not yet heard,
        /// and a changed expected_votes (or vote total) becomes the cluster's expected votes.
        mutating func reconfigure(_ new: Settings, out: inout Output) {
            let old = settings
            settings = new
            for n in new.nodes {
                if nodes[n.id] == nil {
                    nodes[n.id] = NodeRecord(id: n.id, name: n.name, votes: n.votes, expectedVotes: new.expectedVotes, state: .dead,
                                             incarnation: 0, joinTime: 0, configVersion: 0, dirty: false, qdiskVotes: 0, heard: false,
                                             leftIncarnation: nil, seenAll: false)
                } else if !nodes[n.id]!.heard {
                    nodes[n.id]!.votes = n.votes
                    nodes[n.id]!.name = n.name
                }
            }
            if let mine = new.nodes.first(where: { $0.id == nodeID }), mine.votes != nodes[nodeID]!.votes {
                // This node's own votes follow its configuration; the others learn them from its announcement.
                if mine.votes > nodes[nodeID]!.votes { raiseExpected(by: mine.votes - nodes[nodeID]!.votes) }
                nodes[nodeID]!.votes = mine.votes
                announce(&out)
            }
            // A configuration never lowers expected votes (and so quorum): a file written for fewer nodes, or with a
            // low expected_votes, installed beside an unseen partition would make both sides quorate. Lowering is
            // an administrator's explicit, guarded act (cman_tool expected).
            if new.expectedVotes != old.expectedVotes && new.expectedVotes > expectedVotes {
                expectedVotes = new.expectedVotes
                for id in nodes.keys.sorted() { nodes[id]!.expectedVotes = max(nodes[id]!.expectedVotes, expectedVotes) }
                out.effects.append(.notice(.expectedRaisedByConfiguration(expectedVotes)))
                announce(&out)
            } else if new.expectedVotes < old.expectedVotes {
                out.effects.append(.notice(.expectedKeptOverConfiguration(configured: new.expectedVotes, kept: expectedVotes)))
            }
        }

        // MARK: - Membership

        private mutating func regularConfiguration(_ seq: UInt64, _ list: [NodeID], now: MonotonicInstant, out: inout Output) {
            generation = seq
            catchUpSent = false
            if incarnation == nil { incarnation = seq }
            let newMembers = Set(list)
            // A member that did not come along (absent from the transitional configuration) left the old ring, even
            // if it is in the new one: it went through a ring of its own that this node never saw (virtual
            // synchrony; cman's left list), so it is back as a returning node, like one seen gone for a whole ring.
            // Otherwise only its side would judge the others Disallowed, and a quorate side counting it would wait
            // for it forever.
            let stayed = cameAlong ?? Set(members)
            cameAlong = nil
            // A node told to leave that went away and came back is a new case (the message may not have reached it).
            disallowedTold = disallowedTold.intersection(newMembers).intersection(stayed)
            killsDelivered = []
            for id in nodes.keys.sorted() where nodes[id]!.state != .dead && (!newMembers.contains(id) || (id != nodeID && !stayed.contains(id))) {
                // It left: remember its incarnation, so a return without a restart can be recognised.
                nodes[id]!.leftIncarnation = nodes[id]!.heard ? nodes[id]!.incarnation : nodes[id]!.leftIncarnation
                nodes[id]!.state = .dead
                nodes[id]!.heard = false
                nodes[id]!.qdiskVotes = 0
                nodes[id]!.qdiskMaster = false
                nodes[id]!.leaving = false
            }
            // A non-master's quorum-disk offer was made for the old membership (the master's partition then); it
            // counts again only once the disk has been read against the new one. The master's offer holds: only
            // its partition can have it.
            let keepAll = settings.mutations.contains(.nonMastersCountQdiskVotes)
            for id in nodes.keys.sorted() where !nodes[id]!.qdiskMaster && !keepAll { nodes[id]!.qdiskVotes = 0 }
            if !localQdiskMaster && !keepAll { localQdiskVotes = 0 }
            // This node's own offer is what its disk says now, not what it last announced: a master that lost the
            // role while it could not announce (its ring was breaking up) must not carry the master's offer into the
            // new membership, where the new master's partition counts it too.
            if nodes[nodeID]!.qdiskMaster && !localQdiskMaster && !keepAll {
                nodes[nodeID]!.qdiskMaster = false
                nodes[nodeID]!.qdiskVotes = 0
            }
            for id in list where nodes[id] == nil {
                // A node not in our cluster.conf: known by id until it introduces itself.
                nodes[id] = NodeRecord(id: id, name: "node\(id)", votes: 0, expectedVotes: 0, state: .dead, incarnation: 0, joinTime: 0,
                                       configVersion: 0, dirty: false, qdiskVotes: 0, heard: false, leftIncarnation: nil, seenAll: false)
            }
            for id in list where nodes[id]!.state == .dead {
                nodes[id]!.state = .joining
                nodes[id]!.heard = false
            }
            if let p = proposal, !p.voters.isSubset(of: newMembers) {
                abortProposal("the membership changed during distribution", out: &out)
            }
            for name in barriers.keys.sorted() where !barriers[name]!.arrived.isSubset(of: newMembers) || barriers[name]!.expected == 0 {
                // A node that arrived left: the barrier cannot complete as asked.
                if localBarriers.remove(name) != nil {
                    out.effects.append(.barrierFailed(name, reason: "the membership changed while waiting"))
                }
                barriers[name] = nil
            }
            members = list
            if !newMembers.contains(nodeID) { return }
            nodes[nodeID]!.incarnation = incarnation ?? seq
            announce(&out)
            if settings.lastManStanding && summary.quorate {
                lastManStandingDeadline = now + settings.lastManStandingWindow
            }
        }

        /// Multicasts this node's information.
        mutating func announce(_ out: inout Output) {
            guard !leaving else { return }
            let info = NodeInfo(nodeID: nodeID, clusterName: settings.clusterName, name: me.name, votes: me.votes,
                                expectedVotes: expectedVotes, configVersion: configVersion, incarnation: incarnation ?? 0,
                                joinTime: joinTime, dirty: dirty, qdiskVotes: localQdiskVotes, seenAll: seenAll,
                                ports: localPorts.sorted(), qdiskMaster: localQdiskMaster, fresh: !announcedOnce)
            announcedOnce = true
            if localQdiskMaster { masterOfferOutstanding = true }
            out.effects.append(.multicast(Message.nodeInfo(info).encode()))
        }

        private mutating func deliver(_ m: Message, from: NodeID, now: MonotonicInstant, out: inout Output) {
            switch m {
            case .nodeInfo(let info):
                received(info, from: from, out: &out)
            case .setExpected(let n):
                if n < compute().expectedVotes, let why = powerChangeDropped() {
                    out.effects.append(.notice(.adminChangeDropped(what: "expected votes \(n) from node \(from)", why: why)))
                    return
                }
                expectedVotes = n
                for id in nodes.keys.sorted() { nodes[id]!.expectedVotes = n }
                out.effects.append(.notice(.expectedVotesSet(n, by: from)))
            case .setVotes(let node, let votes):
                guard nodes[node] != nil else { return }
                if votes > nodes[node]!.votes, let why = powerChangeDropped() {
                    out.effects.append(.notice(.adminChangeDropped(what: "\(votes) vote(s) for node \(nodes[node]!.name) from node \(from)", why: why)))
                    return
                }
                // Raising a node's votes raises expected votes with them, so quorum stays above half of every vote
                // that exists, including those of nodes this partition cannot see.
                if votes > nodes[node]!.votes { raiseExpected(by: votes - nodes[node]!.votes) }
                nodes[node]!.votes = votes
                out.effects.append(.notice(.votesSet(node: nodes[node]!.name, votes: votes)))
            case .kill(let node, let reason):
                // Several quorate members may tell the same node to leave at the same point of the stream (each that
                // judges it Disallowed): the first word counts, the others change nothing and are not logged, nor is
                // a word about a node already gone.
                guard killsDelivered.insert(node).inserted else { return }
                if node == nodeID {
                    departCluster(reason: "killed by node \(from): \(reason)", evicted: false, out: &out)
                } else if let n = nodes[node], members.contains(node) {
                    out.effects.append(.notice(.nodeKilled(node: n.name, by: from, reason: reason)))
                }
            case .leaving(let node, let remove):
                if node == nodeID {
                    departCluster(reason: remove ? "left the cluster (remove)" : "left the cluster", evicted: false, out: &out)
                } else if let n = nodes[node] {
                    // It no longer counts, even before the membership shows it gone.
                    nodes[node]!.leaving = true
                    if remove {
                        expectedVotes = max(expectedVotes > n.votes ? expectedVotes - n.votes : 1, 1)
                        for id in nodes.keys.sorted() { nodes[id]!.expectedVotes = expectedVotes }
                    }
                    out.effects.append(.notice(.nodeLeaving(node: n.name, loweredExpected: remove ? expectedVotes : nil)))
                }
            case .configPropose(let origin, let version, let bytes):
                if origin == nodeID { catchUpSent = false }
                proposal = Proposal(origin: origin, version: version, bytes: bytes, voters: Set(members), refusals: [], accepted: [])
                if summary.quorate {
                    out.effects.append(.validateConfig(origin: origin, version: version, bytes: bytes))
                } else {
                    // cman installs configuration only in a quorate partition: a minority must not change the rules
                    // its majority runs by.
                    out.effects.append(.multicast(Message.configVote(node: nodeID, version: version, refusal: "this node's partition is inquorate").encode()))
                }
            case .data(let port, let to, let bytes):
                if (to.rawValue == 0 || to == nodeID) && localPorts.contains(port) {
                    out.effects.append(.portData(from: from, port: port, bytes: bytes))
                }
            case .barrierWait(let name, let expected):
                var b = barriers[name] ?? ([], expected)
                b.arrived.insert(from)
                barriers[name] = b
                checkBarrier(name, out: &out)
            case .configVote(let node, let version, let refusal):
                guard var p = proposal, p.version == version, p.voters.contains(node) else { return }
                if refusal.isEmpty { p.accepted.insert(node) } else { p.refusals.append("node \(nodes[node]?.name ?? node.description): \(refusal)") }
                proposal = p
                if p.accepted.count + p.refusals.count == p.voters.count { finishProposal(out: &out) }
            }
        }

        private mutating func received(_ info: NodeInfo, from: NodeID, out: inout Output) {
            guard info.nodeID == from, info.clusterName == settings.clusterName else {
                otherClusterMessages += 1
                return
            }
            guard var r = nodes[from], members.contains(from) else { return }
            // A quorumd that starts after the others missed their announcements: hearing it for the first time,
            // announce again so it learns about us too.
            let firstHeard = !r.heard && from != nodeID
            if r.state == .joining {
                r.state = .member
                if let left = r.leftIncarnation {
                    // It was a member, left, and is back: with the same incarnation it never restarted.
                    // cman's rule: it is enough that the returning node holds state (its daemons changed state while
                    // away, and nothing can merge it back).
                    if left == info.incarnation && info.dirty {
                        r.state = .disallowed
                        out.effects.append(.notice(.disallowed(node: info.name)))
                    } else {
                        r.leftIncarnation = nil
                    }
                }
            }
            r.heard = true
            r.name = info.name
            r.votes = info.votes
            r.expectedVotes = info.expectedVotes
            r.incarnation = info.incarnation
            r.joinTime = info.joinTime
            r.configVersion = info.configVersion
            r.dirty = info.dirty
            r.qdiskVotes = info.qdiskVotes
            r.qdiskMaster = info.qdiskMaster
            // This node's own retraction is delivered: every member that goes on with it has it, in the same place
            // of the order, and the others saw it leave. (A master announcement made after it is still to come: the
            // disk does not let this node be master again before its release completes.)
            if from == nodeID && !info.qdiskMaster && !localQdiskMaster { masterOfferOutstanding = false }
            r.leaving = false
            r.seenAll = info.seenAll
            let newPorts = Set(info.ports)
            if newPorts != r.ports {
                out.effects.append(.portsChanged(opened: !newPorts.isSubset(of: r.ports)))
                r.ports = newPorts
            }
            nodes[from] = r
            if info.seenAll { seenAll = true }
            if firstHeard || (info.fresh && from != nodeID) { announce(&out) }
            if r.state == .member && info.expectedVotes > expectedVotes && from != nodeID {
                expectedVotes = info.expectedVotes
            }
            checkConfigVersions(out: &out)
        }

        // MARK: - Quorum

        private mutating func recompute(now: MonotonicInstant, out: inout Output) {
            let old = summary
            summary = compute()
            // wait_for_all, and auto_tie_breaker's tie-break (see `compute`), start once every configured node was
            // present at once (or a member that saw that says so).
            if (settings.waitForAll || settings.autoTieBreaker) && !seenAll && Set(settings.nodes.map(\.id)).isSubset(of: Set(activeMembers)) {
                seenAll = true
                summary = compute()
                announce(&out)
            }
            if summary.totalVotes > expectedVotes && !settings.mutations.contains(.quorumNotSticky) {
                // Sticky quorum (cman never lowers quorum on its own; votequorum raises expected votes to the highest
                // total seen): once this many votes were present, a later partition needs a majority of them.
                expectedVotes = summary.totalVotes
                summary = compute()
                announce(&out)
            }
            if old.quorate != summary.quorate {
                let s = summary
                out.effects.append(.notice(s.quorate ? .quorumRegained(totalVotes: s.totalVotes, expectedVotes: s.expectedVotes, quorum: s.quorum)
                                           : .quorumLost(totalVotes: s.totalVotes, expectedVotes: s.expectedVotes, quorum: s.quorum)))
            }
            if summary.quorate { killDisallowed(out: &out) }
            // Configuration catch-up waits for quorum; it may have been held back until now.
            if summary.quorate && !old.quorate { checkConfigVersions(out: &out) }
            if settings.lastManStanding && summary.quorate && lastManStandingDeadline == nil && summary.totalVotes < expectedVotes {
                lastManStandingDeadline = now + settings.lastManStandingWindow
            }
        }

        /// Members that take part (not Disallowed).
        var activeMembers: [NodeID] { members.filter { nodes[$0]?.state == .member && nodes[$0]?.leaving == false } }

        func compute() -> Summary {
            let active = activeMembers
            let qdisk = active.map { nodes[$0]!.qdiskVotes }.max() ?? 0
            let total = active.reduce(UInt32(0)) { $0 + nodes[$1]!.votes } + qdisk
            let reported = active.map { nodes[$0]!.expectedVotes }.max() ?? 0
            var expected = max(expectedVotes, reported, total, 1)
            if settings.mutations.contains(.quorumNotSticky) { expected = max(total, 1) }
            let quorum = quorum(expected: expected, total: total)
            var quorate = total >= quorum && active.contains(nodeID)
            if settings.mutations.contains(.quorumCheckSkipped) { quorate = total > 0 && active.contains(nodeID) }
            if settings.waitForAll && !seenAll { quorate = false }
            // The tie-breaker decides between two halves of every vote there is: with expected votes below the
            // configured votes (a low expected_votes, or a node just started that has not learned the cluster's),
            // "half of expected" is a minority, and the other side can be quorate by the ordinary rule.
            // A quorumd that has not seen every node at once since it started (nor joined a member that has) breaks
            // no ties: it knows the cluster only from its own cluster.conf, which may be older than the votes and
            // expected votes the others run by (a reload it missed, `cman_tool votes`): its "half" need not be half.
            // As votequorum's wait_for_all, for the tie-break alone (issue 9's seeds 6541, 9578, 14826).
            let configuredVotes = settings.nodes.reduce(UInt32(0)) { $0 + $1.votes } + (settings.qdiskVotes ?? 0)
            let tieBreakKnown = seenAll || settings.mutations.contains(.tieBreakerWhileFresh)
            if !quorate && settings.autoTieBreaker && tieBreakKnown && total * 2 == expected && expected >= configuredVotes && active.contains(nodeID),
               let lowest = settings.nodes.first?.id, active.contains(lowest) {
                quorate = true
            }
            let disallowed = members.filter { nodes[$0]?.state == .disallowed }
            return Summary(quorate: quorate, quorum: quorum, totalVotes: total, expectedVotes: expected, qdiskVotes: qdisk,
                           memberCount: active.count, disallowed: disallowed)
        }

        /// The OpenVMS formula, with two_node's exception.
        func quorum(expected: UInt32, total: UInt32) -> UInt32 {
            if settings.twoNode && settings.nodes.count <= 2 { return 1 }
            return max((expected + 2) / 2, (total + 2) / 2)
        }

        /// Raises the cluster's expected votes (and every record's) by `delta`.
        private mutating func raiseExpected(by delta: UInt32) {
            expectedVotes += delta
            for id in nodes.keys.sorted() { nodes[id]!.expectedVotes = max(nodes[id]!.expectedVotes, expectedVotes) }
        }

        /// A quorate side tells Disallowed nodes to leave: every quorate member that judges a node Disallowed says
        /// so, once. The judgement is not the same on every member (a member that restarted since never saw the node
        /// go, and counts it), so leaving it to the lowest member alone could leave a Disallowed node in place, and
        /// the members that judge it so without the votes it would bring, for ever; a second kill of a node that is
        /// leaving anyway changes nothing.
        private mutating func killDisallowed(out: inout Output) {
            for id in summary.disallowed where nodes[id]?.heard == true && !disallowedTold.contains(id) {
                out.effects.append(.multicast(Message.kill(node: id, reason: "rejoined with state after being removed (Disallowed)").encode()))
                // Once per membership: its own announcements do not make it a new case.
                disallowedTold.insert(id)
            }
        }

        private mutating func lastManStandingExpired(out: inout Output) {
            guard summary.quorate, summary.totalVotes < expectedVotes, activeMembers.first == nodeID else { return }
            out.effects.append(.multicast(Message.setExpected(summary.totalVotes).encode()))
        }

        // MARK: - Requests

        mutating func request(_ r: Request, out: inout Output) -> RequestResult {
            switch r {
            case .setExpected(let n):
                guard n >= 1 else { return .refused("expected votes must be at least 1") }
                let total = summary.totalVotes
                guard n >= total else {
                    return .refused("expected votes \(n) is below the \(total) votes present; quorum is never computed from fewer votes than are present")
                }
                let newQuorum = quorum(expected: n, total: total)
                // cman answers EINVAL: an administrator may not switch the cluster off by raising expected votes.
                guard newQuorum <= total else {
                    return .refused("expected votes \(n) would need a quorum of \(newQuorum) but only \(total) votes are present: the cluster would be inquorate")
                }
                if !mayChangePowerHere(addsPower: n < summary.expectedVotes) && !settings.mutations.contains(.adminChangesInMinority) {
                    return .refused(minorityRefusal("setting expected votes to \(n)"))
                }
                out.effects.append(.multicast(Message.setExpected(n).encode()))
            case .setVotes(let node, let votes):
                guard let r = nodes[node] else { return .refused("node \(node) is not known") }
                guard votes <= 255 else { return .refused("votes must be 0...255") }
                if votes > r.votes && !mayChangePowerHere(addsPower: true) && !settings.mutations.contains(.adminChangesInMinority) {
                    return .refused(minorityRefusal("giving node \(r.name) \(votes) vote(s)"))
                }
                out.effects.append(.multicast(Message.setVotes(node: node, votes: votes).encode()))
            case .kill(let node):
                guard let n = nodes[node], members.contains(node) else { return .refused("node \(node) is not a member") }
                guard node != nodeID else { return .refused("use cman_tool leave to stop this node") }
                out.effects.append(.multicast(Message.kill(node: node, reason: "killed by cman_tool kill or another program (fenced removes a node whose fence daemon died) on \(me.name)").encode()))
                out.effects.append(.notice(.killing(node: n.name)))
            case .leave(let remove):
                guard !leaveInProgress else { return .refused("a leave is already in progress") }
                leaveInProgress = true
                out.effects.append(.multicast(Message.leaving(node: nodeID, remove: remove).encode()))
            case .sendData(let port, let to, let bytes):
                guard bytes.count <= Quorum.dataBytesMax else { return .refused("port messages are at most \(Quorum.dataBytesMax) bytes") }
                guard to.rawValue == 0 || members.contains(to) else { return .refused("node \(to) is not a member") }
                out.effects.append(.multicast(Message.data(port: port, to: to, bytes: bytes).encode()))
            case .barrierWait(let name, let expected):
                guard !name.isEmpty, name.utf8.count <= 256 else { return .refused("barrier names are 1-256 bytes") }
                guard !localBarriers.contains(name) else { return .refused("already waiting at barrier \(name)") }
                localBarriers.insert(name)
                out.effects.append(.multicast(Message.barrierWait(name: name, expected: expected).encode()))
            case .proposeConfig(let version, let bytes):
                guard summary.quorate else {
                    return .refused("a new configuration can only be installed by a quorate partition; this one has \(summary.totalVotes) of \(summary.expectedVotes) votes (quorum \(summary.quorum))")
                }
                guard proposal == nil else { return .refused("another configuration is being distributed") }
                guard version > configVersion || (version == configVersion && members.contains { nodes[$0]!.configVersion < version }) else {
                    return .refused("config version \(version) is not above the running version \(configVersion)")
                }
                guard bytes.count <= Quorum.configBytesMax else { return .refused("the configuration is larger than \(Quorum.configBytesMax) bytes") }
                out.effects.append(.multicast(Message.configPropose(origin: nodeID, version: version, bytes: bytes).encode()))
            }
            return .accepted
        }

        /// Why an administrative change that adds power to an inquorate partition is refused.
        private func minorityRefusal(_ what: String) -> String {
            let present = Set(activeMembers)
            let absent = settings.nodes.filter { !present.contains($0.id) }
            let absentVotes = absent.reduce(UInt32(0)) { $0 + (nodes[$1.id]?.votes ?? $1.votes) }
            let names = absent.map(\.name).joined(separator: ", ")
            if summary.quorate {
                return "this partition is quorate only with the quorum device's votes (\(summary.totalVotes - summary.qdiskVotes) own votes, "
                    + "quorum \(summary.quorum)); \(what) here could keep it quorate without the device while the quorum disk master's "
                    + "partition (\(names.isEmpty ? "none" : names)) counts the device's votes: a split brain. Make the change with every node present"
            }
            return "this partition is inquorate (\(summary.totalVotes) of \(summary.expectedVotes) votes, quorum \(summary.quorum)); "
                + "\(what) here could make it quorate while the \(absentVotes) vote(s) it cannot see (\(names.isEmpty ? "none" : names)) may be "
                + "quorate on their own: a split brain. Reconnect the partitions; if those nodes are gone for good, remove them from "
                + "cluster.conf and restart"
        }

        // MARK: - Barriers

        private mutating func checkBarrier(_ name: String, out: inout Output) {
            guard let b = barriers[name] else { return }
            let needed = b.expected == 0 ? activeMembers.count : Int(b.expected)
            guard b.arrived.count >= needed else { return }
            barriers[name] = nil
            if localBarriers.remove(name) != nil { out.effects.append(.barrierReleased(name)) }
        }
    }
}
