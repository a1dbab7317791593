// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ResourceCore
import Testing

@Suite("rgmanager core: the service table, placement and recovery")
struct StateMachineTests {
    typealias RM = ResourceManager
    let n1 = NodeID(1), n2 = NodeID(2), n3 = NodeID(3)

    func ordered(_ noFailback: Bool = false, restricted: Bool = false) -> RM.Domain {
        RM.Domain(name: "d", ordered: true, restricted: restricted, noFailback: noFailback, members: [(n3, 1), (n2, 2)])
    }

    @Test("a quorate cluster starts each service once, on its ordered domain's first member; every table agrees")
    func startsOnPreferred() {
        var c = TestCluster(nodes: 3, services: [TestCluster.service("www", ["domain": "d"]), TestCluster.service("db")], domains: [ordered()])
        c.view([1, 2, 3])
        #expect(c.record("www")?.state == .started && c.record("www")?.owner == n3)
        #expect(c.holders("www") == [3])
        #expect(c.record("db")?.state == .started && c.holders("db").count == 1)
        #expect(c.agreed)
        #expect(c.log.filter { $0.hasSuffix("script:www-app") } == ["n3 start script:www-app"])
    }

    @Test("autostart=0 leaves a service disabled until enabled; enable -m picks the member")
    func autostartAndEnable() {
        var c = TestCluster(nodes: 2, services: [TestCluster.service("www", ["autostart": "0"])])
        c.view([1, 2])
        #expect(c.record("www")?.state == .disabled && c.holders("www").isEmpty)
        #expect(c.request(1, 7, .enable(service: "www", target: n2)) == .accepted)
        #expect(c.record("www")?.owner == n2 && c.record("www")?.state == .started)
        #expect(c.request(2, 8, .disable(service: "www")) == .accepted)
        #expect(c.record("www")?.state == .disabled && c.holders("www").isEmpty && c.record("www")?.lastOwner == n2)
        #expect(c.request(1, 9, .enable(service: "nope", target: nil)) == .refused("service:nope does not exist"))
    }

    @Test("relocate moves a service away; freeze refuses requests and stops checks until unfrozen")
    func relocateAndFreeze() {
        var c = TestCluster(nodes: 3, services: [TestCluster.service("www")])
        c.view([1, 2, 3])
        let first = c.record("www")!.owner!
        #expect(c.request(1, 1, .relocate(service: "www", target: nil)) == .accepted)
        let second = c.record("www")!.owner!
        #expect(second != first && c.record("www")?.state == .started && c.holders("www") == [Int(second.rawValue)])
        #expect(c.request(2, 2, .freeze(service: "www")) == .accepted)
        #expect(c.record("www")?.flags == [.frozen])
        #expect(c.request(2, 3, .relocate(service: "www", target: nil)) == .refused("service:www is frozen"))
        c.failing = ["* status script:www-app"]
        c.advance(.seconds(120))
        #expect(c.record("www")?.restarts == 0, "no status checks while frozen")
        #expect(c.request(2, 4, .unfreeze(service: "www")) == .accepted)
    }

    @Test("a failed status check restarts in place; past max_restarts within the window it relocates")
    func restartThenRelocate() {
        var c = TestCluster(nodes: 2, services: [TestCluster.service("www", ["max_restarts": "1", "restart_expire_time": "600"])])
        c.view([1, 2])
        let owner = c.record("www")!.owner!
        c.failing = ["n\(owner) status script:www-app"]
        c.advance(.seconds(31))
        #expect(c.record("www")?.restarts == 1 && c.record("www")?.owner == owner && c.record("www")?.state == .started)
        #expect(c.log.contains("n\(owner) stop script:www-app") && c.log.last == "n\(owner) start script:www-app")
        c.advance(.seconds(31))
        #expect(c.record("www")?.owner != owner && c.record("www")?.state == .started, "the second failure within 600 s relocates")
        #expect(c.holders("www").count == 1)
    }

    @Test("recovery=disable: a failed check stops and disables the service")
    func disablePolicy() {
        var c = TestCluster(nodes: 2, services: [TestCluster.service("www", ["recovery": "disable"])])
        c.view([1, 2])
        c.failing = ["* status script:www-app"]
        c.advance(.seconds(31))
        #expect(c.record("www")?.state == .disabled && c.holders("www").isEmpty)
    }

