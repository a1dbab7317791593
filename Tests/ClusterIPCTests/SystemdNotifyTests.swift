// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket standing in for systemd's notify socket.
final class NotifySocket {
    let path: String
    let fd: Int32

    init(directory: String) throws {
        path = directory + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { throw ChildProcessError("bind \(path): \(errno)") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Datagrams received within `timeout`, until `stop` returns true for the collected list.
    func receive(timeout: Duration, until stop: ([String]) -> Bool) -> [String] {
        var messages: [String] = []
        let deadline = ContinuousClock.now + timeout
        var buf = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline && !stop(messages) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 50) > 0 {
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 { messages.append(String(decoding: buf[0..<n], as: UTF8.self)) }
            }
        }
        return messages
    }
}

@Suite("sd_notify readiness and watchdog")
struct SystemdNotifyTests {
    @Test("READY with STATUS once serving, WATCHDOG at half of WATCHDOG_USEC, STOPPING on SIGTERM")
    func notify() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = try NotifySocket(directory: dir)
        let name = uniqueName("notify")
        let daemon = try ChildProcess(TestBinaries.path("ipc-peer"), ["server", name],
                                      environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "200000"])
        let started = ContinuousClock.now
        let first = socket.receive(timeout: .seconds(5)) { msgs in msgs.filter { $0 == "WATCHDOG=1" }.count >= 3 && msgs.contains { $0.hasPrefix("READY=1") } }
        let elapsed = ContinuousClock.now - started
        #expect(first.contains("READY=1\nSTATUS=serving \(name)"), "\(first)")
        #expect(first.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(first)")
        // Three pings at 100 ms intervals cannot take much less than 200 ms.
        #expect(elapsed >= .milliseconds(150))
        daemon.signal(SIGTERM)
        let last = socket.receive(timeout: .seconds(5)) { $0.contains("STOPPING=1") }
        #expect(last.contains("STOPPING=1"), "\(last)")
        #expect(try daemon.wait() == 0)
    }
}
