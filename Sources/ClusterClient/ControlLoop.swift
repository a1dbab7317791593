// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes
import Glibc

/// The state of a `ControlDaemon` and what it does with each input; owned by the daemon's one loop.
struct ControlLoop<Subsystem: ControlSubsystem> {
    let configuration: ControlDaemon<Subsystem>.Configuration
    var subsystem: Subsystem
    let cman: CmanClient
    let groups: GroupClient
    let feed: AsyncStream<ControlInput>.Continuation
    var cluster: ControlCluster
    let me: Control.Member

    /// The managed groups by name (without the prefix).
    var machines: [String: Control.GroupStateMachine] = [:]
    /// Groups whose join groupd asked to repeat.
    var pendingJoins: Set<String> = []
    var fence: FenceClient?
    var fenceEvents: Task<Void, Never>?
    /// fenced's domain has no victim waiting.
    var fencingSettled = false
    var fenceTimes: [NodeID: UInt64] = [:]

    init(configuration: ControlDaemon<Subsystem>.Configuration, subsystem: Subsystem, cman: CmanClient, groups: GroupClient,
         feed: AsyncStream<ControlInput>.Continuation) throws {
        self.configuration = configuration
        self.subsystem = subsystem
        self.cman = cman
        self.groups = groups
        self.feed = feed
        let status = try cman.status()
        me = Control.Member(node: status.nodeID, pid: UInt32(getpid()))
        cluster = ControlCluster(name: status.clusterName, localNode: status.nodeID, quorate: status.quorate, topology: Control.Topology())
        try refreshTopology()
        connectFence()
    }

