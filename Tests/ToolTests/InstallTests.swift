// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit

/// tools/install into a staging directory, with this build's binaries: the layout a packager gets, units that
/// systemd-analyze accepts as installed, and binaries that find the installed schema.
@Suite("tools/install", .serialized)
struct InstallTests {
    static let script = TestBinaries.repositoryRoot + "/tools/install"
    static let sbin = ["totemd", "quorumd", "groupd", "fenced", "cman_tool", "ccs_tool", "ccs_config_validate", "group_tool", "cpgtool",
                       "fence_tool", "fence_ack_manual", "fence_node", "fence_localcluster", "rgmanager", "clusvcadm", "clustat", "rg_test"]

    /// Installs this build's (debug) binaries under a new staging directory; the caller removes it.
    static func install(_ extra: [String] = []) throws -> String {
        let destdir = try makeTemporaryDirectory("install-test")
        // Debug builds link the Swift runtime from the toolchain: allowed here, refused by default (see below).
        let r = try ChildProcess.run("/bin/bash", [script, "--destdir", destdir, "--bin-dir", TestBinaries.directory, "--no-strip"] + extra,
                                     environment: ["INSTALL_ALLOW_SWIFT_RUNTIME": "1"], timeout: .seconds(120))
        #expect(r.status == 0, "\(r)")
        return destdir
    }

    @Test("binaries, units, the schema, man pages, docs, examples and /etc/cluster where an administrator expects them")
    func layout() throws {
        let d = try Self.install()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let fm = FileManager.default
        for b in Self.sbin { #expect(fm.isExecutableFile(atPath: "\(d)/usr/sbin/\(b)"), "\(b)") }
        for u in ["totemd.service", "quorumd.service", "groupd.service", "fenced.service", "rgmanager.service", "cluster.target"] {
            #expect(fm.fileExists(atPath: "\(d)/usr/lib/systemd/system/\(u)"), "\(u)")
        }
        for f in ["share/cluster/cluster.rng", "share/man/man8/totemd.8", "share/man/man8/quorumd.8", "share/man/man8/groupd.8", "share/man/man8/fenced.8",
                  "share/doc/cluster/fencing.md", "share/man/man8/rgmanager.8", "share/doc/cluster/rgmanager.md",
                  "share/cluster/agents/lib/rgm-agent.sh",
                  "share/doc/cluster/administration.md", "share/doc/cluster/examples/cluster.conf"] {
            #expect(fm.fileExists(atPath: "\(d)/usr/\(f)"), "\(f)")
        }
        var isDirectory: ObjCBool = false
        #expect(fm.fileExists(atPath: "\(d)/etc/cluster", isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(!fm.fileExists(atPath: "\(d)/etc/cluster/cluster.conf"), "the administrator's file is never installed")
        let unit = try String(contentsOfFile: "\(d)/usr/lib/systemd/system/totemd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/sbin/totemd\n"))
        // rgmanager's agents, executable, where the daemon looks for them.
        for a in ["service", "script", "demo", "ip", "fs"] { #expect(fm.isExecutableFile(atPath: "\(d)/usr/share/cluster/agents/\(a).sh"), "\(a)") }
    }

    @Test("every BindsTo=X of a unit becomes X.wants/, so a restarted totemd brings the daemons bound to it back")
    func restartWants() throws {
        let d = try Self.install()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let unitdir = "\(d)/usr/lib/systemd/system"
        for u in SystemdUnitTests.upper {
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: "\(unitdir)/totemd.service.wants/\(u)")
            #expect(link == "../\(u)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(unitdir)/totemd.service.wants").sorted() == SystemdUnitTests.upper.sorted())
        // fenced comes back with quorumd or groupd, whichever systemd restarts.
        for x in ["quorumd.service", "groupd.service"] {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(unitdir)/\(x).wants/fenced.service") == "../fenced.service")
        }
    }

    @Test("the installed units pass systemd-analyze verify, man pages included (when systemd-analyze is installed)")
    func verify() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else { return }
        let d = try Self.install()
        defer { try? FileManager.default.removeItem(atPath: d) }
        // The units name /usr/sbin; point them at the staged binaries so that verify can check ExecStart=.
        let units = d + "/verify"
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        let installed = "\(d)/usr/lib/systemd/system"
        for u in try FileManager.default.contentsOfDirectory(atPath: installed) where u.hasSuffix(".service") || u.hasSuffix(".target") {
            let text = try String(contentsOfFile: "\(installed)/\(u)", encoding: .utf8).replacingOccurrences(of: "/usr/sbin/", with: "\(d)/usr/sbin/")
            try text.write(toFile: "\(units)/\(u)", atomically: true, encoding: .utf8)
        }
        let all = try FileManager.default.contentsOfDirectory(atPath: units).sorted().map { "\(units)/\($0)" }
        let r = try ChildProcess.run("/usr/bin/systemd-analyze", ["verify"] + all, environment: ["MANPATH": "\(d)/usr/share/man"])
        // Bad values are only warnings with exit status 0, so any output counts as a failure.
        #expect(r.status == 0 && r.stderr.isEmpty && r.stdout.isEmpty, "\(r)")
    }

