// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPCProtocol
import ClusterTypes
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// Real totemd and groupd processes on loopback, with testcpg clients.
@Suite("groupd on loopback", .serialized)
struct GroupDaemonTests {
    func cluster(_ n: Int) throws -> LocalCluster {
        let c = try LocalCluster(nodes: n)
        c.upperDaemons = ["groupd"]
        try c.startAll()
        try c.waitForRing(Array(1...n))
        // groupd takes joins once it has synchronised with the others (before, a join gets "try again"); it says
        // READY then, and logs it.
        for k in 1...n {
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                let log = (try? String(contentsOfFile: "\(c.directory)/node\(k)/log/groupd.log", encoding: .utf8)) ?? "" // not written yet
                if log.contains("groupd ready:") { break }
                usleep(20_000)
            }
        }
        return c
    }

    func testcpg(_ c: LocalCluster, _ k: Int, group: String = "demo") throws -> ChildProcess {
        let p = try ChildProcess(TestBinaries.path("testcpg"), [group], environment: c.environment(k), stdin: true)
        try p.waitForOutput("joined \(group)")
        return p
    }

    /// Waits until `p` has printed a line containing `text`.
    func expectLine(_ p: ChildProcess, _ text: String, timeout: Duration = .seconds(20), _ c: LocalCluster? = nil) throws {
        do { try p.waitForOutput(text, timeout: timeout) } catch {
            throw ChildProcessError("\(error)\n\(c?.logs(lines: 12) ?? "")")
        }
    }

    @Test("on the runner: READY once synchronised, WATCHDOG pings, SIGHUP does not stop it, STOPPING and exit 0 on SIGTERM")
    func runnerLifecycle() throws {
        let c = try LocalCluster(nodes: 1)
        try c.startAll()
        try c.waitForRing([1])
        let life = try c.runnerLifecycle("groupd")
        #expect(life.ready.contains("STATUS=0 group(s), ring "), "\(life.first)")
        #expect(life.watchdogPings >= 2, "\(life.first)")
        #expect(life.runningAfterSIGHUP, "SIGHUP must not stop groupd")
        #expect(life.last.contains("STOPPING=1") && life.exitStatus == 0, "\(life.last)")
    }

    @Test("testcpg on 3 nodes: identical views and messages on every node; a killed client leaves with process down")
    func threeNodes() throws {
        let c = try cluster(3)
        let clients = try (1...3).map { try testcpg(c, $0) }
        let pids = clients.map(\.pid)
        for p in clients { try expectLine(p, "members [1:\(pids[0]) 2:\(pids[1]) 3:\(pids[2])]") }
        for (i, p) in clients.enumerated() {
            for m in 0..<5 { p.write("message \(i + 1).\(m)\n") }
        }
        for p in clients { try expectLine(p, "message 3.4") }
        for p in clients { while p.lines.filter({ $0.hasPrefix("DELIVER") }).count < 15 { usleep(10_000) } }
        let delivered = clients.map { $0.lines.filter { $0.hasPrefix("DELIVER") } }
        #expect(delivered[0].count == 15)
        #expect(delivered[0] == delivered[1] && delivered[1] == delivered[2])
        // Services listing shows the group on every node.
        let services = try c.tool(2, "cman_tool", ["services"])
        #expect(services.stdout.contains("demo") && services.stdout.contains("[1 2 3]"), "\(services)")
        let cpg = try c.tool(1, "cpgtool", ["--json"])
        #expect(cpg.stdout.contains("\"name\" : \"demo\""), "\(cpg.stdout)")
        // SIGKILL of one client: the others see it leave with reason process down.
        clients[2].signal(SIGKILL)
        _ = try clients[2].wait()
        for p in clients[0..<2] { try expectLine(p, "left [3:\(pids[2])(process down)]") }
        // A view change and a message after it are seen identically by the survivors.
        clients[0].write("after\n")
        for p in clients[0..<2] { try expectLine(p, ": after") }
        let tail = clients[0..<2].map { Array($0.lines.filter { $0.hasPrefix("CONFCHG") || $0.hasPrefix("DELIVER") }.suffix(2)) }
        #expect(tail[0] == tail[1])
    }

    @Test("a killed node's processes leave with node down; restarted, its clients rejoin")
    func nodeDownAndRejoin() throws {
        let c = try cluster(3)
        let a = try testcpg(c, 1, group: "g2")
        let b = try testcpg(c, 2, group: "g2")
        try expectLine(a, "members [1:\(a.pid) 2:\(b.pid)]", c)
        c.kill(2)
        try expectLine(a, "left [2:\(b.pid)(node down)]")
        _ = try? b.wait(timeout: .seconds(5)) // its groupd is gone; testcpg exits
        try c.start(2)
        try c.waitForRing([1, 2, 3])
        var again: ChildProcess?
        let deadline = ContinuousClock.now + .seconds(20)
        while again == nil && ContinuousClock.now < deadline {
            again = try? testcpg(c, 2, group: "g2") // groupd on node 2 may still be starting
            if again == nil { usleep(100_000) }
        }
        let b2 = try #require(again)
        try expectLine(a, "joined [2:\(b2.pid)(join)]")
        try expectLine(b2, "members [1:\(a.pid) 2:\(b2.pid)]")
        a.write("welcome back\n")
        try expectLine(b2, "welcome back")
    }

    @Test("the client library: join, members, multicast, events as an AsyncSequence, typed errors")
    func clientLibrary() async throws {
        let c = try cluster(2)
        let one = try GroupClient(instance: c.instance(1))
        let two = try GroupClient(instance: c.instance(2))
        try one.join("lib")
        #expect(throws: ClusterError.self) { try one.join("lib") }
        try two.join("lib")
        var seen = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while seen < 2 && ContinuousClock.now < deadline {
            seen = (try? one.members(of: "lib").count) ?? 0 // membership settles as the joins are ordered
            usleep(10_000)
        }
        #expect(seen == 2)
        #expect(try one.localNodeID() == NodeID(1))
        try two.multicast("lib", Array("over the ring".utf8))
        var got: String?
        for try await e in one.events {
            if case .delivery(_, _, let payload) = e {
                got = String(decoding: payload, as: UTF8.self)
                break
            }
        }
        #expect(got == "over the ring")
        do {
            try one.multicast("not-joined", [1])
            // One-way: no error comes back, and nothing is delivered.
        }
        let missing = try LocalCluster(nodes: 1)
        #expect(throws: ClusterError.self) { try GroupClient(instance: missing.instance(1)) }
    }

    @Test("a flood of odd-sized messages is flow-controlled, never dropped, and arrives in order; a client that reconnects under the same pid keeps its membership")
    func floodAndReconnect() throws {
        let c = try cluster(2)
        let receiver = try GroupClient(instance: c.instance(2))
        let sender = try GroupClient(instance: c.instance(1))
        try receiver.join("flood")
        try sender.join("flood")
        try waitForMembers(sender, "flood", count: 2)
        // 16,411 bytes: not a divisor of any queue limit, so queues fill part-way (this once stalled totemd for good).
        let count = 1_000
        let size = 16_411
        let senderThread = Thread {
            var payload = [UInt8](repeating: 0x5A, count: size)
            var i = 0
            let giveUp = ContinuousClock.now + .seconds(120)
            while i < count && ContinuousClock.now < giveUp {
                while (try? sender.nextEvent(timeoutMilliseconds: 0)) != nil {} // our own copies: read them, as clients must
                withUnsafeBytes(of: UInt32(i).bigEndian) { for k in 0..<4 { payload[k] = $0[k] } }
                do {
                    try sender.multicast("flood", payload)
                    i += 1
                } catch {
                    usleep(200) // try again: the ring is saturated
                }
            }
        }
        senderThread.start()
        var next = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while next < count && ContinuousClock.now < deadline {
            guard case .delivery(_, _, let p)? = try receiver.nextEvent(timeoutMilliseconds: 100) else { continue }
            let seq = Int(p.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            #expect(seq == next && p.count == size, "message \(seq) of \(p.count) bytes arrived, expected \(next)")
            if seq != next { break }
            next += 1
        }
        #expect(next == count, "\(next) of \(count) messages arrived\n\(c.logs(lines: 10))")

        // The receiver's process closes its handle and joins again at once, under the same pid.
        receiver.close()
        let again = try GroupClient(instance: c.instance(2))
        try joinRetrying(again, "flood")
        // Its own join comes first; after that the sender's next message must reach it.
        var joined = false
        let viewBy = ContinuousClock.now + .seconds(10)
        while !joined && ContinuousClock.now < viewBy {
            if case .configurationChange(_, let members, let j, _, _, _)? = try again.nextEvent(timeoutMilliseconds: 100) {
                joined = members.count == 2 && j.contains { $0.address.node == NodeID(2) }
            }
        }
        #expect(joined, "the reconnected client never saw its own join\n\(c.logs(lines: 10))")
        try sender.multicast("flood", Array("still here".utf8))
        var got: String?
        let end = ContinuousClock.now + .seconds(10)
        while got == nil && ContinuousClock.now < end {
            if case .delivery(_, _, let p)? = try again.nextEvent(timeoutMilliseconds: 100) { got = String(decoding: p, as: UTF8.self) }
        }
        #expect(got == "still here", "the reconnected client lost its membership\n\(c.logs(lines: 10))")
    }

    @Test("a saturating sender waits in its own send: groupd holds at most about 64 KiB for totemd, not 256 messages of 16 KiB")
    func senderHeldByBytes() throws {
        let c = try LocalCluster(nodes: 2)
        for k in 1...2 { try c.start(k) }
        try c.waitForRing([1, 2])
        for k in 1...2 { try c.start(k, "groupd", environment: ["CLUSTER_QUEUE_TRACE": "1"]) }
        let log = "\(c.directory)/node1/log/groupd.log"
        for k in 1...2 {
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if ((try? String(contentsOfFile: "\(c.directory)/node\(k)/log/groupd.log", encoding: .utf8)) ?? "").contains("groupd ready:") { break }
                usleep(20_000)
            }
        }
        let receiver = try GroupClient(instance: c.instance(2))
        let sender = try GroupClient(instance: c.instance(1))
        try joinRetrying(receiver, "bytes")
        try joinRetrying(sender, "bytes")
        try waitForMembers(sender, "bytes", count: 2)
        let receiving = Thread {
            let end = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < end { _ = try? receiver.nextEvent(timeoutMilliseconds: 10) }
        }
        receiving.start()
        // 16 KiB messages as fast as the ring takes them for 3 s: 256 of them are 4 MiB.
        let payload = [UInt8](repeating: 0x5A, count: 16_384)
        let end = ContinuousClock.now + .seconds(3)
        var refused = 0
        while ContinuousClock.now < end {
            while (try? sender.nextEvent(timeoutMilliseconds: 0)) != nil {}
            do { try sender.multicast("bytes", payload) } catch {
                refused += 1
                usleep(200)
            }
        }
        usleep(1_200_000) // the sampler's next line
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        func peaks(_ name: String) -> [Int] {
            text.split(separator: "\n").compactMap { line in
                guard let r = line.range(of: " \(name)=") else { return nil }
                return Int(line[r.upperBound...].prefix { $0 != " " }.split(separator: "/").last ?? "")
            }
        }
        let held = peaks("to_totemd_bytes")
        #expect(peaks("client_fc").contains(1) && refused > 0,
                "the sender never had to wait (\(refused) refusals): the ring was not saturated\n\(c.logs(lines: 10))")
        // The mark, plus the requests libqb hands over in the wake-up that crosses it.
        // The mark is `GroupDaemon.totemBacklogBytesMax`, 64 KiB.
        #expect(!held.isEmpty && held.max()! <= (64 << 10) + 4 * 16_400, "groupd held \(held.max() ?? -1) bytes for totemd")
    }

    /// Joins, retrying while groupd has not yet settled this process's previous membership ("try again").
    func joinRetrying(_ client: GroupClient, _ group: String) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do throws(ClusterError) {
                try client.join(group)
                return
            } catch {
                if ![.exists, .tryAgain, .busy].contains(error.code) || ContinuousClock.now >= deadline { throw error }
                usleep(10_000)
            }
        }
    }

    /// Waits until `client` sees `count` members in `group`.
    func waitForMembers(_ client: GroupClient, _ group: String, count: Int) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while (try? client.members(of: group).count) != count { // membership settles as the joins are ordered
            guard ContinuousClock.now < deadline else { throw ChildProcessError("\(group) never had \(count) members") }
            usleep(10_000)
        }
    }
}

