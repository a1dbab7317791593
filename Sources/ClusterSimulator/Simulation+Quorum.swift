// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ClusterWire
import GroupCore
import QuorumCore
import TotemCore

/// The quorum layer of a stack simulation: a quorum core per node fed by its totem core, and the split-brain check.
extension Simulation {
    // MARK: - Stack (quorum on totem)

    func quorumEvent(_ n: SimNode, _ event: Quorum.Event) {
        guard var q = n.quorum, n.machine != nil else { return }
        let out = q.handle(event, at: localTime(n))
        n.quorum = q
        var pending: [[UInt8]] = []
        for e in out.effects {
            switch e {
            case .multicast(let bytes): pending.append(bytes)
            case .leaveCluster:
                n.quorum = nil
                handle(n, .leave)
                checker.record(n.index, .crashed)
                return
            case .validateConfig(_, let version, _):
                quorumEvent(n, .configValidated(version: version, refusal: nil))
            default: break
            }
        }
        if case .configuration(.regular, _, let members) = event, members.contains(n.id), !q.dirty {
            // Every node holds state from its first configuration on, so rejoins without a restart are Disallowed.
            quorumEvent(n, .setDirty)
        }
        for bytes in pending {
            guard var m = n.machine else { return }
            let out = m.handle(.submit(channel: Quorum.channel, payload: bytes, guarantee: .agreed), at: localTime(n))
            n.machine = m
            carryOut(n, out)
        }
        checkQuorum()
    }

    /// No two quorate nodes may have disjoint memberships (a split brain); record Disallowed sightings.
    func checkQuorum() {
        let quorate = nodes.compactMap { n -> (Int, Set<NodeID>)? in
            guard let q = n.quorum, n.machine != nil, q.isQuorate else { return nil }
            return (n.index, Set(q.members.filter { q.nodes[$0]?.state == .member }))
        }
        for (i, a) in quorate.enumerated() {
            for b in quorate[(i + 1)...] where a.1.isDisjoint(with: b.1) {
                if quorumViolations.count < 10 {
                    quorumViolations.append("split brain at \(now): n\(a.0 + 1) quorate with \(a.1.sorted()) and n\(b.0 + 1) with \(b.1.sorted())")
                }
            }
        }
        for n in nodes {
            guard let q = n.quorum else { continue }
            for id in q.summary.disallowed {
                let pair = (viewer: n.index, node: Int(id.rawValue) - 1)
                if !disallowedSeen.contains(where: { $0 == pair }) { disallowedSeen.append(pair) }
            }
        }
    }
}
