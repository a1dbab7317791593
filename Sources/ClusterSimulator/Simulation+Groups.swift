// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// The group layer of a stack simulation: a group core per node fed by its totem core, and simulated processes.
extension Simulation {
    // MARK: - Stack (groups on totem)

    func makeGroupCore(_ n: SimNode) -> ProcessGroup.StateMachine {
        // Each groupd process gets its own incarnation, also when it restarts within one totem incarnation.
        ProcessGroup.StateMachine(nodeID: n.id, incarnation: UInt32(truncatingIfNeeded: n.incarnation &* 65_536 &+ Int(groupRandom.next() % 65_536)),
                                  syncWait: groupSyncWait, mutations: groupMutations)
    }

    /// How long a groupd waits for lists before closing a sync round: a few token rotations.
    var groupSyncWait: Duration { options.token * 2 }

    /// How long a message may take to reach every member once the healed ring has settled.
    var groupLivenessBound: Duration { options.token * 4 + .seconds(1) }

    /// Feeds a node's group core through its host, the way groupd's driver does, and carries out each output.
    func groupEvent(_ n: SimNode, _ event: ProcessGroup.Event) {
        guard let host = n.groupsHost, n.machine != nil else { return }
        host.feed(event, now: { localTime(n) }) { input, out in carryOutGroups(n, input, out) }
        scheduleUpper(n)
    }

    /// groupd's effects, simulated: multicasts through the node's totem core, events to the simulated processes
    /// (recorded by the checker).
    private func carryOutGroups(_ n: SimNode, _ event: ProcessGroup.Event, _ out: ProcessGroup.Output) {
        if verbose { traceGroups(n, event, out) }
        var pending: [[UInt8]] = []
        for e in out.effects {
            switch e {
            case .multicast(let bytes): pending.append(bytes)
            case .event(let h, let ev):
                guard let proc = n.processes[h] else { continue }
                let p = GroupChecker.Process(node: n.index, incarnation: n.incarnation, handle: h)
                let address = ProcessAddress(node: n.id, pid: proc.pid)
                switch ev {
                case .configurationChange(let c):
                    let id = GroupChecker.ViewID(group: c.group, ring: c.ringSequence, representative: c.ringRepresentative,
                                                 number: c.viewNumber, members: c.members)
                    groupChecker.record(p, address: address, .view(id, c.members, joined: c.joined.map(\.0), left: c.left.map(\.0), at: now))
                case .delivery(let group, let sender, let payload):
                    groupChecker.record(p, address: address, .delivery(group: group, sender: sender, id: payload, at: now))
                case .totemConfiguration:
                    break
                }
            }
        }
        if case .mcast(let h, let group, let payload) = event, out.result == .ok {
            groupChecker.recordSent(GroupChecker.Process(node: n.index, incarnation: n.incarnation, handle: h), group: group, id: payload, at: now)
        }
        for bytes in pending { submitUpper(n, channel: ProcessGroup.channel, bytes) }
    }

    private func traceGroups(_ n: SimNode, _ event: ProcessGroup.Event, _ out: ProcessGroup.Output) {
        let effects = out.effects.map { e -> String in
            switch e {
            case .multicast(let b): return "send \((try? ProcessGroup.Message.decode(b)).map { "\($0)" } ?? "?")" // tracing only
            case .event(let h, .configurationChange(let c)):
                return "h\(h) view \(c.group)#\(c.viewNumber) \(c.members) +\(c.joined.map(\.0)) -\(c.left.map(\.0))"
            case .event(let h, .delivery(let group, let sender, _)): return "h\(h) deliver \(group) from \(sender)"
            case .event(let h, .totemConfiguration(let r, _, let m)): return "h\(h) totem \(r) \(m)"
            }
        }
        let syncing = n.groups?.isSyncing == true ? " [syncing]" : ""
        print("\(now) n\(n.index + 1) groups \(Self.describe(event)) -> \(effects.joined(separator: "; "))\(syncing)")
    }

