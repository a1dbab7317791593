// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ResourceCore
import Testing

@Suite("Resource trees and their order")
struct TreeTests {
    func build(_ rm: ResourceManagerConfig) -> ResourceManager.Forest {
        var b = ResourceManager.TreeBuilder(rules: Fixtures.rules, file: "cluster.conf")
        return b.build(rm)
    }

    func order(_ action: ResourceManager.Action, _ tree: ResourceManager.Resource) -> [String] {
        ResourceManager.Planner(rules: Fixtures.rules).plan(action, tree).map(\.description)
    }

    @Test("seed 001: defaults, inheritance from the service and from a parent without the attribute")
    func seedTree() throws {
        let forest = build(Fixtures.postgres)
        #expect(forest.diagnostics.isEmpty)
        let db = try #require(forest.service("database"))
        let dbnode = db.children[0]
        #expect(dbnode["autostart"] == "1" && dbnode["recovery"] == "restart" && dbnode["domain"] == nil)
        #expect(db["recovery"] == "relocate")
        #expect(dbnode.children.map(\.displayName) == ["ip:10.80.4.200/22", "drbd:dbdev"])
        #expect(dbnode.children[0]["nfslock"] == "0", "ip inherits service%nfslock")
        let fs = dbnode.children[1].children[0]
        #expect(fs.attributes.map(\.name) == ["name", "mountpoint", "device", "fstype", "nfslock", "options"])
        #expect(fs["nfslock"] == nil, "drbd has no nfslock, so fs inherits nothing")
        #expect(db.children[1].children[0]["service_name"] == "dbms")
        #expect(db.formattedTree().contains("      nfslock = \"(null)\";\n"))
    }