    @Test("a start that fails everywhere leaves the service stopped, never started twice")
    func startFailsEverywhere() {
        var c = TestCluster(nodes: 3, services: [TestCluster.service("www")])
        c.failing = ["* start script:www-app"]
        c.view([1, 2, 3])
        #expect(c.record("www")?.state == .stopped && c.holders("www").isEmpty)
        #expect(c.log.filter { $0.contains(" start script:www-app") }.count == 3, "tried once on each member: \(c.log)")
    }

    @Test("a failed owner's service waits for fencing, then starts elsewhere")
    func waitsForFencing() {
        var c = TestCluster(nodes: 3, services: [TestCluster.service("www", ["domain": "d"])], domains: [ordered()])
        c.view([1, 2, 3])
        #expect(c.record("www")?.owner == n3)
        c.crash(3)
        c.view([1, 2])
        #expect(c.record("www")?.owner == n3 && c.record("www")?.waitingFor == [n3], "not moved before fencing")
        #expect(c.holders("www").isEmpty)
        for n in [n1, n2] { c.feed(n, .fenced(n3)) }
        c.settle()
        #expect(c.record("www")?.owner == n2 && c.record("www")?.state == .started && c.record("www")?.lastOwner == n3)
        #expect(c.agreed)
    }

    @Test("failback: the ordered domain's first member takes the service back when it returns, unless nofailback")
    func failback() {
        for noFailback in [false, true] {
            var c = TestCluster(nodes: 3, services: [TestCluster.service("www", ["domain": "d"])], domains: [ordered(noFailback)])
            c.view([1, 2])
            #expect(c.record("www")?.state == .stopped, "node 3 is configured and absent: nothing moves until it is fenced")
            c.feed(n1, .fenced(n3))
            c.settle()
            #expect(c.record("www")?.owner == n2)
            c.view([1, 2, 3])
            #expect(c.record("www")?.owner == (noFailback ? n2 : n3), "nofailback=\(noFailback)")
            #expect(c.holders("www").count == 1)
        }
    }

    @Test("a node that loses quorum stops its services and says so; a quorate member takes them, never both at once")
    func quorumLoss() {
        var c = TestCluster(nodes: 2, services: [TestCluster.service("www")])
        c.view([1, 2])
        let owner = Int(c.record("www")!.owner!.rawValue)
        let other = 3 - owner
        c.feed(NodeID(UInt32(owner)), .quorum(false))
        c.settle()
        #expect(c.holders("www") == [other], "stopped on the inquorate node, then placed on the quorate one")
        #expect(c.record("www")?.lastOwner == NodeID(UInt32(owner)) && c.agreed)
        #expect(c.log.firstIndex(of: "n\(owner) stop service:www")! < c.log.firstIndex(of: "n\(other) start service:www")!)
        // The inquorate node is not a candidate: a relocation finds nowhere to go, and the service stays stopped
        // until enabled (rgmanager would start it again in place).
        #expect(c.request(other, 1, .relocate(service: "www", target: nil)) == .accepted)
        #expect(c.holders("www").isEmpty && c.record("www")?.state == .stopped && c.record("www")?.held == true)
        #expect(c.request(other, 2, .enable(service: "www", target: nil)) == .accepted)
        #expect(c.holders("www") == [other])
    }

    @Test("leave (SIGTERM): the node stops its services, the table agrees, another member starts them; then it may leave")
    func leaveStopsAndHandsOver() {
        var c = TestCluster(nodes: 3, services: [TestCluster.service("www", ["domain": "d"])], domains: [ordered()])
        c.view([1, 2, 3])
        #expect(c.record("www")?.owner == n3)
        #expect(c.cores[n3]?.leaveState == .notLeaving)
        c.feed(n3, .leave)
        #expect(c.cores[n3]?.leaveState == .stopping, "its stop is still running")
        c.settle()
        #expect(c.holders("www") == [2], "stopped on the leaving node, started on the next of its domain")
        #expect(c.record("www")?.lastOwner == n3 && c.agreed)
        #expect(c.log.firstIndex(of: "n3 stop service:www")! < c.log.firstIndex(of: "n2 start service:www")!)
        #expect(c.cores[n3]?.leaveState == .ready)
        // A leaving node takes no new work and says why.
        #expect(c.request(3, 1, .enable(service: "www", target: nil)) == .refused("rgmanager on this node is shutting down"))
        #expect(c.request(1, 2, .relocate(service: "www", target: n3)) == .accepted)
        #expect(c.holders("www").count == 1 && c.holders("www") != [3], "never placed on a leaving node")
    }

