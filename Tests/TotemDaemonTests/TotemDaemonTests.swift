// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPC
import TotemLink
import ClusterIPCProtocol
import ClusterTypes
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// Real totemd processes on loopback: ordering, SIGKILL, restart, clean leave.
@Suite("totemd on loopback", .serialized)
struct TotemDaemonTests {
    /// Opens channel 100 on every node, has each node multicast `perNode` messages, and returns what each node
    /// delivered (as "sender:index" strings), once every node has seen all of them.
    func exchange(_ cluster: LocalCluster, nodes: [Int], perNode: Int, timeout: Duration = .seconds(20)) throws -> [[String]] {
        let clients = try nodes.map { k in try TotemClient(instance: cluster.instance(k)) }
        for c in clients { _ = try c.open(channels: [100]) }
        for (i, c) in clients.enumerated() {
            for m in 0..<perNode {
                let payload = Array("\(nodes[i]):\(m)".utf8)
                while true {
                    let sent: Bool
                    do {
                        try c.multicast(channel: 100, payload: payload)
                        sent = true
                    } catch {
                        guard error == .tryAgain else { throw error }
                        sent = false
                    }
                    if sent { break }
                    usleep(1_000)
                }
            }
        }
        let total = nodes.count * perNode
        var seen = Array(repeating: [String](), count: nodes.count)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && seen.contains(where: { $0.count < total }) {
            for (i, c) in clients.enumerated() {
                while let e = try c.nextEvent(timeoutMilliseconds: seen[i].count < total ? 5 : 0) {
                    if case .delivery(let channel, _, _, let payload, _) = e, channel == 100 {
                        seen[i].append(String(decoding: payload, as: UTF8.self))
                    }
                }
            }
        }
        return seen
    }

