// SPDX-License-Identifier: Apache-2.0
import Foundation
import ResourceAgents
import ResourceCore
import Testing
import TestSupportKit

/// The rgmanager-vocabulary wrappers against stand-ins for resource-agents' agents (in a scratch OCF_ROOT) that
/// record the action and the OCF_RESKEY_* they were given: the translation is what is tested, not the real agents
/// (which need root and devices).
@Suite("Delegation to resource-agents")
struct DelegationTests {
    /// A scratch OCF root whose heartbeat agents write "ACTION" and their OCF_RESKEY_* lines to `record`.
    func ocfRoot(_ agents: [String]) throws -> (root: String, record: String) {
        let root = try makeTemporaryDirectory("rm-ocfroot")
        let dir = root + "/resource.d/heartbeat"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let record = root + "/record"
        for a in agents {
            try Agents.writeExecutable("#!/bin/sh\n{ echo \"$1\"; env | grep '^OCF_RESKEY_' | sort; } > \(record)\nexit 0\n", to: dir + "/" + a)
        }
        return (root, record)
    }

    func run(_ type: String, _ attrs: [(String, String)], action: String, root: String) -> AgentResult {
        let runner = AgentRunner(locator: AgentLocator(agentDirectory: Agents.shipped, ocfRoot: root))
        let r = ResourceManager.Resource(type: type, primaryValue: attrs[0].1, attributes: attrs.map { .init($0.0, $0.1) })
        return runner.run(AgentCall(resource: r, action: action, timeout: .seconds(10)), output: .capture).result
    }

    func recorded(_ path: String) -> [String] { Agents.read(path).split(separator: "\n").map(String.init) }

    @Test("ip: address A/N becomes ip and cidr_netmask; status is monitor")
    func ip() throws {
        let (root, record) = try ocfRoot(["IPaddr2"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(run("ip", [("address", "10.0.0.5/24"), ("monitor_link", "1")], action: "status", root: root) == .exited(0))
        let lines = recorded(record)
        #expect(lines.first == "monitor")
        #expect(lines.contains("OCF_RESKEY_ip=10.0.0.5") && lines.contains("OCF_RESKEY_cidr_netmask=24"))
    }

    @Test("fs, netfs, clusterfs: mountpoint becomes directory; booleans and defaults translated")
    func filesystems() throws {
        let (root, record) = try ocfRoot(["Filesystem"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(run("fs", [("name", "d"), ("mountpoint", "/srv/d"), ("device", "/dev/sdb1"), ("force_unmount", "1"), ("force_fsck", "yes")],
                    action: "start", root: root) == .exited(0))
        var lines = recorded(record)
        #expect(lines.first == "start")
        #expect(lines.contains("OCF_RESKEY_directory=/srv/d") && lines.contains("OCF_RESKEY_force_unmount=true") && lines.contains("OCF_RESKEY_run_fsck=force"))
        #expect(run("netfs", [("name", "n"), ("mountpoint", "/mnt/n"), ("host", "filer"), ("export", "/vol/n")], action: "start", root: root) == .exited(0))
        lines = recorded(record)
        #expect(lines.contains("OCF_RESKEY_device=filer:/vol/n") && lines.contains("OCF_RESKEY_fstype=nfs"))
        #expect(run("clusterfs", [("name", "g"), ("mountpoint", "/g"), ("device", "/dev/vg/g")], action: "start", root: root) == .exited(0))
        #expect(recorded(record).contains("OCF_RESKEY_fstype=gfs2"))
    }

    @Test("nfsclient: target becomes clientspec, path directory, an fsid is derived; postgres-8: pgdata from -D, pgport from -p, pghost from -h, socketdir from -k, Debian's pg_ctl")
    func nfsAndPostgres() throws {
        let (root, record) = try ocfRoot(["exportfs", "pgsql"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(run("nfsclient", [("name", "c"), ("target", "10.0.0.0/24"), ("path", "/export")], action: "start", root: root) == .exited(0))
        let lines = recorded(record)
        #expect(lines.contains("OCF_RESKEY_clientspec=10.0.0.0/24") && lines.contains("OCF_RESKEY_directory=/export") && lines.contains("OCF_RESKEY_options=rw"))
        #expect(lines.contains { $0.hasPrefix("OCF_RESKEY_fsid=") && $0.count > "OCF_RESKEY_fsid=".count })
        #expect(run("postgres-8", [("name", "db"), ("postmaster_options", "-D /srv/pgdata -p 5433"), ("postmaster_user", "postgres")],
                    action: "stop", root: root) == .exited(0))
        let pg = recorded(record)
        #expect(pg.first == "stop" && pg.contains("OCF_RESKEY_pgdata=/srv/pgdata") && pg.contains("OCF_RESKEY_pgdba=postgres"))
        #expect(pg.contains("OCF_RESKEY_pgport=5433") && !pg.contains { $0.hasPrefix("OCF_RESKEY_socketdir=") }, "\(pg)")
        // A path with "-p" or "-k" in it is not an option; -k names the socket directory.
        #expect(run("postgres-8", [("name", "db"), ("postmaster_options", "-D /srv/lc-pgdata-k-h -k /run/pg -h 10.0.0.7")], action: "stop", root: root) == .exited(0))
        let pg2 = recorded(record)
        #expect(pg2.contains("OCF_RESKEY_pgdata=/srv/lc-pgdata-k-h") && pg2.contains("OCF_RESKEY_socketdir=/run/pg") && pg2.contains("OCF_RESKEY_pghost=10.0.0.7")
                && !pg2.contains { $0.hasPrefix("OCF_RESKEY_pgport=") }, "\(pg2)")
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/pg_ctl"),
           let newest = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted(by: { $0.compare($1, options: .numeric) == .orderedAscending }).last {
            #expect(pg2.contains("OCF_RESKEY_pgctl=/usr/lib/postgresql/\(newest)/bin/pg_ctl"), "\(pg2)")
        }
    }

    @Test("a delegated agent that is not installed: start and status say not installed (5), stop succeeds")
    func notInstalled() throws {
        let (root, _) = try ocfRoot([])
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(run("apache", [("name", "web")], action: "start", root: root) == .exited(5))
        #expect(run("apache", [("name", "web")], action: "status", root: root) == .exited(5))
        #expect(run("apache", [("name", "web")], action: "stop", root: root) == .exited(0))
    }
}