    @Test("seed 001: noop start and stop orderings")
    func seedOrder() throws {
        let db = try #require(build(Fixtures.postgres).service("database"))
        #expect(order(.start, db) == [
            "[start] service:database", "[start] service:dbnode", "[start] ip:10.80.4.200/22", "[start] drbd:dbdev",
            "[start] fs:dbfs", "[start] service:dbms", "[start] script:postgresql",
        ])
        #expect(order(.stop, db) == [
            "[stop] script:postgresql", "[stop] service:dbms", "[stop] fs:dbfs", "[stop] drbd:dbdev",
            "[stop] ip:10.80.4.200/22", "[stop] service:dbnode", "[stop] service:database",
        ])
    }

    @Test("typed levels: lvm 1 … script 9 to start, the stop table in reverse; untyped after, in file order")
    func levels() throws {
        var rm = ResourceManagerConfig()
        rm.services = [Fixtures.node("service", ["name": "s"], [
            Fixtures.node("apache", ["name": "web1"]),
            Fixtures.node("script", ["name": "sc", "file": "/bin/true"]),
            Fixtures.node("ip", ["address": "10.0.0.1/24"]),
            Fixtures.node("fs", ["name": "f1", "mountpoint": "/a", "device": "/dev/a"]),
            Fixtures.node("apache", ["name": "web2"]),
            Fixtures.node("lvm", ["name": "v", "vg_name": "vg"]),
            Fixtures.node("fs", ["name": "f2", "mountpoint": "/b", "device": "/dev/b"]),
        ])]
        let s = try #require(build(rm).service("s"))
        #expect(order(.start, s) == [
            "[start] service:s", "[start] lvm:v", "[start] fs:f1", "[start] fs:f2", "[start] ip:10.0.0.1/24", "[start] script:sc",
            "[start] apache:web1", "[start] apache:web2",
        ])
        // Stop: untyped first in reverse, then script (1), ip (2), fs (8, reverse order), lvm (9); the service last.
        #expect(order(.stop, s) == [
            "[stop] apache:web2", "[stop] apache:web1", "[stop] script:sc", "[stop] ip:10.0.0.1/24", "[stop] fs:f2", "[stop] fs:f1",
            "[stop] lvm:v", "[stop] service:s",
        ])
        #expect(ResourceManager.Planner(rules: Fixtures.rules).plan(.start, s, at: [0]).map(\.description) == ["[start] lvm:v"])
    }

    @Test("fs child table: fs and clusterfs before nfsexport to start, nfsexport first to stop; nfsclient untyped")
    func fsChildren() throws {
        var rm = ResourceManagerConfig()
        rm.services = [Fixtures.node("service", ["name": "nfs"], [
            Fixtures.node("fs", ["name": "top", "mountpoint": "/export", "device": "/dev/sdb1", "fsid": "7"], [
                Fixtures.node("nfsexport", ["name": "exp"], [Fixtures.node("nfsclient", ["name": "c1", "target": "*"])]),
                Fixtures.node("fs", ["name": "inner", "mountpoint": "/export/inner", "device": "/dev/sdc1"]),
            ]),
        ])]
        let s = try #require(build(rm).service("nfs"))
        #expect(order(.start, s) == ["[start] service:nfs", "[start] fs:top", "[start] fs:inner", "[start] nfsexport:exp", "[start] nfsclient:c1"])
        #expect(order(.stop, s) == ["[stop] nfsclient:c1", "[stop] nfsexport:exp", "[stop] fs:inner", "[stop] fs:top", "[stop] service:nfs"])
        #expect(s.children[0].children.map(\.type) == ["fs", "nfsexport"], "typed children in child-table order")
        let exp = s.children[0].children[1]
        #expect(exp["path"] == "/export" && exp["device"] == "/dev/sdb1" && exp["fsid"] == "7", "nfsexport inherits from its parent fs")
        #expect(exp.children[0]["path"] == "/export", "nfsclient inherits path from nfsexport, which inherited it")
    }

    @Test("refs resolve to <resources>; bad input is reported with its line and the other services still build")
    func refsAndErrors() throws {
        var rm = ResourceManagerConfig()
        rm.resources = [Fixtures.node("ip", ["address": "10.0.0.9/24"], line: 5), Fixtures.node("script", ["name": "httpd", "file": "/etc/init.d/httpd"], line: 6)]
        rm.services = [
            Fixtures.node("service", ["name": "good"], line: 10, [Fixtures.node("ip", ["ref": "10.0.0.9/24", "__independent_subtree": "1"], line: 11),
                                                                 Fixtures.node("script", ["ref": "httpd"], line: 12)]),
            Fixtures.node("service", ["name": "missing-ref"], line: 20, [Fixtures.node("script", ["ref": "nope"], line: 21)]),
            Fixtures.node("service", ["name": "no-agent"], line: 30, [Fixtures.node("frobnicator", ["name": "x"], line: 31)]),
            Fixtures.node("service", ["name": "forbidden"], line: 40, [Fixtures.node("ip", ["address": "10.0.0.10/24"], line: 41, [
                Fixtures.node("nfsclient", ["name": "c", "target": "*"], line: 42)])]),
            Fixtures.node("service", ["name": "twice"], line: 50, [Fixtures.node("ip", ["ref": "10.0.0.9/24"], line: 51)]),
            Fixtures.node("service", ["name": "required"], line: 60, [Fixtures.node("fs", ["name": "f", "device": "/dev/x"], line: 61)]),
        ]
        let forest = build(rm)
        #expect(forest.services.map(\.primaryValue) == ["good"])
        #expect(forest.brokenServices == ["missing-ref", "no-agent", "forbidden", "twice", "required"])
        let lines = forest.diagnostics.filter { $0.severity == .error }.map(\.line)
        #expect(lines == [21, 31, 42, 51, 61])
        #expect(forest.diagnostics.allSatisfy { $0.description.hasPrefix("cluster.conf:") })
        let good = try #require(forest.service("good"))
        #expect(good.children[0].options.independentSubtree && good.children[0].reference == "10.0.0.9/24")
        #expect(good.children[1]["service_name"] == "good")
    }

    @Test("metadata durations: seconds, suffixes, and refusals")
    func durations() {
        #expect(Rule.parseDuration("20") == .seconds(20))
        #expect(Rule.parseDuration("20s") == .seconds(20))
        #expect(Rule.parseDuration("1m") == .seconds(60))
        #expect(Rule.parseDuration("1h") == .seconds(3600))
        #expect(Rule.parseDuration("500ms") == .milliseconds(500))
        #expect(Rule.parseDuration("x") == nil && Rule.parseDuration("5 parsecs") == nil)
    }
}
