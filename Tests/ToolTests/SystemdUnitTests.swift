// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit

@Suite("systemd units")
struct SystemdUnitTests {
    static let units: [String] = {
        let dir = TestBinaries.repositoryRoot + "/systemd"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".service") }.sorted() // listing only
    }()

    @Test("there is a unit for every daemon")
    func present() {
        #expect(Self.units.contains("totemd.service"))
        #expect(Self.units.contains("quorumd.service"))
        #expect(Self.units.contains("groupd.service"))
    }

    @Test("each unit is Type=notify with a watchdog, and the backtracer off so the watchdog can kill", arguments: units)
    func shape(unit: String) throws {
        let text = try String(contentsOfFile: TestBinaries.repositoryRoot + "/systemd/" + unit, encoding: .utf8)
        #expect(text.contains("Type=notify"))
        #expect(text.contains("WatchdogSec="))
        #expect(text.contains("SWIFT_BACKTRACE=enable=no"))
        #expect(text.contains("Restart=on-failure"))
    }

    @Test("systemd-analyze verify reports nothing (when systemd-analyze is installed)", arguments: units)
    func verify(unit: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else { return }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Units refer to each other (Requires=): verify each with all of them beside it.
        for u in Self.units {
            var text = try String(contentsOfFile: TestBinaries.repositoryRoot + "/systemd/" + u, encoding: .utf8)
            text = text.replacingOccurrences(of: "/usr/sbin/", with: TestBinaries.directory + "/")
            try text.write(toFile: dir + "/" + u, atomically: true, encoding: .utf8)
        }
        let r = try ChildProcess.run("/usr/bin/systemd-analyze", ["verify", dir + "/" + unit])
        // Bad values are only warnings with exit status 0, so any output counts as a failure.
        #expect(r.status == 0 && r.stderr.isEmpty && r.stdout.isEmpty, "\(r)")
    }
}
