// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes
import ResourceCore
import Testing

/// A reload applied (rgmanager's condstop/condstart) and the service lock (clusvcadm -l/-u).
@Suite("rgmanager core: reload and lock")
struct ReconfigurationTests {
    typealias RM = ResourceManager
    let n1 = NodeID(1), n2 = NodeID(2), n3 = NodeID(3)

    static func node(_ type: String, _ attrs: KeyValuePairs<String, String>, _ children: [ResourceNode] = []) -> ResourceNode {
        Fixtures.node(type, attrs, children)
    }

    /// service:db { ip, fs:data { nfsexport:exp { nfsclient:c1 } }, script:pg }
    static func db(fsOptions: String = "noatime", ip: String = "10.0.0.5/24", script: Bool = true, extraIP: Bool = false,
                   recovery: String = "restart") -> ResourceNode {
        var children = [
            node("ip", ["address": ip]),
            node("fs", ["name": "data", "mountpoint": "/srv/data", "device": "/dev/vdb", "options": fsOptions], [
                node("nfsexport", ["name": "exp"], [node("nfsclient", ["name": "c1", "target": "*"])]),
            ]),
        ]
        if script { children.append(node("script", ["name": "pg", "file": "/etc/init.d/pg"])) }
        if extraIP { children.append(node("ip", ["address": "10.0.0.6/24"])) }
        return node("service", ["name": "db", "recovery": recovery], children)
    }

    static func tree(_ n: ResourceNode) -> RM.Resource { TestCluster.specs([n])[0].tree }

    func names(_ steps: [RM.Step]) -> [String] { steps.map(\.description) }

    @Test("a changed resource stops with its subtree in the old tree's stop order and starts in the new tree's order; the rest is untouched")
    func changedSubtree() {
        let r = RM.Reconfiguration.between(Self.tree(Self.db()), Self.tree(Self.db(fsOptions: "sync")), rules: Fixtures.rules)
        #expect(names(r.stop) == ["[stop] nfsclient:c1", "[stop] nfsexport:exp", "[stop] fs:data"])
        #expect(names(r.start) == ["[start] fs:data", "[start] nfsexport:exp", "[start] nfsclient:c1"])
    }

    @Test("an added resource only starts, a removed one only stops; a changed ip restarts only itself (new address)")
    func addedRemovedChanged() {
        let base = Self.tree(Self.db())
        let added = RM.Reconfiguration.between(base, Self.tree(Self.db(extraIP: true)), rules: Fixtures.rules)
        #expect(added.stop.isEmpty && names(added.start) == ["[start] ip:10.0.0.6/24"])
        let removed = RM.Reconfiguration.between(base, Self.tree(Self.db(script: false)), rules: Fixtures.rules)
        #expect(names(removed.stop) == ["[stop] script:pg"] && removed.start.isEmpty)
        // A new primary value is another resource: the old address stops, the new one starts.
        let moved = RM.Reconfiguration.between(base, Self.tree(Self.db(ip: "10.0.0.9/24")), rules: Fixtures.rules)
        #expect(names(moved.stop) == ["[stop] ip:10.0.0.5/24"] && names(moved.start) == ["[start] ip:10.0.0.9/24"])
    }

    @Test("the service's own attributes are policy: changing recovery calls no agent")
    func rootOnly() {
        let r = RM.Reconfiguration.between(Self.tree(Self.db()), Self.tree(Self.db(recovery: "relocate")), rules: Fixtures.rules)
        #expect(r.isEmpty)
    }

