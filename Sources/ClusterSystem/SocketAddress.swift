// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 address and port.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address in network byte order.
    public var address: UInt32
    public var port: UInt16

    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses a dotted quad.
    public init?(ipv4: String, port: UInt16) {
        var a = in_addr()
        guard inet_pton(AF_INET, ipv4, &a) == 1 else { return nil }
        self.init(address: a.s_addr, port: port)
    }

    /// Resolves `host` (a name or a dotted quad) to its first IPv4 address.
    public static func resolve(_ host: String, port: UInt16) -> SocketAddress? {
        if let direct = SocketAddress(ipv4: host, port: port) { return direct }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let sa = first.pointee.ai_addr else { return nil }
        let sin = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self)
        return SocketAddress(address: sin.sin_addr.s_addr, port: port)
    }

    /// The address as a C `sockaddr_in`.
    public var sockaddr: sockaddr_in {
        var s = sockaddr_in()
        s.sin_family = sa_family_t(AF_INET)
        s.sin_port = port.bigEndian
        s.sin_addr.s_addr = address
        return s
    }

    public init(_ s: sockaddr_in) {
        address = s.sin_addr.s_addr
        port = UInt16(bigEndian: s.sin_port)
    }

    public var ip: String {
        let b = withUnsafeBytes(of: address) { Array($0) }
        return "\(b[0]).\(b[1]).\(b[2]).\(b[3])"
    }

    public var isMulticast: Bool { (UInt32(bigEndian: address) >> 28) == 0xE }

    public var description: String { "\(ip):\(port)" }

    /// The IPv4 addresses of this host's interfaces.
    public static func localAddresses() -> [UInt32] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var out: [UInt32] = []
        var p = list
        while let ifa = p {
            if let sa = ifa.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET) {
                out.append(UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self).sin_addr.s_addr)
            }
            p = ifa.pointee.ifa_next
        }
        return out
    }
}