    @Test("an installed binary looks for the schema beside its prefix, never in the build tree")
    func schema() throws {
        let d = try Self.install(["--prefix", "/opt/cluster"])
        defer { try? FileManager.default.removeItem(atPath: d) }
        let validate = "\(d)/opt/cluster/sbin/ccs_config_validate"
        let example = "\(d)/opt/cluster/share/doc/cluster/examples/cluster.conf"
        let found = try ChildProcess.run(validate, ["-f", example])
        #expect(found.status == 0 && !found.stderr.contains("schema"), "\(found)")
        try FileManager.default.removeItem(atPath: "\(d)/opt/cluster/share/cluster/cluster.rng")
        let missing = try ChildProcess.run(validate, ["-f", example])
        #expect(missing.stderr.contains("looked in \(d)/opt/cluster/share/cluster/cluster.rng, "), "\(missing)")
        #expect(!missing.stderr.contains(TestBinaries.repositoryRoot + "/etc"), "\(missing)")
        let unit = try String(contentsOfFile: "\(d)/opt/cluster/lib/systemd/system/quorumd.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/opt/cluster/sbin/quorumd\n") && unit.contains("file:///opt/cluster/share/doc/cluster/"))
        let rgmanager = try String(contentsOfFile: "\(d)/opt/cluster/lib/systemd/system/rgmanager.service", encoding: .utf8)
        #expect(rgmanager.contains("Environment=CLUSTER_AGENT_DIR=/opt/cluster/share/cluster/agents\n"))
    }

    @Test("binaries that need the Swift toolchain's runtime are refused")
    func refusesDynamicRuntime() throws {
        let d = try makeTemporaryDirectory("install-test")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try ChildProcess.run("/bin/bash", [Self.script, "--destdir", d, "--bin-dir", TestBinaries.directory, "--no-strip"],
                                     environment: ["INSTALL_ALLOW_SWIFT_RUNTIME": ""])
        #expect(r.status != 0 && r.stderr.contains("links the Swift runtime dynamically"), "\(r)")
        #expect(!FileManager.default.fileExists(atPath: d + "/usr/sbin/totemd"))
    }

    @Test("--uninstall removes every file the install listed and keeps /etc/cluster")
    func uninstall() throws {
        let d = try Self.install()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try ChildProcess.run("/bin/bash", [Self.script, "--uninstall", "--destdir", d])
        #expect(r.status == 0, "\(r)")
        let left = FileManager.default.enumerator(atPath: d)?.compactMap { $0 as? String }.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(d)/\(path)", isDirectory: &isDirectory) && !isDirectory.boolValue
        } ?? []
        #expect(left.isEmpty, "\(left)")
        #expect(FileManager.default.fileExists(atPath: d + "/etc/cluster"))
    }
}