    @Test("3 and 5 nodes: every node delivers every message, in the same order", arguments: [3, 5])
    func totalOrder(nodes: Int) throws {
        let cluster = try LocalCluster(nodes: nodes)
        try cluster.startAll()
        try cluster.waitForRing(Array(1...nodes))
        let seen = try exchange(cluster, nodes: Array(1...nodes), perNode: 40)
        #expect(seen[0].count == nodes * 40, "\(cluster.logs())")
        for i in 1..<nodes { #expect(seen[i] == seen[0]) }
        // Each sender's messages in its own order.
        for k in 1...nodes {
            let mine = seen[0].filter { $0.hasPrefix("\(k):") }
            #expect(mine == (0..<40).map { "\(k):\($0)" })
        }
    }

    @Test("a sender told 'try again' hears when totemd takes multicasts again (sendReady); one that opened no channel is not told")
    func sendReadyAfterFlowControl() throws {
        let cluster = try LocalCluster(nodes: 2)
        try cluster.startAll()
        try cluster.waitForRing([1, 2])
        let sender = try TotemClient(instance: cluster.instance(1))
        _ = try sender.open(channels: [100])
        let sendOnly = try TotemClient(instance: cluster.instance(1))
        let payload = [UInt8](repeating: 0x5A, count: 16_384)
        try sendOnly.multicast(channel: 100, payload: payload)
        // Flood until totemd pushes back (its core queue and intake are a few hundred KiB). A refusal because totemd
        // has not read the last 64 KiB yet (the client's send-ahead bound) is not flow control: wait and go on.
        var refused = false
        for _ in 0..<10_000 {
            let heldBack = sender.sendsHeldBack
            do { try sender.multicast(channel: 100, payload: payload) } catch {
                guard error == .tryAgain else { throw error }
                if sender.sendsHeldBack > heldBack {
                    usleep(200)
                    continue
                }
                refused = true
                break
            }
        }
        #expect(refused, "totemd never pushed back\n\(cluster.logs(lines: 10))")
        // Requests already in libqb's ring when flow control went on are read after it goes off and may turn it on
        // again: each refusal waits for the next sendReady, and a send after one of them goes through.
        var readies = 0
        var sent = false
        var delivered = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while !sent && ContinuousClock.now < deadline {
            guard let e = try sender.nextEvent(timeoutMilliseconds: 20) else { continue }
            switch e {
            case .sendReady:
                readies += 1
                do {
                    try sender.multicast(channel: 100, payload: payload)
                    sent = true
                } catch {
                    guard error == .tryAgain else { throw error }
                }
            case .delivery: delivered += 1
            case .configuration: break
            }
        }
        #expect(readies >= 1 && sent, "\(readies) sendReady events, sent \(sent), after \(delivered) deliveries\n\(cluster.logs(lines: 10))")
        // The client that only sends opened no channel: it must not be sent events it never reads.
        #expect(try sendOnly.nextEvent(timeoutMilliseconds: 200) == nil)
    }

    @Test("a client runs at most its send-ahead bound into a totemd that reads nothing (SIGSTOP); on SIGCONT all it sent arrives, in order")
    func sendAheadOfAStoppedTotemd() throws {
        let cluster = try LocalCluster(nodes: 1)
        try cluster.startAll()
        try cluster.waitForRing([1])
        let client = try TotemClient(instance: cluster.instance(1))
        _ = try client.open(channels: [100])
        let size = 8_192
        cluster.processes[1]?.signal(SIGSTOP)
        // totemd's flow control engages only once it reads; while it reads nothing, only the client's bound stops it.
        // Without one, libqb's 1 MiB request ring took about 128 of these before the first refusal.
        var accepted = 0
        var refused = false
        while !refused && accepted < 1_000 {
            var payload = [UInt8](repeating: 0x5A, count: size)
            withUnsafeBytes(of: UInt32(accepted).bigEndian) { payload.replaceSubrange(0..<4, with: $0) }
            do {
                try client.multicast(channel: 100, payload: payload)
                accepted += 1
            } catch {
                guard error == .tryAgain else { throw error }
                refused = true
            }
        }
        cluster.processes[1]?.signal(SIGCONT)
        #expect(refused && client.sendsHeldBack == 1 && accepted >= 1 && accepted <= SendAhead.totemClient.bytes / size,
                "\(accepted) multicasts of \(size) bytes accepted by a stopped totemd; refused: \(refused), by the bound: \(client.sendsHeldBack)")
        var delivered: [UInt32] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while delivered.count < accepted && ContinuousClock.now < deadline {
            guard let e = try client.nextEvent(timeoutMilliseconds: 20) else { continue }
            if case .delivery(let channel, _, _, let payload, _) = e, channel == 100, payload.count == size {
                delivered.append(payload.prefix(4).reduce(0) { $0 << 8 | UInt32($1) })
            }
        }
        #expect(delivered == (0..<UInt32(accepted)).map { $0 }, "\(delivered.count) of \(accepted) delivered\n\(cluster.logs(lines: 10))")
    }

    @Test("multicast transport (the cman default): 3 nodes agree on the order")
    func multicastTransport() throws {
        let cluster = try LocalCluster(nodes: 3, multicast: true)
        try cluster.startAll()
        let ring = try cluster.waitForRing([1, 2, 3])
        #expect(ring.transport.hasPrefix("multicast 239.192."))
        let seen = try exchange(cluster, nodes: [1, 2, 3], perNode: 30)
        #expect(seen[0].count == 90 && seen[1] == seen[0] && seen[2] == seen[0], "\(cluster.logs())")
    }

    @Test("SIGKILL one node: the rest reform and agree; restarted, it rejoins with a higher ring sequence")
    func killAndRestart() throws {
        let cluster = try LocalCluster(nodes: 3)
        try cluster.startAll()
        let first = try cluster.waitForRing([1, 2, 3])
        cluster.kill(3)
        let survivors = try cluster.waitForRing([1, 2], timeout: .seconds(15))
        #expect(survivors.ringSequence > first.ringSequence)
        let seen = try exchange(cluster, nodes: [1, 2], perNode: 20)
        #expect(seen[0].count == 40 && seen[0] == seen[1])
        try cluster.start(3)
        let again = try cluster.waitForRing([1, 2, 3], timeout: .seconds(15))
        #expect(again.ringSequence > survivors.ringSequence)
        // The restarted node numbers its rings above what it persisted before the kill.
        let stored = try String(contentsOfFile: cluster.instance(3).stateDirectory + "/ringseq", encoding: .utf8)
        #expect(UInt64(stored.trimmingCharacters(in: .whitespacesAndNewlines)) == again.ringSequence)
    }