    @Test("leave with a stop that fails: the node may not leave cleanly, and nobody else starts the service")
    func leaveWithFailedStop() {
        var c = TestCluster(nodes: 3, services: [TestCluster.service("www", ["domain": "d"])], domains: [ordered()])
        c.view([1, 2, 3])
        c.failing.insert("n3 stop script:www-app")
        c.feed(n3, .leave)
        c.settle()
        #expect(c.cores[n3]?.leaveState == .stopFailed(["www"]))
        #expect(c.holders("www") == [3] && c.record("www")?.state == .failed && c.record("www")?.owner == n3)
    }

    @Test("a restart's stop that fails before this node's own 'recovering' is delivered still leaves the service failed")
    func stopFailsBeforeOwnChangeDelivered() {
        var c = TestCluster(nodes: 2, services: [TestCluster.service("www")])
        c.view([1, 2])
        let owner = c.record("www")!.owner!
        c.failing = ["n\(owner) stop script:www-app"]
        c.feed(owner, .request(id: 1, .restart(service: "www")))
        // Deliver until the owner begins the restart, then let its agent calls finish before anything else arrives:
        // the failed stop's "failed" comes while the owner's "recovering" (same generation) is still on the wire.
        var steps = 0
        while c.calls.isEmpty, !c.wire.isEmpty, steps < 100 {
            steps += 1
            let m = c.wire.removeFirst()
            for n in c.members { c.feed(n, .delivered(from: m.from, bytes: m.bytes)) }
        }
        #expect(!c.calls.isEmpty && !c.wire.isEmpty, "the restart's stop did not begin with its change on the wire")
        while !c.calls.isEmpty {
            let (n, call) = c.calls.removeFirst()
            let key = "n\(n) \(call.action.rawValue) \(call.resource.displayName)"
            c.feed(n, .agentFinished(id: call.id, succeeded: !c.failing.contains(key)))
        }
        c.settle()
        #expect(c.record("www")?.state == .failed && c.record("www")?.owner == owner)
        #expect(c.holders("www") == [Int(owner.rawValue)] && c.agreed)
    }

    @Test("exclusive: never on a node running another service; hard depend stops with its dependency")
    func exclusiveAndDepend() {
        var c = TestCluster(nodes: 2, services: [TestCluster.service("a"), TestCluster.service("big", ["exclusive": "1"]),
                                                 TestCluster.service("child", ["depend": "service:a"])])
        c.view([1, 2])
        let big = c.record("big")!.owner!
        #expect(c.record("a")?.owner != big && c.record("child")?.owner != big)
        #expect(c.record("child")?.state == .started)
        #expect(c.request(1, 1, .disable(service: "a")) == .accepted)
        #expect(c.record("child")?.state == .stopped && c.holders("child").isEmpty, "hard dependency gone: stopped")
        #expect(c.request(1, 2, .enable(service: "a", target: nil)) == .accepted)
        #expect(c.record("child")?.state == .started)
    }

    @Test("messages round-trip, and every truncation or corruption is refused without a trap")
    func codec() throws {
        var rec = RM.Record(state: .started, owner: n2)
        rec.intent = .relocate(n3)
        rec.failedOn = [n1]
        rec.waitingFor = [n3]
        rec.flags = [.frozen]
        let messages: [RM.Message] = [
            .sync(view: .init(ring: 9, number: 2), records: ["a": rec, "b": RM.Record(state: .disabled)], active: ["a"], fenced: [n3], quorate: true,
                  about: RM.MemberAbout(locked: true, configVersion: 12, services: ["a", "b"])),
            .quorum(view: .init(ring: 9, number: 2), quorate: false),
            .about(view: .init(ring: 9, number: 3), RM.MemberAbout(locked: false, configVersion: 13, services: ["a", "c"])),
            .change(view: .init(ring: 9, number: 2), service: "a", generation: 7, record: rec),
            .admin(view: .init(ring: 9, number: 2), origin: n1, requestID: 5, request: .relocate(service: "a", target: n3), time: 1_700_000_000),
        ]
        for m in messages {
            let bytes = m.encode()
            #expect(try RM.Message.decode(bytes) == m)
            for cut in 0..<bytes.count { #expect(throws: (any Error).self) { try RM.Message.decode(Array(bytes[0..<cut])) } }
        }
        var c = TestCluster(nodes: 1, services: [TestCluster.service("www")])
        c.view([1])
        c.feed(n1, .delivered(from: n1, bytes: [1, 2, 3]))
        #expect(c.notices.last == "n1: dropped an undecodable message from node 1")
    }
}