    @Test("reload on every node: an added service starts once, a removed one stops on its owner and is forgotten, a changed running one restarts only the changed resource, an unchanged one is untouched")
    func reloadEverywhere() {
        let old = [Self.db(), TestCluster.service("web"), TestCluster.service("old")]
        var c = TestCluster(nodes: 3, services: old)
        c.view([1, 2, 3])
        let dbOwner = c.record("db")!.owner!, webOwner = c.record("web")!.owner!, oldOwner = c.record("old")!.owner!
        c.log = []
        c.resourcesCalled = []
        let new = [Self.db(fsOptions: "sync"), TestCluster.service("web"), TestCluster.service("fresh")]
        for n in 1...3 { c.reconfigure(n, new, version: 2) }
        // removed: stopped on its owner, then gone from every table
        #expect(c.log.contains("n\(oldOwner) stop script:old-app") && c.log.contains("n\(oldOwner) stop service:old"))
        #expect(c.holders("old").isEmpty && (1...3).allSatisfy { c.record("old", at: $0) == nil })
        // added: started exactly once
        #expect(c.record("fresh")?.state == .started && c.holders("fresh").count == 1)
        #expect(c.log.filter { $0.hasSuffix("start script:fresh-app") }.count == 1)
        // changed: only fs:data and its subtree, on the owner, old options to stop and new ones to start
        let dbCalls = c.resourcesCalled.filter { $0.resource.type != "service" && $0.resource.primaryValue != "fresh-app" && $0.resource.primaryValue != "old-app" }
        #expect(dbCalls.map { "n\($0.node) \($0.action.rawValue) \($0.resource.displayName)" } == [
            "n\(dbOwner) stop nfsclient:c1", "n\(dbOwner) stop nfsexport:exp", "n\(dbOwner) stop fs:data",
            "n\(dbOwner) start fs:data", "n\(dbOwner) start nfsexport:exp", "n\(dbOwner) start nfsclient:c1",
        ])
        #expect(dbCalls.first { $0.action == .stop && $0.resource.type == "fs" }?.resource["options"] == "noatime")
        #expect(dbCalls.first { $0.action == .start && $0.resource.type == "fs" }?.resource["options"] == "sync")
        #expect(c.record("db")?.owner == dbOwner && c.record("db")?.state == .started && c.record("db")?.restarts == 0)
        // unchanged: no agent call at all
        #expect(!c.log.contains { $0.contains("web") })
        #expect(c.record("web")?.owner == webOwner && c.record("web")?.state == .started)
        let agreed = c.agreed
        #expect(agreed)
        #expect((1...3).allSatisfy { c.cores[NodeID(UInt32($0))]!.memberConfigVersion.values.allSatisfy { $0 == 2 } })
        // status checks run again after the reconfiguration
        c.log = []
        c.advance(.seconds(21))
        #expect(c.log.contains("n\(dbOwner) status ip:10.0.0.5/24"))
    }

    @Test("while members run different configurations, an added service is not placed and cannot be enabled; a removed one is stopped by its owner and not started elsewhere")
    func mixedVersions() {
        var c = TestCluster(nodes: 3, services: [TestCluster.service("a"), TestCluster.service("b")])
        c.view([1, 2, 3])
        let bOwner = Int(c.record("b")!.owner!.rawValue)
        #expect(bOwner == 2, "a goes to node 1, b to the least loaded node 2")
        let new = [TestCluster.service("a"), TestCluster.service("c")]
        c.reconfigure(1, new, version: 7)  // node 1 is the coordinator
        #expect(c.record("c", at: 1)?.state == .stopped && c.holders("c").isEmpty, "node 2 and 3 do not define c yet")
        #expect(c.request(1, 11, .enable(service: "c", target: nil))
            == .refused("service:c is not in the configuration of node 2 (config version 0); reload cluster.conf there first"))
        // the owner of b reloads: it stops b, reports it disabled, and nobody starts it again
        c.reconfigure(bOwner, new, version: 7)
        #expect(c.holders("b").isEmpty)
        let others = (1...3).filter { $0 != 1 && $0 != bOwner }
        for n in others {
            #expect(c.record("b", at: n)?.state == .disabled && c.record("b", at: n)?.owner == nil, "node \(n) still defines b")
        }
        for n in others { c.reconfigure(n, new, version: 7) }
        #expect(c.record("c")?.state == .started && c.holders("c").count == 1)
        #expect((1...3).allSatisfy { c.record("b", at: $0) == nil })
        let agreed = c.agreed
        #expect(agreed)
    }

    @Test("a changed resource that fails to start recovers the whole service by its policy; one that fails to stop marks the service failed")
    func reloadFailures() {
        var c = TestCluster(nodes: 2, services: [Self.db()])
        c.view([1, 2])
        let owner = c.record("db")!.owner!
        c.failing = ["n\(owner) start ip:10.0.0.9/24"]
        for n in 1...2 { c.reconfigure(n, [Self.db(ip: "10.0.0.9/24")], version: 2) }
        #expect(c.record("db")?.state == .started && c.record("db")?.owner != owner, "restart in place fails too, so it relocates")
        #expect(c.holders("db").count == 1)

        var d = TestCluster(nodes: 2, services: [Self.db()])
        d.view([1, 2])
        let o = d.record("db")!.owner!
        d.failing = ["n\(o) stop fs:data"]
        for n in 1...2 { d.reconfigure(n, [Self.db(fsOptions: "sync")], version: 2) }
        #expect(d.record("db")?.state == .failed && d.record("db")?.owner == o && d.holders("db") == [Int(o.rawValue)])
    }

    @Test("lock: a locked node starts nothing (placement, enable -m, relocate -m, restart in place), running services stay; unlock and quorum loss end it")
    func lock() {
        let domain = RM.Domain(name: "d", ordered: true, restricted: false, noFailback: true, members: [(n1, 1), (n2, 2), (n3, 3)])
        var c = TestCluster(nodes: 3, services: [TestCluster.service("www", ["domain": "d"]), TestCluster.service("db", ["domain": "d", "autostart": "0"])],
                            domains: [domain])
        c.view([1, 2, 3])
        #expect(c.record("www")?.owner == n1)
        c.feed(n2, .lock(true))
        c.settle()
        #expect(c.cores[n2]!.locked && (1...3).allSatisfy { c.cores[NodeID(UInt32($0))]!.memberLocked[n2] == true })
        #expect(c.notices.contains("n2: Services locked (clusvcadm -l): no service starts on this node"))
        #expect(c.record("www")?.owner == n1 && c.holders("www") == [1], "running services are not touched")
        #expect(c.request(1, 1, .relocate(service: "www", target: n2))
            == .refused("member 2 is locked (clusvcadm -l): it starts no service until unlocked (clusvcadm -u)"))
        #expect(c.request(3, 2, .enable(service: "db", target: n2))
            == .refused("member 2 is locked (clusvcadm -l): it starts no service until unlocked (clusvcadm -u)"))
        // a relocation without a member skips the locked node (domain order would pick it)
        #expect(c.request(1, 3, .relocate(service: "www", target: nil)) == .accepted)
        #expect(c.record("www")?.owner == n3 && c.holders("www") == [3])
        #expect(c.request(1, 4, .enable(service: "db", target: nil)) == .accepted)
        #expect(c.record("db")?.owner == n1)
        // lock the owner of www: a restart in place is refused, and a failed check relocates instead of restarting
        c.feed(n3, .lock(true))
        c.settle()
        #expect(c.request(1, 5, .restart(service: "www"))
            == .refused("member 3 is locked (clusvcadm -l): it starts no service until unlocked (clusvcadm -u)"))
        c.failing = ["n3 status script:www-app"]
        c.advance(.seconds(31))
        #expect(c.record("www")?.owner == n1 && c.holders("www") == [1])
        #expect(c.notices.contains("n3: service:www would restart in place, but this node is locked (clusvcadm -l); relocating"))
        // unlock
        c.feed(n2, .lock(false))
        c.settle()
        #expect(!c.cores[n2]!.locked && c.cores[n1]!.memberLocked[n2] == false)
        #expect(c.request(1, 6, .relocate(service: "www", target: n2)) == .accepted)
        #expect(c.record("www")?.owner == n2)
        // quorum loss resets node 3's lock (as rgmanager: "once the cluster quorum is dissolved")
        c.feed(n3, .quorum(false))
        #expect(!c.cores[n3]!.locked)
        #expect(c.notices.contains("n3: Quorum lost: the service lock (clusvcadm -l) is released"))
    }

    @Test("a node locked while a placement to it is in flight does not start the service: it hands it back")
    func lockRace() {
        var c = TestCluster(nodes: 2, services: [TestCluster.service("www", ["autostart": "0"])])
        c.view([1, 2])
        c.feed(n1, .request(id: 3, .enable(service: "www", target: n2)))
        c.feed(n2, .lock(true))  // its `about` is agreed after the enable, so the coordinator places www on node 2 first
        c.settle()
        #expect(c.replies[3] == .accepted)
        #expect(!c.log.contains("n2 start script:www-app"))
        #expect(c.notices.contains("n2: service:www is not started: this node is locked (clusvcadm -l)"))
        #expect(c.record("www")?.owner == n1 && c.record("www")?.state == .started && c.holders("www") == [1])
    }
}
