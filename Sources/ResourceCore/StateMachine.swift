// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire

extension ResourceManager {
    /// Typed settings of one node's rgmanager.
    public struct Settings: Sendable {
        public var nodeID: NodeID
        /// Every node of cluster.conf. One that is not in the view must be fenced before anything is placed: its
        /// holdings are unknown (it may have started services the others never heard of).
        public var configuredNodes: [NodeID]
        public var services: [ServiceSpec]
        public var rules: [String: Rule]
        /// `<rm status_child_max>`: status checks running at once on this node.
        public var statusChildMax: Int
        /// Wall-clock seconds at `MonotonicInstant.zero`, for `lastTransition` (0 in simulations).
        public var wallClockOrigin: UInt64
        /// Deliberate weakenings, for the mutation tests only.
        public var mutations: Mutations
        /// cluster.conf's `config_version` these settings come from (told to the group, for operators and tests).
        public var configVersion: UInt64

        public init(nodeID: NodeID, configuredNodes: [NodeID], services: [ServiceSpec], rules: [String: Rule], statusChildMax: Int = 5,
                    wallClockOrigin: UInt64 = 0, mutations: Mutations = [], configVersion: UInt64 = 0) {
            self.configVersion = configVersion
            self.nodeID = nodeID
            self.configuredNodes = configuredNodes
            self.services = services
            self.rules = rules
            self.statusChildMax = statusChildMax
            self.wallClockOrigin = wallClockOrigin
            self.mutations = mutations
        }
    }