    @Test("a silent failure (SIGSTOP: no ICMP) goes through the token timeout; on SIGCONT the node merges back")
    func silentFailure() throws {
        let cluster = try LocalCluster(nodes: 3, totem: "token=\"1000\"")
        try cluster.startAll()
        try cluster.waitForRing([1, 2, 3])
        let started = ContinuousClock.now
        cluster.processes[3]?.signal(SIGSTOP)
        try cluster.waitForRing([1, 2], timeout: .seconds(15))
        // Token 1000 ms + 650 ms for the third node, then consensus: not the ICMP fast path.
        #expect(ContinuousClock.now - started >= .milliseconds(1500))
        cluster.processes[3]?.signal(SIGCONT)
        try cluster.waitForRing([1, 2, 3], timeout: .seconds(15))
    }

    @Test("a clean leave (SIGTERM) reforms the ring long before the token timeout")
    func cleanLeave() throws {
        let cluster = try LocalCluster(nodes: 3, totem: "token=\"10000\"")
        try cluster.startAll()
        try cluster.waitForRing([1, 2, 3], timeout: .seconds(30))
        let started = ContinuousClock.now
        #expect(try cluster.stop(2) == 0)
        try cluster.waitForRing([1, 3], timeout: .seconds(5))
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("garbage and forged packets on the totem port are dropped and counted; the ring carries on")
    func garbage() throws {
        let cluster = try LocalCluster(nodes: 2)
        try cluster.startAll()
        try cluster.waitForRing([1, 2])
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        // From 127.0.0.2 (a member's address) so only authentication stops them.
        var src = sockaddr_in()
        src.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.2", &src.sin_addr)
        _ = withUnsafePointer(to: &src) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var dst = sockaddr_in()
        dst.sin_family = sa_family_t(AF_INET)
        dst.sin_port = cluster.port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<500 {
            var junk = (0..<Int(rng.next() % 1400)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if i % 3 == 0 { junk = [0xC1] + junk }
            if i % 5 == 0 { junk = [0xC0, 0x54, 0x4D, 1] + junk }
            _ = withUnsafePointer(to: &dst) { d in
                d.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, junk, junk.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        usleep(300_000)
        let s = try #require(cluster.status(1))
        #expect(s.state == "operational" && s.members.count == 2)
        let unauthentic = s.counters.first { $0.name == "packets_unauthentic" }?.value ?? 0
        #expect(unauthentic >= 400, "\(s.counters)")
        let seen = try exchange(cluster, nodes: [1, 2], perNode: 10)
        #expect(seen[0].count == 20 && seen[0] == seen[1])
    }

    @Test("another cluster on the same port (other name, or other id without encryption) is ignored and counted, never merged")
    func otherCluster() throws {
        for (variant, cman, totem) in [("name", "", ""), ("id", "cluster_id=\"4242\"", "<totem secauth=\"off\"/>")] {
            // Node 1 of our cluster runs; the intruder takes node 2's address, so only the cluster check stops it.
            let cluster = try LocalCluster(nodes: 2, totem: variant == "name" ? "token=\"3000\"" : "token=\"3000\" secauth=\"off\"")
            try cluster.start(1)
            try cluster.waitForRing([1])
            let dir = try makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let name = variant == "name" ? "intruders" : "testcluster"
            let conf = "<cluster name=\"\(name)\" config_version=\"1\"><cman transport=\"udpu\" port=\"\(cluster.port)\" \(cman)/>\(totem)"
                + "<logging to_syslog=\"no\" to_logfile=\"no\"/><clusternodes><clusternode name=\"127.0.0.1\" nodeid=\"1\"/>"
                + "<clusternode name=\"127.0.0.2\" nodeid=\"2\"/></clusternodes></cluster>"
            try conf.write(toFile: dir + "/cluster.conf", atomically: true, encoding: .utf8)
            let other = try ChildProcess(TestBinaries.path("totemd"), [], environment: [
                "CLUSTER_CONF": dir + "/cluster.conf", "CLUSTER_INSTANCE": uniqueName("other"), "CLUSTER_STATE_DIR": dir + "/state",
                "CLUSTER_NODE_NAME": "127.0.0.2"])
            usleep(1_500_000)
            let s = try #require(cluster.status(1))
            #expect(s.members == [NodeID(1)], "\(variant): \(s.members)")
            let counter = variant == "name" ? "packets_unauthentic" : "other_cluster"
            #expect((s.counters.first { $0.name == counter }?.value ?? 0) > 0, "\(variant): \(s.counters) \(other.stderr)")
            other.signal(SIGKILL)
            _ = try other.wait()
        }
    }

    @Test("an invalid cluster.conf stops totemd with exit code 78 and the reason")
    func invalidConfig() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "<cluster name=\"x\" config_version=\"1\"><clusternodes><clusternode name=\"a\"/></clusternodes></cluster>"
            .write(toFile: dir + "/cluster.conf", atomically: true, encoding: .utf8)
        let r = try ChildProcess.run(TestBinaries.path("totemd"), ["-f", dir + "/cluster.conf", "-I", uniqueName("bad")])
        #expect(r.status == 78)
        #expect(r.stderr.contains("missing the required attribute 'nodeid'"), "\(r.stderr)")
    }

    @Test("a cluster key under 128 bits stops totemd with exit code 78; without a keyfile it warns that the name-derived key authenticates nothing")
    func clusterKey() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Array("short key".utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dir + "/authkey")) }
        let short = try LocalCluster(nodes: 1, extraCman: "keyfile=\"\(dir)/authkey\"")
        let r = try ChildProcess.run(TestBinaries.path("totemd"), [], environment: short.environment(1))
        #expect(r.status == 78)
        #expect(r.stderr.contains("cluster key \(dir)/authkey holds 72 bits; at least 128 are needed"), "\(r.stderr)")

        let none = try LocalCluster(nodes: 1)
        try none.startAll()
        try none.waitForRing([1])
        #expect(none.logs().contains("no <cman keyfile"), "\(none.logs())")
    }

