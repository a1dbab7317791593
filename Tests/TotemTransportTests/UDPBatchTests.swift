// SPDX-License-Identifier: Apache-2.0
import ClusterSystem
import ClusterTypes
import Glibc
import Testing
@testable import TotemTransport

/// Three nodes on 127.0.0.1…3 in one process, each a bare `UDPTransport` (clear or sealed; udpu, or multicast to a
/// group on the same port).
private final class Trio {
    let port = UInt16.random(in: 20_000...50_000)
    let nodes: [UDPTransport]
    var received: [[[UInt8]]] = [[], [], []]
    var senders: [[NodeID]] = [[], [], []]
    var unreachable: [[NodeID]] = [[], [], []]

    init(sealed: Bool, multicast: Bool = false) throws {
        let port = port
        let mode: UDPTransport.Mode = multicast ? .multicast(SocketAddress(ipv4: "239.192.\(Int.random(in: 1...250)).\(Int.random(in: 1...250))", port: port)!) : .udpu
        let peers = Dictionary(uniqueKeysWithValues: (1...3).map { n in
            (NodeID(UInt32(n)), SocketAddress(ipv4: "127.0.0.\(n)", port: port)!)
        })
        nodes = (1...3).map { k in
            let crypto = PacketCrypto(keyMaterial: sealed ? Array("trio key material".utf8) : nil, clusterID: 7, nodeID: NodeID(UInt32(k)))
            return UDPTransport(nodeID: NodeID(UInt32(k)), local: peers[NodeID(UInt32(k))]!, peers: peers, mode: mode, crypto: crypto)
        }
        for (i, node) in nodes.enumerated() {
            node.onDatagram = { [unowned self] sender, opened in
                received[i].append(opened.plaintext)
                senders[i].append(sender)
            }
            node.onUnreachable = { [unowned self] in unreachable[i].append($0) }
            try node.open()
        }
    }

    /// A packet as the node's `PacketCrypto` would seal it is what `RedundantRings` hands the transport; here the
    /// tests seal with a fresh one of the same key (the receiver derives the key from the header).
    func seal(_ from: Int, _ payloads: [[UInt8]], sealed: Bool) -> [[UInt8]] {
        let crypto = PacketCrypto(keyMaterial: sealed ? Array("trio key material".utf8) : nil, clusterID: 7, nodeID: NodeID(UInt32(from + 1)))
        return payloads.map { crypto.seal($0) }
    }

    /// Reads whatever has arrived on every socket, a few times over 50 ms.
    func pump(_ rounds: Int = 10) {
        for _ in 0..<rounds {
            usleep(5_000)
            for n in nodes { for fd in n.descriptors { n.readable(fd) } }
        }
    }
}

private func frame(_ i: Int, bytes: Int = 1_200) -> [UInt8] {
    [UInt8(i >> 8), UInt8(i & 0xFF)] + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: bytes - 2)
}

@Suite("UDP transport batches on loopback", .serialized)
struct UDPBatchTests {
    @Test("a token visit (frames to all, then the token to the next node) leaves in one sendmmsg, arrives whole and in order",
          arguments: [false, true])
    func tokenVisit(sealed: Bool) throws {
        let t = try Trio(sealed: sealed)
        let frames = (0..<40).map { frame($0) }
        let token = [UInt8](repeating: 0xEE, count: 80)
        let packets = t.seal(0, frames + [token], sealed: sealed)
        let batch = packets.enumerated().map { i, p in (packet: p, destination: i < 40 ? UDPTransport.Destination.all : .node(NodeID(2))) }
        t.nodes[0].send(batch: batch)
        #expect(t.nodes[0].counters.sent == 40 * 2 + 1)
        #expect(t.nodes[0].counters.sendCalls == 1)
        #expect(t.nodes[0].segmentation, "this kernel segments UDP (Linux 4.18 and later)")
        #expect(t.nodes[0].counters.segmentedSends == 2, "the 40 frames went to each peer as one segmented run")
        #expect(t.nodes[0].counters.sendErrors == 0)
        t.pump()
        #expect(t.received[1] == frames + [token], "node 2: every frame in order, then the token")
        #expect(t.received[2] == frames, "node 3: the frames only")
        #expect(t.senders[1].allSatisfy { $0 == NodeID(1) })
        #expect(t.nodes[1].counters.received == 41)
        // The kernel kept each peer's run together (UDP_GRO): one read of 40 frames, cut here at the frame size.
        #expect(t.nodes[1].counters.coalescedReads == 1 && t.nodes[2].counters.coalescedReads == 1)
    }

