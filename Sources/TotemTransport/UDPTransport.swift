// SPDX-License-Identifier: Apache-2.0
import CSocketBatch
import ClusterSystem
import ClusterTypes
#if canImport(Glibc)
import Glibc
#endif

/// One totem ring's network: a UDP socket bound to this node's address on that ring, sending sealed packets to the
/// multicast group or to every peer (udpu), opening what arrives with `PacketCrypto`, and reading ICMP
/// port-unreachable reports through IP_RECVERR so the protocol learns at once when a peer's process is gone.
/// `RedundantRings` runs one per ring.
public final class UDPTransport {
    public enum Destination: Sendable {
        case all
        case node(NodeID)
    }

    public enum Mode: Sendable {
        /// Unicast to each configured node.
        case udpu
        /// Multicast to a group address.
        case multicast(SocketAddress)
    }

    public struct Counters: Sendable {
        public var sent = 0
        public var received = 0
        public var sendErrors = 0
        public var unauthentic = 0
        public var unknownSource = 0
        /// Authentic packets whose header names another node than the address they came from.
        public var wrongSender = 0
        /// Authentic packets seen before (a replay, or the copy from another redundant ring).
        public var replayed = 0
        public var unreachable = 0
        /// System calls that sent (`sendto` or `sendmmsg`) and that received (`recvmmsg`), for the batching's effect.
        public var sendCalls = 0
        public var receiveCalls = 0
        /// Reads of the socket's error queue (`recvmsg` with MSG_ERRQUEUE), each until it is empty.
        public var errorQueueReads = 0
        /// `sendmmsg` entries that went with several datagrams for the kernel to cut (`SegmentPlan`).
        public var segmentedSends = 0
        /// Segmented sends the kernel or the device refused (each went again as single datagrams); the first turns
        /// segmentation off for this socket, the others were already planned in the same batch.
        public var segmentationRefused = 0
        /// Reads that held several datagrams, a run the kernel kept together (UDP_GRO: a peer's segmented send).
        public var coalescedReads = 0
    }

    public let local: SocketAddress
    public let nodeID: NodeID
    public let mode: Mode
    public private(set) var counters = Counters()
    /// Whether runs of equal-sized packets to one address go out as one segmented send (`SegmentPlan`): on from
    /// `open` where the kernel knows `UDP_SEGMENT`; turned off for good by a refusal (a device without checksum
    /// offload answers EIO), whose entry then goes as single datagrams.
    public private(set) var segmentation = false
    /// Where packets go, for `SegmentPlan`: every peer's address (by node ID), then the multicast group's.
    private let sendAddresses: [sockaddr_in]
    /// A peer's index in `sendAddresses`; and the indices a packet to all goes to (every peer, or the group).
    private let peerSlot: [NodeID: Int]
    private let toAll: [Int]
    private var byAddress: [UInt32: NodeID]
    private let crypto: PacketCrypto
    private(set) var fd: Int32 = -1
    private var mcastFD: Int32 = -1
    /// Receive buffers for one `recvmmsg`: `receiveBatchMax` slots of `receiveSlotBytes`.
    private var buffer = [UInt8](repeating: 0, count: UDPTransport.receiveSlotBytes * UDPTransport.receiveBatchMax)
    private var receivedFrom = [sockaddr_in](repeating: sockaddr_in(), count: UDPTransport.receiveBatchMax)
    private var receivedLength = [Int](repeating: 0, count: UDPTransport.receiveBatchMax)
    /// Each read's datagram size when it holds a coalesced run, or 0 (`cluster_coalesced_segment_size`).
    private var receivedSegment = [Int](repeating: 0, count: UDPTransport.receiveBatchMax)
    /// One control buffer per receive slot, for the UDP_GRO message that marks a coalesced run.
    private var receiveControl = [UInt8](repeating: 0, count: UDPTransport.receiveControlBytes * UDPTransport.receiveBatchMax)
    private static let receiveControlBytes = (Int(cluster_coalesced_control_bytes()) + 7) & ~7
    /// Reads (datagrams, or coalesced runs of them) per system call.
    public static let receiveBatchMax = 32
    /// System calls of `receiveBatchMax` reads per wake-up before the loop gets its turn back.
    public static let receiveCallsPerWakeupMax = 8
    /// Datagrams handled per wake-up, also a bound: as many as `receiveCallsPerWakeupMax` full calls of single
    /// datagrams bring; a call with coalesced runs may take it past, by that call's reads.
    public static let receiveDatagramsPerWakeupMax = receiveBatchMax * receiveCallsPerWakeupMax
    /// One receive slot: the largest UDP payload over IPv4 (65,507 bytes) fits.
    static let receiveSlotBytes = 65_536
    /// Called with each authentic datagram's sender (by address, and the header agrees) and content.
    public var onDatagram: (NodeID, PacketCrypto.Opened) -> Void = { _, _ in }
    /// Called when the kernel reports a peer's port closed.
    public var onUnreachable: (NodeID) -> Void = { _ in }