    @Test("a node name that is not in cluster.conf is refused with the list of nodes")
    func unknownNode() throws {
        let cluster = try LocalCluster(nodes: 2)
        var env = cluster.environment(1)
        env["CLUSTER_NODE_NAME"] = "nosuchnode"
        let r = try ChildProcess.run(TestBinaries.path("totemd"), [], environment: env)
        #expect(r.status == 69)
        #expect(r.stderr.contains("node \"nosuchnode\" is not in cluster.conf (nodes: 127.0.0.1, 127.0.0.2)"), "\(r.stderr)")
    }

    /// Each node's ring lines from `cman_tool ring`.
    func ringLines(_ cluster: LocalCluster, _ k: Int) throws -> [String] {
        let out = try cluster.tool(k, "cman_tool", ["ring"])
        return out.stdout.split(separator: "\n").map(String.init).filter { $0.contains("ring ") && ($0.contains("active") || $0.contains("FAULTY")) }
    }

    @Test("redundant rings (altname), active and passive: both rings carry the ring and report no faults",
          arguments: ["", "rrp_mode=\"passive\""])
    func redundantRings(mode: String) throws {
        let cluster = try LocalCluster(nodes: 3, totem: "token=\"1000\" \(mode)", redundantRing: true)
        try cluster.startAll()
        try cluster.waitForRing([1, 2, 3])
        let seen = try exchange(cluster, nodes: [1, 2, 3], perNode: 30)
        #expect(seen[0].count == 90 && seen[1] == seen[0] && seen[2] == seen[0], "\(cluster.logs())")
        usleep(2_500_000) // longer than the fault window, with traffic on the ring
        for k in 1...3 {
            let lines = try ringLines(cluster, k)
            #expect(lines.count == 2 && lines.allSatisfy { $0.contains("active with no faults") }, "node \(k): \(lines)")
        }
        let status = try #require(cluster.status(1))
        #expect(status.rings.map(\.address) == ["127.0.0.1", "127.0.1.1"])
    }

