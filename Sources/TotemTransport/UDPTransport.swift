// SPDX-License-Identifier: Apache-2.0
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
    }

    public let local: SocketAddress
    public let nodeID: NodeID
    public let mode: Mode
    public private(set) var counters = Counters()
    private var peers: [NodeID: SocketAddress]
    private var peerList: [(NodeID, sockaddr_in)]
    private var byAddress: [UInt32: NodeID]
    private let crypto: PacketCrypto
    private(set) var fd: Int32 = -1
    private var mcastFD: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: 65_536)
    /// Called with each authentic datagram's sender (by address, and the header agrees) and content.
    public var onDatagram: (NodeID, PacketCrypto.Opened) -> Void = { _, _ in }
    /// Called when the kernel reports a peer's port closed.
    public var onUnreachable: (NodeID) -> Void = { _ in }

    /// The largest datagram payload (before sealing) this transport sends.
    public static let datagramBytesMax = 65_000

    public init(nodeID: NodeID, local: SocketAddress, peers: [NodeID: SocketAddress], mode: Mode, crypto: PacketCrypto) {
        self.nodeID = nodeID
        self.local = local
        self.peers = peers
        self.mode = mode
        self.crypto = crypto
        peerList = peers.filter { $0.key != nodeID }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.sockaddr) }
        byAddress = Dictionary(peers.map { ($0.value.address, $0.key) }, uniquingKeysWith: { a, _ in a })
    }

    deinit { close() }

    /// Opens and binds the socket(s). The caller watches `descriptors` for readability.
    public func open() throws(TransportError) {
        fd = try makeSocket(bindTo: local)
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IP), IP_RECVERR, &on, socklen_t(MemoryLayout<Int32>.size))
        if case .multicast(let group) = mode {
            mcastFD = try makeSocket(bindTo: SocketAddress(address: group.address, port: group.port))
            var mreq = ip_mreq()
            mreq.imr_multiaddr.s_addr = group.address
            mreq.imr_interface.s_addr = local.address
            guard setsockopt(mcastFD, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &mreq, socklen_t(MemoryLayout<ip_mreq>.size)) == 0 else {
                throw .system("join multicast group \(group.ip) on \(local.ip)", errno)
            }
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
        switch (destination, mode) {
        case (.all, .multicast(let group)):
            sendTo(packet, group.sockaddr)
        case (.all, .udpu):
            for (_, addr) in peerList { sendTo(packet, addr) }
        case (.node(let id), _):
            guard id != nodeID, let addr = peers[id] else { return }
            sendTo(packet, addr.sockaddr)
        }
    }

    private func sendTo(_ packet: [UInt8], _ address: sockaddr_in) {
        var a = address
        while true {
            let n = packet.withUnsafeBytes { raw in
                withUnsafePointer(to: &a) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            if n >= 0 {
                counters.sent += 1
                return
            }
            switch errno {
            case EINTR: continue
            case ECONNREFUSED:
                // A queued ICMP error surfaced on this call; the error queue says which peer.
                drainErrorQueue()
                continue
            default:
                counters.sendErrors += 1
                return
            }
        }
    }

    // MARK: - Receiving

    /// Reads everything waiting on `descriptor` (after the loop reports it readable or in error).
    public func readable(_ descriptor: Int32) {
        if descriptor == fd { drainErrorQueue() }
        while true {
            var from = sockaddr_in()
            var fromLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, raw.baseAddress, raw.count, 0, $0, &fromLength) }
                }
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNREFUSED {
                    drainErrorQueue()
                    continue
                }
                return
            }
            guard let sender = byAddress[from.sin_addr.s_addr] else {
                counters.unknownSource += 1
                continue
            }
            guard let opened = crypto.open(buffer[0..<n]) else {
                counters.unauthentic += 1
                continue
            }
            if crypto.mode == .encrypted && opened.sender != sender {
                // A member's key, but another member's address: someone is replaying or spoofing.
                counters.wrongSender += 1
                continue
            }
            counters.received += 1
            onDatagram(sender, opened)
        }
    }

    /// Reads IP_RECVERR reports: ICMP port unreachable from a peer's address means its process is gone.
    private func drainErrorQueue() {
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