    static func describe(_ e: ProcessGroup.Event) -> String {
        switch e {
        case .configuration(let c): return "\(c.kind) \(c.ringID.sequence) \(c.members)"
        case .delivered(let from, let bytes, let position):
            return "from \(from) @\(position >> 16).\(position & 0xFFFF): \((try? ProcessGroup.Message.decode(bytes)).map { "\($0)" } ?? "?")" // tracing only
        case .join(let h, let pid, let g): return "join h\(h) pid \(pid) \(g)"
        case .leave(let h, let g): return "leave h\(h) \(g)"
        case .mcast(let h, let g, _): return "mcast h\(h) \(g)"
        case .subscribeTotem(let h): return "subscribe h\(h)"
        case .processGone(let h): return "gone h\(h)"
        case .stop: return "stop"
        case .deadlineReached: return "deadline"
        }
    }

    /// Processes still connected at the end of the run.
    func liveProcesses() -> Set<GroupChecker.Process> {
        var alive = Set<GroupChecker.Process>()
        for n in nodes where n.machine != nil && n.groups != nil {
            for h in n.processes.keys { alive.insert(GroupChecker.Process(node: n.index, incarnation: n.incarnation, handle: h)) }
        }
        return alive
    }

    /// Queues the earliest deadline of the node's quorum and group cores.
    func scheduleUpper(_ n: SimNode) {
        let local = [n.quorumHost?.nextDeadline, n.groupsHost?.nextDeadline].compactMap { $0 }.min()
        guard let local else { return }
        let at = max(globalTime(n, local), now)
        if let s = n.upperScheduled, s <= at { return }
        n.upperScheduled = at
        queue.push(.upperDeadline(node: n.index, incarnation: n.incarnation), at: at)
    }

    /// Fires whichever upper-core deadlines are due.
    func upperDeadlineReached(_ n: SimNode) {
        let local = localTime(n)
        if let d = n.quorum?.nextDeadline, d <= local {
            stackState.coverage[.lastManStandingExpiries] += 1
            quorumEvent(n, .deadlineReached)
        }
        if let d = n.groups?.nextDeadline, d <= local { groupEvent(n, .deadlineReached) }
        scheduleUpper(n)
    }

    /// Simulated processes: join, multicast, leave, or die; now and then a groupd stops (and starts again later).
    func groupWorkload() {
        let names = ["alpha", "beta", "gamma"]
        for n in nodes where n.isUp && n.groups != nil {
            guard groupRandom.chance(0.3) else { continue }
            let roll = groupRandom.next() % 100
            if n.processes.count < 3 && roll < 25 {
                let h = n.nextHandle
                n.nextHandle += 1
                n.processes[h] = (UInt32(1000 + h), [])
                let group = names[Int(groupRandom.next() % 3)]
                n.processes[h]!.joined.insert(group)
                groupEvent(n, .join(handle: h, pid: UInt32(1000 + h), group: group))
            } else if let (h, proc) = n.processes.sorted(by: { $0.key < $1.key }).randomElement(using: &groupRandom) {
                if roll < 80, let group = proc.joined.sorted().randomElement(using: &groupRandom) {
                    groupMessageCounter += 1
                    var w = ByteWriter()
                    w.write(UInt32(n.index))
                    w.write(groupMessageCounter)
                    groupEvent(n, .mcast(handle: h, group: group, payload: w.bytes))
                } else if roll < 90, let group = proc.joined.sorted().randomElement(using: &groupRandom) {
                    n.processes[h]!.joined.remove(group)
                    groupEvent(n, .leave(handle: h, group: group))
                } else {
                    n.processes[h] = nil
                    groupEvent(n, .processGone(handle: h))
                }
            }
            if !healed && groupRandom.chance(0.002) {
                // groupd stops cleanly: its processes go with it; it comes back after a while, mid-ring.
                groupEvent(n, .stop)
                n.groups = nil
                n.processes = [:]
                n.groupsPending = true
                queue.push(.startGroups(node: n.index, incarnation: n.incarnation), at: now + .milliseconds(Int64(200 + groupRandom.next() % 1500)))
            }
        }
    }
}