    /// The largest datagram payload (before sealing) this transport sends.
    public static let datagramBytesMax = 65_000

    public init(nodeID: NodeID, local: SocketAddress, peers: [NodeID: SocketAddress], mode: Mode, crypto: PacketCrypto) {
        self.nodeID = nodeID
        self.local = local
        self.mode = mode
        self.crypto = crypto
        let peerList = peers.filter { $0.key != nodeID }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.sockaddr) }
        byAddress = Dictionary(peers.map { ($0.value.address, $0.key) }, uniquingKeysWith: { a, _ in a })
        peerSlot = Dictionary(uniqueKeysWithValues: peerList.enumerated().map { ($0.element.0, $0.offset) })
        if case .multicast(let group) = mode {
            sendAddresses = peerList.map(\.1) + [group.sockaddr]
            toAll = [peerList.count]
        } else {
            sendAddresses = peerList.map(\.1)
            toAll = Array(peerList.indices)
        }
    }

    deinit { close() }

    /// Opens and binds the socket(s). The caller watches `descriptors` for readability.
    public func open() throws(TransportError) {
        fd = try makeSocket(bindTo: local)
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IP), IP_RECVERR, &on, socklen_t(MemoryLayout<Int32>.size))
        segmentation = cluster_segmentation_supported(fd) == 1
        _ = cluster_enable_coalescing(fd)
        if case .multicast(let group) = mode {
            mcastFD = try makeSocket(bindTo: SocketAddress(address: group.address, port: group.port))
            var mreq = ip_mreq()
            mreq.imr_multiaddr.s_addr = group.address
            mreq.imr_interface.s_addr = local.address
            guard setsockopt(mcastFD, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &mreq, socklen_t(MemoryLayout<ip_mreq>.size)) == 0 else {
                throw .system("join multicast group \(group.ip) on \(local.ip)", errno)
            }
            _ = cluster_enable_coalescing(mcastFD)
            var iface = in_addr(s_addr: local.address)
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &iface, socklen_t(MemoryLayout<in_addr>.size))
            var loop: UInt8 = 1
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, 1)
            var ttl: UInt8 = 1
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, 1)
        }
    }

    /// The descriptors to watch for readability (and errors).
    public var descriptors: [Int32] { [fd, mcastFD].filter { $0 >= 0 } }

    public func close() {
        for d in descriptors { Glibc.close(d) }
        fd = -1
        mcastFD = -1
    }

    private func makeSocket(bindTo address: SocketAddress) throws(TransportError) -> Int32 {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw .system("create a UDP socket", errno) }
        var on: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var size: Int32 = 8 << 20
        // Root may exceed the system's buffer limits; others get what rmem_max allows.
        if setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var sin = address.sockaddr
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(s)
            throw e == EADDRNOTAVAIL ? .addressNotLocal(address) : .system("bind \(address)", e)
        }
        return s
    }

    // MARK: - Sending

    /// Sends a sealed packet. Failures are counted, not thrown: the protocol copes with loss.
    public func send(packet: [UInt8], to destination: Destination) {
        send(batch: [(packet, destination)])
    }

    /// Sends sealed packets in order with as few system calls as the kernel allows: a token visit's frames to every
    /// peer and then the token in one `sendmmsg` instead of one `sendto` per frame and peer, runs of full frames to a
    /// peer as one segmented entry (`SegmentPlan`). Each entry succeeds or fails on its own (`BatchSend`): a failure
    /// is counted and the rest still go, as with `send`.
    public func send(batch: [(packet: [UInt8], destination: Destination)]) {
        if batch.count == 1, case .node(let id) = batch[0].destination {  // a token on its way: nothing to plan
            guard let k = peerSlot[id] else { return }
            count(sendOne(batch[0].packet, sendAddresses[k]))
            return
        }
        let targets: [[Int]] = batch.map { item in
            switch item.destination {
            case .all: return toAll
            case .node(let id): return peerSlot[id].map { [$0] } ?? []
            }
        }
        let plan = SegmentPlan(sizes: batch.map(\.packet.count), addresses: targets, segmenting: segmentation)
        if plan.entries.count == 1 && plan.entries[0].packets.count == 1 {
            let only = plan.entries[0]
            count(sendOne(batch[only.packets.lowerBound].packet, sendAddresses[only.address]))
        } else if !plan.entries.isEmpty {
            count(sendMany(batch.map(\.packet), sendAddresses, plan))
        }
    }

    private func count(_ outcome: BatchSend.Outcome) {
        counters.sent += outcome.sent
        counters.sendErrors += outcome.lost
        counters.sendCalls += outcome.calls
    }

    private func sendOne(_ packet: [UInt8], _ address: sockaddr_in) -> BatchSend.Outcome {
        var a = address
        return packet.withUnsafeBytes { raw in
            withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { to in
                    BatchSend.run(count: 1, refused: drainErrorQueue) { _, _ in
                        sendto(fd, raw.baseAddress, raw.count, 0, to, socklen_t(MemoryLayout<sockaddr_in>.size)) >= 0 ? .sent(1) : .failed(errno)
                    }
                }
            }
        }
    }

    /// `sendmmsg` over one contiguous copy of the packets (stable addresses for the iovecs while the calls run), one
    /// entry per `plan` entry: a packet, or a run of them the kernel segments.
    private func sendMany(_ packets: [[UInt8]], _ addresses: [sockaddr_in], _ plan: SegmentPlan) -> BatchSend.Outcome {
        var offsets: [Int] = []
        offsets.reserveCapacity(packets.count + 1)
        var storage: [UInt8] = []
        storage.reserveCapacity(packets.reduce(0) { $0 + $1.count })
        for packet in packets {
            offsets.append(storage.count)
            storage += packet
        }
        offsets.append(storage.count)
        var addresses = addresses
        let entries = plan.entries
        let controlBytes = Int(cluster_segment_control_bytes())
        var resent = BatchSend.Outcome()  // refused runs sent again as single datagrams
        var outcome = storage.withUnsafeMutableBytes { raw in
            addresses.withUnsafeMutableBufferPointer { a in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: controlBytes * entries.count) { control in
                    withUnsafeTemporaryAllocation(of: iovec.self, capacity: entries.count) { iov in
                        withUnsafeTemporaryAllocation(of: cluster_mmsghdr.self, capacity: entries.count) { h in
                            for (j, e) in entries.enumerated() {
                                let from = offsets[e.packets.lowerBound], to = offsets[e.packets.upperBound]
                                iov[j] = iovec(iov_base: raw.baseAddress! + from, iov_len: to - from)
                                h[j] = Self.header(address: a.baseAddress! + e.address, iov: iov.baseAddress! + j)
                                if let size = e.segmentBytes {
                                    cluster_set_segment_size(&h[j].msg_hdr, control.baseAddress! + j * controlBytes, UInt16(size))
                                }
                            }
                            return BatchSend.run(count: entries.count, weight: { entries[$0].packets.count }, refused: drainErrorQueue) { start, count in
                                let n = cluster_sendmmsg(fd, h.baseAddress! + start, UInt32(count), 0)
                                if n > 0 {
                                    counters.segmentedSends += entries[start..<(start + Int(n))].count { $0.segmentBytes != nil }
                                    return .sent(Int(n))
                                }
                                let e = n == 0 ? EIO : errno
                                guard entries[start].segmentBytes != nil, Self.refusesSegmentation(e) else { return .failed(e) }
                                // The kernel or the device cannot cut this run: off for good, and this run as single datagrams.
                                segmentation = false
                                counters.segmentationRefused += 1
                                for p in entries[start].packets {
                                    let single = sendOne(packets[p], a[entries[start].address])
                                    resent.lost += single.lost
                                    resent.calls += single.calls
                                }
                                return .sent(1)
                            }
                        }
                    }
                }
            }
        }
        // A refused run counted as sent whole; what its single datagrams lost is moved back.
        outcome.sent -= resent.lost
        outcome.lost += resent.lost
        outcome.calls += resent.calls
        return outcome
    }

    /// Errors of a segmented send that mean "not segmented here" rather than "this datagram": EIO (no checksum
    /// offload on the device), EINVAL (a segment longer than the path's MTU), ENOPROTOOPT/EOPNOTSUPP (no GSO).
    private static func refusesSegmentation(_ e: Int32) -> Bool {
        e == EIO || e == EINVAL || e == ENOPROTOOPT || e == EOPNOTSUPP
    }

    /// One `sendmmsg`/`recvmmsg` entry: a datagram of one buffer, to or from an IPv4 address.
    private static func header(address: UnsafeMutablePointer<sockaddr_in>, iov: UnsafeMutablePointer<iovec>) -> cluster_mmsghdr {
        var header = cluster_mmsghdr()
        header.msg_hdr.msg_name = UnsafeMutableRawPointer(address)
        header.msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
        header.msg_hdr.msg_iov = iov
        header.msg_hdr.msg_iovlen = 1
        return header
    }

    // MARK: - Receiving

    /// Reads what is waiting on `descriptor` (after the loop reports it readable or in error), up to
    /// `receiveBatchMax` reads per system call (recvmmsg), each a datagram or a run of them the kernel kept together
    /// (UDP_GRO, cut here into its datagrams), and about `receiveDatagramsPerWakeupMax` datagrams: a flood of frames
    /// cannot keep the loop from its timers and other descriptors (it is level-triggered and comes back).
    /// `errorPending`: the loop reported POLLERR, which the kernel sets while the socket's error queue (its ICMP
    /// reports) is not empty; only then is the queue read (before, every wake-up paid a failing `recvmsg` and two
    /// buffers for it). A caller that cannot tell passes true.
    public func readable(_ descriptor: Int32, errorPending: Bool = true) {
        if descriptor == fd && errorPending { drainErrorQueue() }
        var calls = 0, datagrams = 0
        while calls < Self.receiveCallsPerWakeupMax && datagrams < Self.receiveDatagramsPerWakeupMax {
            calls += 1
            let n = receiveBatch(descriptor)
            counters.receiveCalls += 1
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNREFUSED {
                    drainErrorQueue()
                    continue
                }
                return
            }
            for i in 0..<n {
                let start = i * Self.receiveSlotBytes, end = start + receivedLength[i]
                let segment = receivedSegment[i]
                guard segment > 0 && end - start > segment else {
                    datagrams += 1
                    handle(buffer[start..<end], from: receivedFrom[i])
                    continue
                }
                counters.coalescedReads += 1
                for at in stride(from: start, to: end, by: segment) {
                    datagrams += 1
                    handle(buffer[at..<min(at + segment, end)], from: receivedFrom[i])
                }
            }
            if n < Self.receiveBatchMax { return }
        }
    }

    /// One recvmmsg into `buffer`, `receivedFrom`, `receivedLength` and `receivedSegment`; returns the count, or -1
    /// and errno.
    private func receiveBatch(_ descriptor: Int32) -> Int {
        let count = Self.receiveBatchMax
        let slot = Self.receiveSlotBytes, controlSlot = Self.receiveControlBytes
        return buffer.withUnsafeMutableBytes { raw in
            receiveControl.withUnsafeMutableBytes { control in
                receivedFrom.withUnsafeMutableBufferPointer { from in
                    withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { iov in
                        withUnsafeTemporaryAllocation(of: cluster_mmsghdr.self, capacity: count) { h in
                            for j in 0..<count {
                                iov[j] = iovec(iov_base: raw.baseAddress! + j * slot, iov_len: slot)
                                h[j] = Self.header(address: from.baseAddress! + j, iov: iov.baseAddress! + j)
                                h[j].msg_hdr.msg_control = control.baseAddress! + j * controlSlot
                                h[j].msg_hdr.msg_controllen = controlSlot
                            }
                            let n = Int(cluster_recvmmsg(descriptor, h.baseAddress!, UInt32(count), Int32(MSG_DONTWAIT)))
                            for j in 0..<max(n, 0) {
                                receivedLength[j] = Int(h[j].msg_len)
                                receivedSegment[j] = Int(cluster_coalesced_segment_size(&h[j].msg_hdr))
                            }
                            return n
                        }
                    }
                }
            }
        }
    }

    /// One datagram: authenticated, opened and handed on, or counted and dropped.
    private func handle(_ datagram: ArraySlice<UInt8>, from: sockaddr_in) {
        guard let sender = byAddress[from.sin_addr.s_addr] else {
            counters.unknownSource += 1
            return
        }
        guard let opened = crypto.open(datagram) else {
            counters.unauthentic += 1
            return
        }
        if crypto.mode == .encrypted && opened.sender != sender {
            // A member's key, but another member's address: someone is replaying or spoofing.
            counters.wrongSender += 1
            return
        }
        counters.received += 1
        onDatagram(sender, opened)
    }

    /// Reads IP_RECVERR reports: ICMP port unreachable from a peer's address means its process is gone.
    private func drainErrorQueue() {
        counters.errorQueueReads += 1
        var control = [UInt8](repeating: 0, count: 512)
        var data = [UInt8](repeating: 0, count: 64)
        while true {
            var name = sockaddr_in()
            let n: Int = data.withUnsafeMutableBytes { d in
                control.withUnsafeMutableBytes { c in
                    withUnsafeMutablePointer(to: &name) { namePtr in
                        var iov = iovec(iov_base: d.baseAddress, iov_len: d.count)
                        return withUnsafeMutablePointer(to: &iov) { iovPtr in
                            var msg = msghdr()
                            msg.msg_name = UnsafeMutableRawPointer(namePtr)
                            msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                            msg.msg_iov = iovPtr
                            msg.msg_iovlen = 1
                            msg.msg_control = c.baseAddress
                            msg.msg_controllen = c.count
                            let r = recvmsg(fd, &msg, Int32(MSG_ERRQUEUE))
                            if r >= 0 {
                                parseErrors(control: UnsafeRawBufferPointer(start: c.baseAddress, count: Int(msg.msg_controllen)), destination: namePtr.pointee)
                            }
                            return r
                        }
                    }
                }
            }
            if n < 0 { return }
        }
    }

    private func parseErrors(control: UnsafeRawBufferPointer, destination: sockaddr_in) {
        // struct cmsghdr { size_t len; int level; int type; } then data, each entry aligned to 8 bytes.
        var offset = 0
        while offset + 16 <= control.count {
            let length = Int(control.loadUnaligned(fromByteOffset: offset, as: Int.self))
            let level = control.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self)
            let type = control.loadUnaligned(fromByteOffset: offset + 12, as: Int32.self)
            guard length >= 16, offset + length <= control.count else { return }
            if level == Int32(IPPROTO_IP) && type == IP_RECVERR && length >= 16 + 16 {
                // struct sock_extended_err { u32 errno; u8 origin; u8 type; u8 code; u8 pad; u32 info; u32 data; }
                let eeErrno = control.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self)
                let origin = control.load(fromByteOffset: offset + 20, as: UInt8.self)
                let icmpType = control.load(fromByteOffset: offset + 21, as: UInt8.self)
                let icmpCode = control.load(fromByteOffset: offset + 22, as: UInt8.self)
                // SO_EE_ORIGIN_ICMP = 2; ICMP destination unreachable (3), port unreachable (3).
                if eeErrno == UInt32(ECONNREFUSED) && origin == 2 && icmpType == 3 && icmpCode == 3,
                   let peer = byAddress[destination.sin_addr.s_addr], peer != nodeID {
                    counters.unreachable += 1
                    onUnreachable(peer)
                }
            }
            offset += (length + 7) & ~7
        }
    }
}

/// Why the transport could not start.
public enum TransportError: Error, Sendable, CustomStringConvertible {
    case addressNotLocal(SocketAddress)
    case system(String, Int32)

    public var description: String {
        switch self {
        case .addressNotLocal(let a): "cannot bind \(a): the address is not on this host"
        case .system(let what, let e): "cannot \(what): \(String(cString: strerror(e)))"
        }
    }
}