    @Test("one datagram the kernel refuses (too long for UDP) is lost alone; those after it still go", arguments: [false, true])
    func errorPerDatagram(sealed: Bool) throws {
        let t = try Trio(sealed: sealed)
        let tooLong = [UInt8](repeating: 1, count: 65_600)
        let packets = t.seal(0, [frame(0), tooLong, frame(2), frame(3)], sealed: sealed)
        t.nodes[0].send(batch: packets.map { (packet: $0, destination: .node(NodeID(2))) })
        #expect(t.nodes[0].counters.sendErrors == 1)
        #expect(t.nodes[0].counters.sent == 3)
        t.pump()
        #expect(t.received[1] == [frame(0), frame(2), frame(3)])
    }

    @Test("multicast: a run of full frames goes to the group as one segmented send; every member reads the datagrams in order")
    func multicastSegmented() throws {
        let t = try Trio(sealed: true, multicast: true)
        let frames = (0..<20).map { frame($0) } + [frame(20, bytes: 300)]
        t.nodes[0].send(batch: t.seal(0, frames, sealed: true).map { (packet: $0, destination: .all) })
        #expect(t.nodes[0].counters.segmentedSends == 1)
        #expect(t.nodes[0].counters.sent == frames.count)
        t.pump()
        for k in 1...2 {
            let fromOne = zip(t.received[k], t.senders[k]).filter { $0.1 == NodeID(1) }.map(\.0)
            #expect(fromOne == frames, "node \(k + 1): the run cut at the frame size, the short last frame whole")
            #expect(t.nodes[k].counters.coalescedReads == 1, "node \(k + 1)")
        }
    }

    @Test("a segmented send the kernel refuses goes out as single datagrams, nothing lost, and segmentation stays off",
          arguments: [false, true])
    func segmentationRefused(sealed: Bool) throws {
        let t = try Trio(sealed: sealed)
        // With checksums off on the socket the kernel refuses to segment (EINVAL), as a device without checksum
        // offload refuses (EIO); single datagrams still go.
        var on: Int32 = 1
        #expect(setsockopt(t.nodes[0].fd, SOL_SOCKET, SO_NO_CHECK, &on, socklen_t(MemoryLayout<Int32>.size)) == 0)
        let frames = (0..<30).map { frame($0) }
        for _ in 0..<2 {
            t.nodes[0].send(batch: t.seal(0, frames, sealed: sealed).map { (packet: $0, destination: .all) })
        }
        t.pump()
        #expect(t.received[1] == frames + frames, "node 2: both batches whole and in order")
        #expect(t.received[2] == frames + frames, "node 3: both batches whole and in order")
        #expect(t.nodes[0].counters.sendErrors == 0)
        #expect(t.nodes[0].counters.sent == 30 * 2 * 2)
        #expect(t.nodes[0].counters.segmentationRefused == 2, "the first batch's run to each peer; the second batch planned none")
        #expect(t.nodes[0].counters.segmentedSends == 0)
        #expect(!t.nodes[0].segmentation)
    }

    @Test("a peer whose port is closed is reported unreachable while the batch still reaches the others in order")
    func closedPeerMidBatch() throws {
        let t = try Trio(sealed: true)
        t.nodes[2].close()
        let frames = (0..<20).map { frame($0, bytes: 200) }
        for _ in 0..<2 {  // the second batch meets the reports the first caused
            t.nodes[0].send(batch: t.seal(0, frames, sealed: true).map { (packet: $0, destination: .all) })
        }
        t.pump()
        #expect(t.received[1] == frames + frames, "node 2 got both batches whole and in order")
        #expect(t.unreachable[0].contains(NodeID(3)))
        #expect(t.nodes[0].counters.sendErrors == 0, "a refused datagram is sent again, not lost")
        #expect(t.nodes[0].counters.sendCalls > 2, "the refusals split the batches (\(t.nodes[0].counters.sendCalls) calls)")
    }

