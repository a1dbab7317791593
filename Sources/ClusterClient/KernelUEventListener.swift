// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Glibc

/// The kernel's uevents as an asynchronous sequence: a `NETLINK_KOBJECT_UEVENT` socket bound to the kernel's
/// multicast group, read when it is readable (a dispatch read source, no polling).
///
/// Only the kernel and processes with `CAP_NET_ADMIN` can send on that group, so what arrives is trusted as the
/// kernel's; datagrams that do not parse are counted and skipped (`onSkipped`). Every listener in the network
/// namespace receives every event: a daemon filters for its subsystem.
public final class KernelUEventListener: @unchecked Sendable {  // fd is immutable; the pump runs on its own queue
    /// The socket.
    public let fd: Int32
    private var pump: EventPump?

    /// Opens and binds the socket. Fails with `.accessDenied` or `.failed`, naming the call that failed.
    public init() throws(ClusterError) {
        let s = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                       Self.kobjectUEvent)
        guard s >= 0 else { throw Self.failure("socket(NETLINK_KOBJECT_UEVENT)") }
        // struct sockaddr_nl (linux/netlink.h, not in Swift's Glibc module): family, pad, port id 0 (the kernel
        // assigns one), multicast groups (1: the kernel's), in host byte order.
        var address = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: UInt16(AF_NETLINK)) { for (i, b) in $0.enumerated() { address[i] = b } }
        withUnsafeBytes(of: UInt32(1)) { for (i, b) in $0.enumerated() { address[8 + i] = b } }
        let bound = address.withUnsafeBytes { raw in
            bind(s, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        guard bound == 0 else {
            let error = Self.failure("bind(NETLINK_KOBJECT_UEVENT, group 1)")
            close(s)
            throw error
        }
        fd = s
    }

    deinit {
        pump?.cancel()
        close(fd)
    }

    /// The events as they come, until the listener is released. `onSkipped` hears of datagrams that are not uevents.
    public func events(onSkipped: @escaping @Sendable (String) -> Void = { _ in }) -> AsyncStream<KernelUEvent> {
        let fd = self.fd
        let (stream, continuation) = AsyncStream<KernelUEvent>.makeStream(bufferingPolicy: .unbounded)
        let pump = EventPump(fd: fd, label: "uevents") { () throws(ClusterError) -> Bool in
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n < 0 {
                    if errno == EAGAIN || errno == EINTR { return true }
                    // ENOBUFS: the kernel dropped events while we were slow; say so and go on reading.
                    if errno == ENOBUFS { onSkipped("uevents were lost (receive buffer overrun)"); continue }
                    throw Self.failure("recv(NETLINK_KOBJECT_UEVENT)")
                }
                if let event = KernelUEvent(datagram: buffer[..<n]) {
                    continuation.yield(event)
                } else {
                    onSkipped("a \(n)-byte datagram that is not a uevent")
                }
            }
        } onFailure: { error in
            onSkipped(error.message)
            continuation.finish()
        }
        self.pump = pump
        continuation.onTermination = { _ in pump.cancel() }
        pump.start()
        return stream
    }

    /// `NETLINK_KOBJECT_UEVENT` (linux/netlink.h).
    static let kobjectUEvent: Int32 = 15

    static func failure(_ call: String) -> ClusterError {
        let e = errno
        return ClusterError(e == EPERM || e == EACCES ? .accessDenied : .failed, "\(call): \(String(cString: strerror(e)))")
    }
}
