// SPDX-License-Identifier: Apache-2.0
import ClusterSystem
import ClusterTypes
import Foundation
import Testing
import TotemTransport

/// Two nodes' rings on loopback (ring 0 on 127.0.0.x, ring 1 on 127.0.1.x) in one process.
private final class Pair {
    let port = UInt16.random(in: 20_000...50_000)
    var nodes: [RedundantRings] = []
    var received: [[[UInt8]]] = [[], []]
    var unreachable: [[NodeID]] = [[], []]
    var now = MonotonicInstant(nanoseconds: 1_000_000_000)

    init(mode: RedundantRings.Mode) throws {
        for k in 1...2 {
            let crypto = PacketCrypto(keyMaterial: Array("pair".utf8), clusterID: 9, nodeID: NodeID(UInt32(k)))
            let rings = (0..<2).map { r in
                let peers = Dictionary(uniqueKeysWithValues: (1...2).map { n in
                    (NodeID(UInt32(n)), SocketAddress(ipv4: "127.0.\(r).\(n)", port: port)!)
                })
                return UDPTransport(nodeID: NodeID(UInt32(k)), local: peers[NodeID(UInt32(k))]!, peers: peers, mode: .udpu, crypto: crypto)
            }
            let node = RedundantRings(rings: rings, mode: mode, crypto: crypto, window: .seconds(1), clock: { [unowned self] in now })
            node.onDatagram = { [unowned self] _, bytes in received[k - 1].append(bytes) }
            node.onUnreachable = { [unowned self] in unreachable[k - 1].append($0) }
            try node.open()
            nodes.append(node)
        }
    }

    /// Reads whatever has arrived on every socket, a few times over 50 ms; the error queue only when poll reports
    /// POLLERR, as totemd's loop does.
    func pump() {
        for _ in 0..<10 {
            usleep(5_000)
            for n in nodes {
                for (fd, ring) in n.descriptors {
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    _ = poll(&p, 1, 0)
                    ring.readable(fd, errorPending: p.revents & Int16(POLLERR) != 0)
                }
            }
        }
    }
}

@Suite("redundant rings on loopback", .serialized)
struct RedundantRingsTests {
    let tenToNodeTwo = (0..<10).map { (bytes: [UInt8($0), 0xAB], destination: UDPTransport.Destination.node(NodeID(2))) }

    @Test("active: every packet goes on both rings; the receiver hears the peer on both and passes each packet on once")
    func active() throws {
        let p = try Pair(mode: .active)
        for i in 0..<5 { p.nodes[0].send([UInt8(i)], to: .all) }
        p.pump()
        #expect(p.received[1].sorted { $0[0] < $1[0] } == (0..<5).map { [UInt8($0)] })
        #expect(p.nodes[1].rings.map(\.counters.received) == [5, 5])
        #expect(p.nodes[1].counters.replayed == 5, "the second ring's copies are dropped as seen")
        p.now = p.now + .milliseconds(1_500)
        #expect(p.nodes[1].evaluate() == [])
    }

    @Test("passive: packets alternate between healthy rings; nothing is duplicated")
    func passive() throws {
        let p = try Pair(mode: .passive)
        for i in 0..<6 { p.nodes[0].send([UInt8(i)], to: .node(NodeID(2))) }
        p.pump()
        // Arrival order across rings is not kept (totem's sequence numbers restore it).
        #expect(p.received[1].sorted { $0[0] < $1[0] } == (0..<6).map { [UInt8($0)] })
        #expect(p.nodes[1].rings.map(\.counters.received) == [3, 3])
    }

    @Test("a closed port on one ring is a ring fault, not a dead peer; on every ring it is a dead peer")
    func unreachable() throws {
        let p = try Pair(mode: .active)
        p.nodes[1].rings[0].close()
        for i in 0..<4 { p.nodes[0].send([UInt8(i)], to: .all) }
        p.pump()
        #expect(p.unreachable[0].isEmpty, "ring 1 still reaches node 2")
        #expect(p.received[1].count == 4, "everything arrived over ring 1")
        p.nodes[1].rings[1].close()
        // The kernel rate-limits port-unreachable reports machine-wide (icmp_msgs_per_sec): with other tests sending
        // to closed ports at the same time, a report can be dropped, so send again for a while.
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            for i in 0..<4 { p.nodes[0].send([UInt8(i)], to: .all) }
            p.pump()
        } while !p.unreachable[0].contains(NodeID(2)) && ContinuousClock.now < deadline
        #expect(p.unreachable[0].contains(NodeID(2)))
    }

    @Test("passive mode sends around a faulty ring, probing it now and then")
    func passiveAvoidsFaultyRing() throws {
        let p = try Pair(mode: .passive)
        // Node 1 hears node 2 on ring 0 only, for longer than the window: ring 1 is faulty.
        p.nodes[1].rings[1].close()
        p.nodes[1].send([0], to: .node(NodeID(1)))
        p.nodes[1].send([1], to: .node(NodeID(1))) // the second goes to ring 1, closed at the sender: lost
        p.pump()
        p.now = p.now + .milliseconds(1_500)
        p.nodes[1].send([2], to: .node(NodeID(1)))
        p.pump()
        #expect(p.nodes[0].evaluate().contains(.faulty(ring: 1, peers: [NodeID(2)])))
        let before = p.nodes[0].rings.map(\.counters.sent)
        for i in 0..<10 { p.nodes[0].send([UInt8(i)], to: .node(NodeID(2))) }
        let after = p.nodes[0].rings.map(\.counters.sent)
        #expect(after[0] - before[0] == 10, "every packet on the healthy ring")
        #expect(after[1] - before[1] == 1, "one probe on the faulty ring within the probe interval")
    }

    @Test("active batch: sealed once, sent on both rings in one call each; each datagram is passed on once, in order")
    func activeBatch() throws {
        let p = try Pair(mode: .active)
        let batch = tenToNodeTwo
        p.nodes[0].send(batch: batch)
        #expect(p.nodes[0].rings.map(\.counters.sendCalls) == [1, 1])
        p.pump()
        #expect(p.received[1] == batch.map(\.bytes), "ring 0 is read first, in order")
        #expect(p.nodes[1].counters.replayed == 10, "ring 1's copies are dropped as seen")
    }

    @Test("passive batch: the datagrams alternate between the healthy rings, as single sends do")
    func passiveBatch() throws {
        let p = try Pair(mode: .passive)
        let batch = tenToNodeTwo
        p.nodes[0].send(batch: batch)
        #expect(p.nodes[0].rings.map(\.counters.sent) == [5, 5])
        p.pump()
        #expect(p.received[1].sorted { $0[0] < $1[0] } == batch.map(\.bytes))
        #expect(p.nodes[1].counters.replayed == 0)
    }
}
