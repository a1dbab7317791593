// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

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