    /// The loop's clock for the group machines (their protocol has no timers; the instant is for their records).
    static func now() -> MonotonicInstant {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return MonotonicInstant(nanoseconds: UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec))
    }

    /// Groups joined or being joined.
    var heldGroups: [String] { (Array(machines.keys) + Array(pendingJoins)).sorted() }

    mutating func close() {
        fenceEvents?.cancel()
        fence?.close()
    }

    mutating func handle(_ input: ControlInput) throws {
        switch input {
        case .cman(.notification(.stateChange)):
            try refreshTopology()
        case .cman(.notification(.tryShutdown)):
            let held = heldGroups
            try? cman.replyShutdown(allow: held.isEmpty)
            configuration.log(held.isEmpty ? "shutdown requested: allowed" : "shutdown requested: refused, holding \(held.joined(separator: ", "))")
        case .cman:
            break
        case .group(let event):
            try group(event)
        case .fence(let event):
            if case .fenced(let outcome) = event {
                fenceTimes[outcome.node] = max(fenceTimes[outcome.node] ?? 0, outcome.wallClockSeconds)
                configuration.log("fenced reports node \(outcome.node) \(outcome.how) at \(outcome.wallClockSeconds)")
            }
            try refreshFencing()
        case .fenceGone:
            fence = nil
            fencingSettled = false
            configuration.log("fenced went away; groups wait for it to come back before recovering")
            try feedAll(.lowerLevels(ready: false))
        case .tick:
            try tick()
        case .admin(let request):
            do { try admin(request) } catch let error as ClusterError { request.fail(error.message) }
        case .request(let request):
            try handle(request)
        case .ended, .terminate:
            break
        }
    }

    // MARK: membership

    /// quorumd's members now, as a diff for the subsystem, and the quorum for every group.
    mutating func refreshTopology() throws {
        let nodes = try cman.nodes().filter { $0.state == "M" }
        cluster.quorate = try cman.isQuorate()
        let members = nodes.map { Control.Topology.Node(id: $0.id, name: $0.name, address: $0.addresses.first ?? "") }
        let changes = cluster.topology.update(members: members)
        if !changes.isEmpty {
            for c in changes { configuration.log(c.description) }
            try subsystem.apply(changes, cluster: cluster)
        }
        try feedAll(.quorum(cluster.quorate))
    }

    // MARK: groups

    mutating func group(_ event: GroupIPC.Event) throws {
        switch event {
        case .configurationChange(let full, let members, let joined, let left, let ring, let view):
            guard let name = shortName(full), machines[name] != nil else { return }
            let departed = left.map { c -> (Control.Member, Control.LeftReason) in
                (c.address, c.reason == .leave ? .clean : .failed)
            }
            configuration.log("group \(name): view \(members) joined \(joined.map(\.address)) left \(left.map { "\($0.address) (\($0.reason))" })")
            let id = Self.viewID(ring: ring, view: view, members: members)
            try feed(name, .view(members: members, joined: joined.map(\.address),
                                 left: departed, id: id, wallSeconds: UInt64(time(nil))))
            if departed.contains(where: { $0.1 == .failed }) { try refreshFencing() }
        case .delivery(let full, let sender, let payload):
            guard let name = shortName(full) else { return }
            try feed(name, .delivered(from: sender, bytes: payload))
        case .totemConfiguration:
            break
        }
    }

    /// Names a view alike on every member: groupd's view number, which is 0 for provisional views, so the ring and
    /// the member list are mixed in (FNV-1a).
    static func viewID(ring: UInt64, view: UInt64, members: [Control.Member]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64) { for i in 0..<8 { h = (h ^ ((v >> (8 * UInt64(i))) & 0xff)) &* 0x100_0000_01b3 } }
        mix(ring)
        mix(view)
        for m in members.sorted() { mix(UInt64(m.node.rawValue) << 32 | UInt64(m.pid)) }
        return h
    }

    func shortName(_ full: String) -> String? {
        let prefix = configuration.groupPrefix + ":"
        return full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : nil
    }

    func fullName(_ name: String) -> String { configuration.groupPrefix + ":" + name }

    /// Hands an event to one group and carries out what it says, including what follows from it.
    mutating func feed(_ name: String, _ event: Control.GroupStateMachine.Event) throws {
        guard var machine = machines[name] else { return }
        let out = machine.handle(event, at: Self.now())
        machines[name] = machine
        for effect in out.effects { try carryOut(effect, group: name) }
        // The subsystem's start returned: the local start is done, told after this output's effects so they stay in order.
        if out.effects.contains(where: { if case .start = $0 { true } else { false } }) { try feed(name, .localStartDone) }
    }

    mutating func feedAll(_ event: Control.GroupStateMachine.Event) throws {
        for name in machines.keys.sorted() { try feed(name, event) }
    }

    mutating func carryOut(_ effect: Control.GroupStateMachine.Effect, group name: String) throws {
        switch effect {
        case .stop:
            try subsystem.stop(group: name)
        case .start(let members):
            try subsystem.start(group: name, members: members)
        case .multicast(let bytes):
            try multicast(name, bytes)
        case .recovered(let members):
            try subsystem.recovered(group: name, members: members)
            configuration.log("group \(name): recovered with nodes \(members.map(\.description).joined(separator: " "))")
            try refreshLevels()
        case .leaveGroup:
            do { try groups.leave(fullName(name)) } catch { if error.code != .notMember { throw error } }
            machines[name] = nil
            try subsystem.removed(group: name)
            configuration.log("group \(name): left")
            try refreshLevels()
        case .phaseChanged(let phase, let waiting):
            configuration.log("group \(name): \(phase.rawValue)\(waiting == .nothing ? "" : ", waiting for \(waiting)")")
        }
    }

    /// A multicast groupd cannot take at once (flow control) is retried for up to ten seconds: the recovery
    /// protocol cannot go on without it.
    func multicast(_ name: String, _ bytes: [UInt8]) throws {
        var attempts = 0
        while true {
            let error: ClusterError
            do {
                try groups.multicast(fullName(name), bytes)
                return
            } catch let e {
                error = e
            }
            attempts += 1
            guard error.code == .tryAgain || error.code == .busy, attempts < 200 else { throw error }
            usleep(50_000)
        }
    }

    // MARK: fencing and levels

    mutating func connectFence() {
        guard configuration.requireFencing, fence == nil else { return }
        guard let client = try? FenceClient(instance: configuration.instance), (try? client.subscribe()) != nil else { return }
        fence = client
        let feed = self.feed
        fenceEvents = Task {
            do { for try await e in client.events { feed.yield(.fence(e)) } } catch {}
            feed.yield(.fenceGone)
        }
        configuration.log("connected to fenced")
        try? refreshFencing()
    }

    /// fenced's view of the domain: the last fence of every node, and whether a victim still waits.
    mutating func refreshFencing() throws {
        guard configuration.requireFencing else { return try refreshLevels() }
        if let fence, let domain = try? fence.domain() {
            for n in domain.nodes where n.lastFenceTime > 0 { fenceTimes[n.node] = max(fenceTimes[n.node] ?? 0, n.lastFenceTime) }
            fencingSettled = domain.victimCount == 0
        } else {
            fencingSettled = false
        }
        try feedAll(.fenceTimes(fenceTimes))
        try refreshLevels()
    }

    /// Tells each group whether everything below its level has recovered: fencing, then this daemon's own groups
    /// of lower levels.
    mutating func refreshLevels() throws {
        for name in machines.keys.sorted() {
            guard let level = machines[name]?.level else { continue }
            let lowerGroupsRunning = machines.values.allSatisfy { $0.level >= level || $0.phase == .running }
            try feed(name, .lowerLevels(ready: (fencingSettled || !configuration.requireFencing) && lowerGroupsRunning))
        }
    }

    mutating func tick() throws {
        if configuration.requireFencing && fence == nil { connectFence() }
        if machines.values.contains(where: { $0.phase == .stopped }) { try refreshFencing() }
        for name in pendingJoins.sorted() {
            let failure: ClusterError
            do {
                try groups.join(fullName(name))
                pendingJoins.remove(name)
                continue
            } catch let e {
                failure = e
            }
            if failure.code != .tryAgain && failure.code != .busy {
                let error = failure
                pendingJoins.remove(name)
                configuration.log("group \(name): join failed: \(error)")
                machines[name] = nil
                try subsystem.removed(group: name)
            }
        }
    }
}