    @Test("a flood is read in bounded bites: at most receiveBatchMax × receiveCallsPerWakeupMax datagrams per wake-up")
    func boundedReadPerWakeup() throws {
        let t = try Trio(sealed: false)
        let bite = UDPTransport.receiveBatchMax * UDPTransport.receiveCallsPerWakeupMax
        let frames = (0..<(bite + 50)).map { frame($0, bytes: 100) }
        // Sent one by one: single datagrams, which the kernel does not put together on loopback.
        for p in t.seal(0, frames, sealed: false) { t.nodes[0].send(packet: p, to: .node(NodeID(2))) }
        usleep(20_000)
        let fd = t.nodes[1].descriptors[0]
        t.nodes[1].readable(fd)
        #expect(t.received[1].count == bite)
        #expect(t.nodes[1].counters.receiveCalls == UDPTransport.receiveCallsPerWakeupMax)
        t.nodes[1].readable(fd)
        #expect(t.received[1] == frames, "the rest at the next wake-up, in order")
    }

    @Test("a flood of coalesced runs is bounded by datagrams, not reads: one call of them is a wake-up's bite")
    func boundedCoalescedReadPerWakeup() throws {
        let t = try Trio(sealed: false)
        let runs = UDPTransport.receiveBatchMax + 8, perRun = 64
        var frames: [[UInt8]] = []
        for r in 0..<runs {
            let run = (0..<perRun).map { frame(r * perRun + $0, bytes: 100) }
            frames += run
            t.nodes[0].send(batch: t.seal(0, run, sealed: false).map { (packet: $0, destination: .node(NodeID(2))) })
        }
        usleep(20_000)
        let fd = t.nodes[1].descriptors[0]
        t.nodes[1].readable(fd)
        #expect(t.nodes[1].counters.receiveCalls == 1, "one call of \(UDPTransport.receiveBatchMax) runs is past the bound")
        #expect(t.received[1].count == UDPTransport.receiveBatchMax * perRun)
        #expect(t.nodes[1].counters.coalescedReads == UDPTransport.receiveBatchMax)
        t.nodes[1].readable(fd)
        #expect(t.received[1] == frames, "the rest at the next wake-up, in order")
    }

    @Test("the error queue is read only when the loop reports an error; datagrams are read either way")
    func errorQueueOnlyOnError() throws {
        let t = try Trio(sealed: false)
        let frames = (0..<5).map { frame($0, bytes: 100) }
        t.nodes[0].send(batch: t.seal(0, frames, sealed: false).map { (packet: $0, destination: .node(NodeID(2))) })
        usleep(20_000)
        let fd = t.nodes[1].descriptors[0]
        t.nodes[1].readable(fd, errorPending: false)
        #expect(t.received[1] == frames)
        #expect(t.nodes[1].counters.errorQueueReads == 0, "no error reported, yet the error queue was read")
        t.nodes[1].readable(fd, errorPending: true)
        #expect(t.nodes[1].counters.errorQueueReads == 1)
    }

    @Test("datagrams from an unknown address or with another key are dropped and counted, in a batch like alone")
    func foreignDatagramsInBatch() throws {
        let t = try Trio(sealed: true)
        let other = PacketCrypto(keyMaterial: Array("another cluster's key".utf8), clusterID: 7, nodeID: NodeID(1))
        let good = t.seal(0, [frame(0), frame(2)], sealed: true)
        t.nodes[0].send(batch: [(good[0], .node(NodeID(2))), (other.seal(frame(1)), .node(NodeID(2))), (good[1], .node(NodeID(2)))])
        t.pump()
        #expect(t.received[1] == [frame(0), frame(2)])
        #expect(t.nodes[1].counters.unauthentic == 1)
    }
}
