// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// The group layer of a stack simulation: a group core per node fed by its totem core, and simulated processes.
extension Simulation {
    // MARK: - Stack (groups on totem)

    func groupEvent(_ n: SimNode, _ event: ProcessGroup.Event) {
        guard var g = n.groups, n.machine != nil else { return }
        let out = g.handle(event)
        n.groups = g
        var pending: [[UInt8]] = []
        for e in out.effects {
            switch e {
            case .multicast(let bytes): pending.append(bytes)
            case .event(let h, let ev):
                if fenceGroupEvent(n, handle: h, ev) { continue }
                guard let proc = n.processes[h] else { continue }
                let p = GroupChecker.Process(node: n.index, incarnation: n.incarnation, handle: h)
                let address = ProcessGroup.Address(node: n.id, pid: proc.pid)
                switch ev {
                case .configurationChange(let c):
                    let id = GroupChecker.ViewID(group: c.group, ring: c.ringSequence, ordinal: c.viewNumber, members: c.members)
                    groupChecker.record(p, address: address, .view(id, c.members, joined: c.joined.map(\.0)))
                case .delivery(let group, let sender, let payload):
                    groupChecker.record(p, address: address, .delivery(group: group, sender: sender, id: payload))
                case .totemConfiguration:
                    break
                }
            }
        }
        for bytes in pending {
            guard var m = n.machine else { return }
            let out = m.handle(.submit(channel: ProcessGroup.channel, payload: bytes, guarantee: .agreed), at: localTime(n))
            n.machine = m
            carryOut(n, out)
        }
    }

    /// Simulated processes: join, multicast, leave, or die.
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
        }
    }
}