    /// Rules the simulator's mutation tests switch off, one at a time, to show the checker catches the damage.
    public struct Mutations: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Recover a failed node's services without waiting for it to be fenced.
        public static let recoverWithoutFencing = Mutations(rawValue: 1)
        /// Keep running services after losing quorum.
        public static let keepServicesWithoutQuorum = Mutations(rawValue: 2)
    }

    /// One input of the core.
    public enum Event: Sendable {
        /// A view of the rgmanager process group: its member nodes (every node whose rgmanager joined).
        case view(ViewID, members: [NodeID])
        /// This node's quorum, from quorumd.
        case quorum(Bool)
        /// fenced reports `node` fenced (after it left the membership).
        case fenced(NodeID)
        /// A message of the rgmanager group, in agreed order.
        case delivered(from: NodeID, bytes: [UInt8])
        /// An agent call this core asked for has ended.
        case agentFinished(id: UInt64, succeeded: Bool)
        /// An administrator's request (from clusvcadm over IPC); the answer comes as `.reply`.
        case request(id: UInt64, AdminRequest)
        /// `nextDeadline` was reached: due status checks run.
        case deadlineReached
        /// This node's rgmanager is shutting down (SIGTERM): it stops its services, which the others then place
        /// elsewhere, and takes no new ones. `leaveState` says when the group may be left.
        case leave
        /// A new configuration (SIGHUP, or a cluster.conf distributed through quorumd), for the same node. Services
        /// added are placed as their `autostart` and domain say, once every member's configuration has them;
        /// services removed are stopped here (in the stop order of the tree they were started with) and forgotten;
        /// a running service whose resources changed has the changed subtrees stopped and started again
        /// (`Reconfiguration`); everything else keeps running untouched.
        case reconfigure(Settings)
        /// `clusvcadm -l` (true) / `-u` (false): a locked rgmanager starts no service on this node (running ones keep
        /// running); the lock ends with `-u`, with a loss of quorum, or when rgmanager stops.
        case lock(Bool)
    }

    /// How far a shutdown (`.leave`) has come.
    public enum LeaveState: Sendable, Hashable {
        /// No shutdown asked for.
        case notLeaving
        /// Services are still being stopped, or their stop is not yet agreed in the table.
        case stopping
        /// Nothing is held here and the table says so: the group may be left cleanly.
        case ready
        /// These services failed to stop and may still hold resources: leaving cleanly would let the others start
        /// them elsewhere, so the node must leave uncleanly (and be fenced) or an administrator must step in.
        case stopFailed([String])
    }

    /// One agent call for the shell to make and report with `.agentFinished(id:succeeded:)`.
    public struct AgentCall: Sendable, Hashable {
        public var id: UInt64
        public var service: String
        /// The resource, by its path from the service root (of the tree the call was planned on).
        public var path: [Int]
        /// The resource as the agent gets it: for a stop, as it was started (a reload may have changed or removed it
        /// since); for a start or status, as configured now.
        public var resource: Resource
        public var action: Action
        /// OCF_CHECK_LEVEL of a status check.
        public var depth: Int
        public var timeout: Duration
    }

    /// An effect for the shell.
    public enum Effect: Sendable, Hashable {
        /// Multicast to the rgmanager group (agreed order).
        case multicast([UInt8])
        /// Run an agent and report its end.
        case runAgent(AgentCall)
        /// Answer the admin request `id`.
        case reply(id: UInt64, AdminResult)
        /// A line for the log (operator-facing, stable wording).
        case notice(String)
    }

    /// What one `handle` returns. The shell carries the effects out IN ORDER.
    public struct Output: Sendable {
        public var effects: [Effect] = []
        public init() {}
    }

    /// A node's rgmanager core: the service table agreed in the rgmanager group, placement by the coordinator
    /// (the lowest member of the view), and the execution of this node's own services through agent calls.
    ///
    /// Safety rules, in one place:
    /// - a change to the table is a message applied by every member in the same order, and only if it comes from
    ///   the coordinator or the service's owner and names the current generation of the row;
    /// - only the owner runs a service's agents, and only while quorate; a node that loses quorum stops its
    ///   services;
    /// - a service whose owner left the view is placed elsewhere only after fenced reports that owner fenced; after
    ///   a merge, every out-of-view node any member still believed to hold it must be fenced first.
    public struct StateMachine: Sendable {
        public internal(set) var settings: Settings
        public internal(set) var view: ViewID?
        public internal(set) var members: [NodeID] = []
        /// This node's quorum as rgmanager acts on it: quorumd's, and false once the node is leaving.
        public internal(set) var quorate = false
        /// quorumd's word on quorum, whatever this rgmanager is doing.
        public internal(set) var clusterQuorate = false
        /// A shutdown was asked for (`.leave`).
        public internal(set) var leaving = false
        /// `clusvcadm -l`: this node starts no service until unlocked (or quorum is lost).
        public internal(set) var locked = false
        /// Nodes fenced since they were last members.
        public internal(set) var fenced = Set<NodeID>()
        /// The agreed table (valid once `synced`).
        public internal(set) var table: [String: Record]
        /// True once every member's sync of the current view has arrived.
        public internal(set) var synced = false
        var syncReceived: [NodeID: (records: [String: Record], active: [String], fenced: [NodeID])] = [:]
        /// The view in which the coordinator last said it waits for fencing (said once per view).
        var waitNoticeView: ViewID?
        /// Members that joined with the current view: an ordered domain's service fails back to one of them (once,
        /// at the coordinator's next decision), as rgmanager failed back when a node came up, and never undoes an
        /// administrator's relocation later.
        var failbackTo = Set<NodeID>()
        var specs: [String: ServiceSpec]
        var local: [String: LocalService] = [:]
        /// Changes this node has sent and not yet seen applied: service -> generation they start from.
        var sent: [String: UInt64] = [:]
        var nextCallID: UInt64 = 1
        var pendingRequests: [UInt64] = []
        var output = Output()
        var now = MonotonicInstant.zero

        public init(settings: Settings) {
            self.settings = settings
            specs = Dictionary(settings.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            table = Dictionary(settings.services.map { ($0.name, Record(state: $0.autostart ? .stopped : .disabled)) },
                               uniquingKeysWith: { a, _ in a })
        }

        public var nodeID: NodeID { settings.nodeID }
        /// Each member's quorum as it last announced it in the group (agreed, so the same on every member).
        public internal(set) var memberQuorate: [NodeID: Bool] = [:]
        /// Each member's lock (`clusvcadm -l`) as it last announced it (agreed).
        public internal(set) var memberLocked: [NodeID: Bool] = [:]
        /// The services each member's configuration defines, and its config version, as last announced (agreed).
        /// A service is placed, and admin requests on it accepted, only while every member defines it.
        public internal(set) var memberServices: [NodeID: Set<String>] = [:]
        public internal(set) var memberConfigVersion: [NodeID: UInt64] = [:]
        /// Members that may be given a service now: quorate and not locked.
        public var ableMembers: [NodeID] { members.filter { memberQuorate[$0] == true && memberLocked[$0] != true } }
        /// True if every member's configuration defines `service` (so any of them can run it and all apply its
        /// changes alike).
        public func everyMemberDefines(_ service: String) -> Bool { members.allSatisfy { memberServices[$0]?.contains(service) == true } }
        /// The coordinator (clustat's RG-Master): the lowest member of the view that says it is quorate. A member
        /// without quorum (a Disallowed node, say) could not act, so it must not be the one everyone waits for.
        public var coordinator: NodeID? { members.first { memberQuorate[$0] == true } }
        /// Services this node may hold resources of right now (started, or partly started or stopped).
        public var activeServices: [String] { local.keys.sorted().filter { local[$0]!.active } }
        /// Services this node has fully started.
        public var runningServices: [String] { local.keys.sorted().filter { local[$0]!.running } }

        /// The single entry point.
        public mutating func handle(_ event: Event, at now: MonotonicInstant) -> Output {
            self.now = now
            output = Output()
            switch event {
            case .view(let id, let list): installView(id, list.sorted())
            case .quorum(let q):
                clusterQuorate = q
                if !q && locked {
                    // rgmanager: the lock is reset once the cluster's quorum is dissolved.
                    notice("Quorum lost: the service lock (clusvcadm -l) is released")
                    setLock(false)
                }
                updateQuorate(notice: q ? "Quorum regained" : "Quorum lost: stopping this node's services")
            case .lock(let on):
                if on != locked {
                    notice(on ? "Services locked (clusvcadm -l): no service starts on this node" : "Services unlocked (clusvcadm -u)")
                    setLock(on)
                }
            case .reconfigure(let next): reconfigure(next)
            case .leave:
                if !leaving {
                    leaving = true
                    notice("Shutting down: stopping this node's services")
                    // A leaving node says it is not quorate: the coordinator then places nothing on it, and another
                    // member coordinates if it did. Its services stop as on a quorum loss and are placed elsewhere.
                    updateQuorate(notice: nil)
                }
            case .fenced(let n):
                if !members.contains(n) { fenced.insert(n) }
            case .delivered(let from, let bytes):
                guard let m = try? Message.decode(bytes) else {
                    // Garbage from the group is dropped, never trusted (only rgmanagers write there).
                    notice("dropped an undecodable message from node \(from)")
                    break
                }
                apply(m, from: from)
            case .agentFinished(let id, let ok): agentFinished(id, ok)
            case .request(let id, let r): request(id, r)
            case .deadlineReached: break
            }
            settle()
            return output
        }

        /// Runs everything the current state calls for: own services' operations and reports, then the
        /// coordinator's decisions, then status checks.
        mutating func settle() {
            reconcileLocal()
            if synced && quorate && coordinator == nodeID { decide() }
            runStatusChecks()
        }

        // MARK: - Views and sync

        mutating func installView(_ id: ViewID, _ list: [NodeID]) {
            view = id
            failbackTo = Set(list).subtracting(members)
            members = list
            for n in list { fenced.remove(n) }
            synced = false
            syncReceived = [:]
            sent = [:]
            memberQuorate = [:]
            memberLocked = [:]
            memberServices = [:]
            memberConfigVersion = [:]
            multicast(.sync(view: id, records: table, active: activeServices, fenced: fenced.sorted(), quorate: quorate,
                            about: MemberAbout(locked: locked, configVersion: settings.configVersion, services: specs.keys.sorted())))
        }

        mutating func apply(_ m: Message, from: NodeID) {
            guard m.view == view, members.contains(from) else { return }
            switch m {
            case .sync(_, let records, let active, let fencedList, let q, let about):
                syncReceived[from] = (records, active, fencedList)
                memberQuorate[from] = q
                learn(about, from: from)
                if !synced && members.allSatisfy({ syncReceived[$0] != nil }) { mergeSyncs() }
            case .change(_, let service, let generation, var record):
                guard synced, let current = table[service], current.generation == generation else { return }
                guard from == coordinator || (current.owner == from && record.owner == from)
                    || (current.owner == from && record.owner == nil) else { return }
                record.generation = generation + 1
                table[service] = record
                if sent[service] == generation { sent[service] = nil }
            case .quorum(_, let q):
                memberQuorate[from] = q
            case .about(_, let about):
                learn(about, from: from)
            case .admin(_, let origin, let id, let request, let time):
                guard synced else { return }
                let result = applyAdmin(request, time: time)
                if origin == nodeID, let i = pendingRequests.firstIndex(of: id) {
                    pendingRequests.remove(at: i)
                    output.effects.append(.reply(id: id, result))
                }
            }
        }

        /// Every member's table and running services arrived: the agreed table is their merge, the same on all.
        mutating func mergeSyncs() {
            var merged: [String: Record] = [:]
            // Services of this configuration, and removed ones this node still holds (so their stop is reported).
            for name in Set(specs.keys).union(retiring).sorted() {
                let reports = members.compactMap { n in syncReceived[n]!.records[name].map { (n, $0) } }
                var rec = reports.max { a, b in (a.1.generation, b.0.rawValue) < (b.1.generation, a.0.rawValue) }?.1
                    ?? Record(state: specs[name]?.autostart ?? true ? .stopped : .disabled)
                let runners = members.filter { syncReceived[$0]!.active.contains(name) }
                // Nodes outside the view that some member still believed to hold it: fence before placing.
                var claims = Set(rec.waitingFor.filter { !members.contains($0) })
                for (_, r) in reports where r.state.holdsResources {
                    if let o = r.owner, !members.contains(o) { claims.insert(o) }
                }
                if let owner = runners.first {
                    if runners.count > 1 { notice("service:\(name) is held by nodes \(runners.map(\.description).joined(separator: ", "))") }
                    let own = syncReceived[owner]!.records[name]
                    if rec.owner != owner || !rec.state.holdsResources {
                        rec = own?.owner == owner ? own! : rec
                        rec.owner = owner
                        if !rec.state.holdsResources { rec.state = .started }
                    }
                } else if let o = rec.owner, members.contains(o), rec.state.holdsResources {
                    // The owner is here and holds nothing: it is stopped.
                    rec.lastOwner = o
                    rec.owner = nil
                    rec.state = rec.state == .failed ? .failed : .stopped
                }
                if let o = rec.owner, !members.contains(o) { claims.insert(o) }
                rec.waitingFor = claims.sorted()
                rec.held = false
                rec.generation = reports.map(\.1.generation).max().map { $0 + 1 } ?? 1
                merged[name] = rec
            }
            table = merged
            // What any member knows was fenced, everyone in the view now knows (and the coordinator decides on).
            for n in members { fenced.formUnion(syncReceived[n]!.fenced.filter { !members.contains($0) }) }
            synced = true
        }

        /// A reload: new settings for this node (see `Event.reconfigure`). Only the table rows of added services are
        /// created here; every agent call follows from `settle` (stops of removed services, reconfigurations of
        /// changed running ones, placements once every member defines an added service).
        mutating func reconfigure(_ next: Settings) {
            precondition(next.nodeID == nodeID, "a reconfiguration is for the same node")
            let old = specs
            settings = next
            specs = Dictionary(next.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for name in specs.keys.sorted() {
                guard let before = old[name] else {
                    if table[name] == nil { table[name] = Record(state: specs[name]!.autostart ? .stopped : .disabled) }
                    notice("service:\(name) added to the configuration")
                    continue
                }
                if before != specs[name]!, local[name]?.running == true {
                    // Status checks follow the new tree (their indices changed); one in flight is forgotten.
                    local[name]!.checking = nil
                    scheduleChecks(name)
                }
            }
            for name in old.keys.sorted() where specs[name] == nil {
                notice("service:\(name) removed from the configuration")
            }
            announce()
        }

        /// What a member says about itself (lock, configuration), from its sync or a later `.about`.
        mutating func learn(_ about: MemberAbout, from: NodeID) {
            memberLocked[from] = about.locked
            memberConfigVersion[from] = about.configVersion
            memberServices[from] = Set(about.services)
        }

        /// Sets the lock and tells the group (the coordinator then places nothing here).
        mutating func setLock(_ on: Bool) {
            locked = on
            announce()
        }

        /// Tells the group this node's lock and configuration.
        mutating func announce() {
            guard let view, members.contains(nodeID) else { return }
            multicast(.about(view: view, MemberAbout(locked: locked, configVersion: settings.configVersion, services: specs.keys.sorted())))
        }

        /// Applies `clusterQuorate` and `leaving` to `quorate`, telling the group when it changes.
        mutating func updateQuorate(notice text: String?) {
            let q = clusterQuorate && !leaving
            guard q != quorate else { return }
            if let text, !leaving { notice(text) }
            quorate = q
            if let view, members.contains(nodeID) { multicast(.quorum(view: view, quorate: q)) }
        }

        /// Where a shutdown stands (see `LeaveState`).
        public var leaveState: LeaveState {
            guard leaving else { return .notLeaving }
            if local.values.contains(where: { $0.operation != nil }) { return .stopping }
            let stuck = local.keys.sorted().filter { local[$0]!.active }
            if !stuck.isEmpty {
                return stuck.allSatisfy { local[$0]!.stopFailed } ? .stopFailed(stuck) : .stopping
            }
            // Our "stopped here" must be agreed before we go, or the others would wait for us to be fenced.
            if synced, view != nil, members.contains(nodeID),
               table.values.contains(where: { $0.owner == nodeID && $0.state.holdsResources && $0.state != .failed }) {
                return .stopping
            }
            return .ready
        }

        // MARK: - Helpers

        mutating func multicast(_ m: Message) { output.effects.append(.multicast(m.encode())) }

        mutating func notice(_ text: String) { output.effects.append(.notice(text)) }

        /// Sends a change of `service`'s row from its current generation, once per generation.
        mutating func propose(_ service: String, _ record: Record) {
            guard let view, let current = table[service], sent[service] != current.generation else { return }
            var r = record
            r.lastTransition = wallSeconds
            sent[service] = current.generation
            multicast(.change(view: view, service: service, generation: current.generation, record: r))
        }

        var wallSeconds: UInt64 { settings.wallClockOrigin + UInt64(max(0, (now - .zero).components.seconds)) }

        /// The earliest instant a status check is due.
        public var nextDeadline: MonotonicInstant? {
            // At the cap, the next check waits for a running one to end (an agent result), not for a time.
            guard local.values.filter({ $0.checking != nil }).count < settings.statusChildMax else { return nil }
            return local.values.compactMap { $0.nextCheckDue }.min()
        }
    }
}
