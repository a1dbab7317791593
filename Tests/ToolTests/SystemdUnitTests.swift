// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit

/// The units in systemd/ as files: their shape, their dependencies and their hardening. How they behave under a
/// real systemd is `tools/systemd-test`; how they are installed and verified is `InstallTests`.
@Suite("systemd units")
struct SystemdUnitTests {
    static let directory = TestBinaries.repositoryRoot + "/systemd"
    static let services: [String] = {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".service") }.sorted() // listing only
    }()
    /// The daemons bound to totemd, in start order.
    static let upper = ["quorumd.service", "groupd.service"]
    /// Daemons only some nodes run: enabled one by one into cluster.target, not wanted by it.
    static let optional = ["dlm_controld.service", "o2cb_controld.service"]

    static func text(_ unit: String) throws -> String {
        try String(contentsOfFile: directory + "/" + unit, encoding: .utf8)
    }

    /// Every value of `key=` in `unit`, split on spaces (systemd's list syntax).
    static func values(_ key: String, in unit: String) throws -> [String] {
        try text(unit).split(separator: "\n").filter { $0.hasPrefix(key + "=") }
            .flatMap { $0.dropFirst(key.count + 1).split(separator: " ").map(String.init) }
    }

    @Test("there is a unit for every daemon, and cluster.target")
    func present() {
        #expect(Self.services == ["dlm_controld.service", "groupd.service", "o2cb_controld.service", "quorumd.service", "totemd.service"])
        #expect(FileManager.default.fileExists(atPath: Self.directory + "/cluster.target"))
    }

    @Test("each unit is Type=notify with a watchdog, and the backtracer off so the watchdog can kill", arguments: services)
    func shape(unit: String) throws {
        let text = try Self.text(unit)
        #expect(text.contains("Type=notify"))
        #expect(text.contains("WatchdogSec="))
        #expect(text.contains("SWIFT_BACKTRACE=enable=no"))
        #expect(text.contains("Restart=on-failure"))
        #expect(try Self.values("RestartPreventExitStatus", in: unit).contains("78"))
    }

    @Test("cluster.target wants every daemon; each daemon is part of it, ordered before it and installed into it", arguments: services)
    func target(unit: String) throws {
        #expect(try Self.values("Wants", in: "cluster.target").contains(unit) != Self.optional.contains(unit))
        #expect(try Self.values("PartOf", in: unit) == ["cluster.target"])
        #expect(try Self.values("Before", in: unit).contains("cluster.target"))
        #expect(try Self.values("WantedBy", in: unit) == ["cluster.target"])
    }

    @Test("the upper daemons are bound to totemd and start in the stack's order", arguments: upper)
    func bound(unit: String) throws {
        for key in ["Requires", "BindsTo", "After"] {
            #expect(try Self.values(key, in: unit).contains("totemd.service"), "\(unit) \(key)")
        }
        // totemd → quorumd → groupd → fenced → dlm_controld/o2cb_controld → rgmanager: each after all before it.
        let position = Self.upper.firstIndex(of: unit)!
        for earlier in Self.upper[..<position] {
            #expect(try Self.values("After", in: unit).contains(earlier), "\(unit) must start after \(earlier)")
        }
    }

    @Test("the control daemons need quorumd and groupd, are bound to groupd, and start after fenced", arguments: optional)
    func controlDaemons(unit: String) throws {
        #expect(try Self.values("Requires", in: unit) == ["quorumd.service", "groupd.service"])
        #expect(try Self.values("BindsTo", in: unit) == ["groupd.service"])
        #expect(try Set(Self.values("After", in: unit)).isSuperset(of: ["quorumd.service", "groupd.service", "fenced.service"]))
        #expect(try Self.text(unit).contains("\nReadWritePaths=/sys/kernel/config"))
    }

    @Test("hardening: no home, private /tmp, no new privileges, a capability bounding set, only unix/inet/netlink sockets",
          arguments: services)
    func hardening(unit: String) throws {
        let text = try Self.text(unit)
        for line in ["NoNewPrivileges=yes", "ProtectHome=yes", "PrivateTmp=yes", "ProtectKernelModules=yes",
                     "ProtectControlGroups=yes", "RestrictNamespaces=yes", "SystemCallFilter=@system-service"] {
            #expect(text.contains("\n" + line + "\n"), "\(unit) lacks \(line)")
        }
        #expect(try ["strict", "full"].contains(Self.values("ProtectSystem", in: unit).first ?? ""))
        let families = try Self.values("RestrictAddressFamilies", in: unit)
        #expect(!families.isEmpty && Set(families).isSubset(of: ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"]), "\(families)")
        let capabilities = try Self.values("CapabilityBoundingSet", in: unit)
        #expect(!capabilities.isEmpty && !capabilities.contains("CAP_SYS_ADMIN"), "\(capabilities)")
    }

    @Test("systemd-analyze security rates every unit 3.0 or better (when systemd-analyze is installed)", arguments: services)
    func exposure(unit: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else { return }
        // --threshold is on the tool's 0-100 scale: 30 is the 3.0 it prints.
        let r = try ChildProcess.run("/usr/bin/systemd-analyze",
                                     ["security", "--offline=yes", "--threshold=30", Self.directory + "/" + unit])
        let overall = r.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") } ?? ""
        #expect(r.status == 0, "\(overall)")
    }
}