    @Test("a node cut off on ring 0 stays in the cluster over ring 1; ring 0 is reported FAULTY; no false node death",
          arguments: ["", "rrp_mode=\"passive\""])
    func brokenRingZero(mode: String) throws {
        let cluster = try LocalCluster(nodes: 3, totem: "token=\"1000\" \(mode)", perNodeConfig: true, redundantRing: true)
        // Node 3 believes ring 0 uses another port: nothing passes between it and the others on ring 0 (and their
        // ring-0 packets to it bounce with ICMP port unreachable), while ring 1 works.
        let path = cluster.configPath(3)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "port=\"\(cluster.port)\"", with: "port=\"\(cluster.port + 1)\"")
            .write(toFile: path, atomically: true, encoding: .utf8)
        // Ring 1's port comes from each node's own <cman port>: give ring 1 an explicit port so it matches everywhere.
        for k in 1...3 {
            let p = cluster.configPath(k)
            let t = try String(contentsOfFile: p, encoding: .utf8)
            try t.replacingOccurrences(of: "\"/></clusternode>", with: "\" port=\"\(cluster.port + 10)\"/></clusternode>")
                .write(toFile: p, atomically: true, encoding: .utf8)
        }
        try cluster.startAll()
        try cluster.waitForRing([1, 2, 3])
        let seen = try exchange(cluster, nodes: [1, 2, 3], perNode: 20)
        #expect(seen[0].count == 60 && seen[1] == seen[0] && seen[2] == seen[0], "\(cluster.logs())")
        // A ring is judged only after the fault window (2 × token, 3.3 s here) has passed since start.
        var three = try ringLines(cluster, 3)
        for _ in 0..<40 where !(three.first?.contains("FAULTY") ?? false) {
            usleep(250_000)
            three = try ringLines(cluster, 3)
        }
        #expect(three.count == 2 && three[0].contains("ring 0 FAULTY") && three[1].contains("active with no faults"), "\(three)")
        var one = try ringLines(cluster, 1)
        for _ in 0..<20 where !(one.first?.contains("FAULTY") ?? false) {
            usleep(250_000)
            one = try ringLines(cluster, 1)
        }
        #expect(one.first?.contains("ring 0 FAULTY: node 3") == true, "\(one)")
        // Still one ring of three: the ICMP reports on ring 0 did not get node 3 thrown out.
        let before = try #require(cluster.status(1))
        usleep(1_500_000)
        let after = try #require(cluster.status(1))
        #expect(after.members == [NodeID(1), NodeID(2), NodeID(3)] && after.ringSequence == before.ringSequence, "\(cluster.logs())")
        #expect(cluster.logs().contains("FAULTY"))
    }
}


/// The daemon runner as totemd uses it: READY only once operational, the watchdog pinged from the loop, STOPPING and
/// a clean exit on SIGTERM, and SIGHUP handled without stopping.
@Suite("daemon runner, through totemd")
struct DaemonRunnerTests {
    @Test("READY once operational, WATCHDOG pings, SIGHUP logged, STOPPING and exit 0 on SIGTERM")
    func lifecycle() throws {
        let cluster = try LocalCluster(nodes: 1)
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = try NotifySocket(directory: dir)
        var env = cluster.environment(1)
        env["NOTIFY_SOCKET"] = socket.path
        env["WATCHDOG_USEC"] = "300000"
        let totemd = try ChildProcess(TestBinaries.path("totemd"), [], environment: env)
        let first = socket.receive(timeout: .seconds(10)) { m in m.contains { $0.hasPrefix("READY=1") } && m.filter { $0 == "WATCHDOG=1" }.count >= 2 }
        let ready = first.first { $0.hasPrefix("READY=1") } ?? ""
        #expect(ready.contains("STATUS=operational on ring"), "\(first)")
        #expect(first.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(first)")
        totemd.signal(SIGHUP)
        usleep(300_000)
        #expect(totemd.isRunning, "SIGHUP must not stop totemd")
        totemd.signal(SIGTERM)
        let last = socket.receive(timeout: .seconds(5)) { $0.contains("STOPPING=1") }
        #expect(last.contains("STOPPING=1"), "\(last)")
        #expect(try totemd.wait(timeout: .seconds(10)) == 0)
        #expect(cluster.logs().contains("configuration changes only when quorumd distributes them"), "\(cluster.logs())")
    }
}
