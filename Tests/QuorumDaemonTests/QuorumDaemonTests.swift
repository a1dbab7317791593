// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPCProtocol
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// Real totemd and quorumd processes on loopback, driven with cman_tool.
@Suite("quorumd on loopback", .serialized)
struct QuorumDaemonTests {
    func cluster(_ nodes: Int, extraCman: String = "", perNodeConfig: Bool = false, extra: String = "") throws -> LocalCluster {
        let c = try LocalCluster(nodes: nodes, extraCman: extraCman, perNodeConfig: perNodeConfig, extra: extra)
        c.upperDaemons = ["quorumd"]
        try c.startAll()
        try c.waitForQuorum(Array(1...nodes)) { $0.quorate && $0.nodes == UInt32(nodes) }
        return c
    }

    @Test("3 nodes quorate; SIGKILL two and the survivor is inquorate; restart them and it is quorate again")
    func quorumLostAndRegained() throws {
        let c = try cluster(3)
        let status = try c.tool(1, "cman_tool", ["status"])
        #expect(status.stdout.contains("Quorum: 2\n") && status.stdout.contains("Total votes: 3") && status.stdout.contains("Nodes: 3"), "\(status)")
        c.kill(2)
        c.kill(3)
        try c.waitForQuorum([1]) { !$0.quorate && $0.nodes == 1 }
        let blocked = try c.tool(1, "cman_tool", ["status"])
        #expect(blocked.stdout.contains("Quorum: 2 Activity blocked"), "\(blocked.stdout)")
        let nodes = try c.tool(1, "cman_tool", ["nodes"])
        #expect(nodes.stdout.contains("Node  Sts   Inc   Joined               Name"))
        #expect(nodes.stdout.split(separator: "\n").filter { $0.contains("   X  ") }.count == 2, "\(nodes.stdout)")
        try c.start(2)
        try c.start(3)
        try c.waitForQuorum([1, 2, 3]) { $0.quorate && $0.nodes == 3 }
    }

    @Test("two_node: either node alone stays quorate")
    func twoNode() throws {
        let c = try cluster(2, extraCman: "two_node=\"1\" expected_votes=\"1\"")
        c.kill(2)
        try c.waitForQuorum([1]) { $0.quorate && $0.nodes == 1 && $0.flags.contains("2node") }
    }

    @Test("leave is refused, naming the client, while a registered client says no; allowed once it says yes")
    func stagedShutdown() throws {
        let c = try cluster(3)
        let no = try ChildProcess(TestBinaries.path("cman-peer"), ["stubbornd", "no"], environment: c.environment(3))
        try no.waitForOutput("registered")
        let refused = try c.tool(3, "cman_tool", ["leave"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("stubbornd") && refused.stderr.contains("said no"), "\(refused.stderr)")
        #expect(c.cmanStatus(3)?.member == true)
        no.signal(SIGKILL)
        _ = try no.wait()
        let yes = try ChildProcess(TestBinaries.path("cman-peer"), ["willingd", "yes"], environment: c.environment(3))
        try yes.waitForOutput("registered")
        let ok = try c.tool(3, "cman_tool", ["leave", "remove"])
        #expect(ok.status == 0, "\(ok)")
        try c.waitForQuorum([1, 2]) { $0.nodes == 2 && $0.quorate && $0.expectedVotes == 2 }
        #expect(try c.upper[3]?["quorumd"]?.wait(timeout: .seconds(10)) == 0)
        #expect(try c.processes[3]?.wait(timeout: .seconds(10)) == 0)
    }

    @Test("cman_tool leave with no client holding the node: totemd and quorumd exit 0 once totemd has gone, the others see it leave")
    func plainLeave() throws {
        let c = try cluster(3)
        let left = try c.tool(3, "cman_tool", ["leave"])
        #expect(left.status == 0, "\(left)")
        let quorumd = try #require(c.upper[3]?["quorumd"])
        #expect(try quorumd.wait(timeout: .seconds(10)) == 0)
        #expect(try c.processes[3]?.wait(timeout: .seconds(10)) == 0)
        // quorumd stopped because totemd went, not because it gave up waiting for it (its log would say so; a
        // time bound here failed on a machine short of memory).
        let log3 = (try? String(contentsOfFile: "\(c.directory)/node3/log/quorumd.log", encoding: .utf8)) ?? ""
        #expect(!log3.contains("did not leave within"), "\(log3)")
        // Announced, not lost: the others count it gone at once and keep expected votes (no `remove`).
        try c.waitForQuorum([1, 2]) { $0.nodes == 2 && $0.quorate && $0.expectedVotes == 3 && $0.totalVotes == 2 }
        for k in 1...2 {
            let log = (try? String(contentsOfFile: "\(c.directory)/node\(k)/log/quorumd.log", encoding: .utf8)) ?? ""
            #expect(log.contains("node 127.0.0.3 is leaving"), "node \(k): \(log)")
        }
    }

    @Test("a client that does not answer makes leave fail after shutdown_timeout; leave force does not ask")
    func silentClient() throws {
        let c = try cluster(2, extraCman: "shutdown_timeout=\"500\"")
        let silent = try ChildProcess(TestBinaries.path("cman-peer"), ["quietd", "silent"], environment: c.environment(2))
        try silent.waitForOutput("registered")
        let refused = try c.tool(2, "cman_tool", ["leave"])
        #expect(refused.status != 0 && refused.stderr.contains("quietd") && refused.stderr.contains("did not answer"), "\(refused.stderr)")
        let forced = try c.tool(2, "cman_tool", ["leave", "force"])
        #expect(forced.status == 0, "\(forced)")
        try c.waitForQuorum([1]) { $0.nodes == 1 }
    }

    @Test("SIGTERM (systemctl stop) asks registered clients: refused while one says no, at once when none holds the node")
    func stagedStopOnSIGTERM() throws {
        let c = try cluster(2)
        let no = try ChildProcess(TestBinaries.path("cman-peer"), ["stubbornd", "no"], environment: c.environment(2))
        try no.waitForOutput("registered")
        let quorumd = try #require(c.upper[2]?["quorumd"])
        quorumd.signal(SIGTERM)
        try no.waitForOutput("notification tryShutdown")
        usleep(500_000)
        #expect(quorumd.process.isRunning, "quorumd stopped although stubbornd said no")
        #expect(c.cmanStatus(2)?.quorate == true)
        // The refusal holds until forced: `cman_tool leave force` does not ask.
        #expect(try c.tool(2, "cman_tool", ["leave", "force"]).status == 0)
        #expect(try quorumd.wait(timeout: .seconds(10)) == 0)
        // With no registered client, SIGTERM stops quorumd straight away.
        let q1 = try #require(c.upper[1]?["quorumd"])
        q1.signal(SIGTERM)
        #expect(try q1.wait(timeout: .seconds(5)) == 0)
    }

    @Test("version -r: the local cluster.conf becomes the running config on every node; an invalid one is refused everywhere")
    func configVersion() throws {
        let c = try cluster(3, perNodeConfig: true)
        var text = try String(contentsOfFile: c.configPath(1), encoding: .utf8)
        text = text.replacingOccurrences(of: "config_version=\"1\"", with: "config_version=\"2\"")
        text = text.replacingOccurrences(of: "<totem token=\"3000\"/>", with: "<totem token=\"3000\" window_size=\"40\"/>")
        try text.write(toFile: c.configPath(1), atomically: true, encoding: .utf8)
        let r = try c.tool(1, "cman_tool", ["version", "-r", "2"])
        #expect(r.status == 0 && r.stdout.contains("config 2"), "\(r)")
        try c.waitForQuorum([1, 2, 3]) { $0.configVersion == 2 }
        for k in 2...3 {
            #expect(try String(contentsOfFile: c.configPath(k), encoding: .utf8).contains("window_size=\"40\""))
        }
        // Version 3 without node 3: node 3 refuses to run a config that does not list it.
        let without3 = text.replacingOccurrences(of: "config_version=\"2\"", with: "config_version=\"3\"")
            .replacingOccurrences(of: "    <clusternode name=\"127.0.0.3\" nodeid=\"3\"/>\n", with: "")
        try without3.write(toFile: c.configPath(1), atomically: true, encoding: .utf8)
        let refused = try c.tool(1, "cman_tool", ["version", "-r"])
        #expect(refused.status != 0 && refused.stderr.contains("node 127.0.0.3") && refused.stderr.contains("does not list this node"), "\(refused) \(c.logs())")
        #expect(c.cmanStatus(2)?.configVersion == 2)
        #expect(!(try String(contentsOfFile: c.configPath(2), encoding: .utf8)).contains("config_version=\"3\""))
        // A broken local file is refused before anything is sent.
        try "<cluster name=\"testcluster\" config_version=\"4\"><clusternodes/></cluster>".write(toFile: c.configPath(1), atomically: true, encoding: .utf8)
        let broken = try c.tool(1, "cman_tool", ["version", "-r"])
        #expect(broken.status != 0 && broken.stderr.contains("is not valid"), "\(broken)")
    }

    @Test("expected -e, votes -v, kill -n, and --json listings")
    func administration() throws {
        let c = try cluster(3)
        #expect(try c.tool(1, "cman_tool", ["expected", "-e", "5"]).status == 0)
        try c.waitForQuorum([1, 2, 3]) { $0.expectedVotes == 5 && $0.quorum == 3 }
        let tooLow = try c.tool(1, "cman_tool", ["expected", "-e", "1"])
        #expect(tooLow.status != 0 && tooLow.stderr.contains("below the 3 votes present"))
        #expect(try c.tool(2, "cman_tool", ["votes", "-v", "2"]).status == 0)
        try c.waitForQuorum([1, 2, 3]) { $0.totalVotes == 4 }
        let json = try c.tool(3, "cman_tool", ["nodes", "--json"])
        let nodes = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(nodes?.count == 3 && nodes?.first?["status"] as? String == "M")
        #expect(try c.tool(1, "cman_tool", ["kill", "-n", "127.0.0.3"]).status == 0)
        #expect(try c.upper[3]?["quorumd"]?.wait(timeout: .seconds(10)) == 0)
        try c.waitForQuorum([1, 2]) { $0.nodes == 2 }
        let st = try c.tool(1, "cman_tool", ["status", "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(st.stdout.utf8)) as? [String: Any]
        #expect(obj?["nodes"] as? Int == 2)
    }

    @Test("votes -v survives a restart of the node (quorumd.state); a garbled state file is logged and ignored")
    func runtimeVotesPersisted() throws {
        let c = try cluster(3)
        #expect(try c.tool(1, "cman_tool", ["votes", "-v", "3"]).status == 0)
        try c.waitForQuorum([1, 2, 3]) { $0.totalVotes == 5 && $0.expectedVotes == 5 }
        for k in 1...3 { c.kill(k) }
        // Alone on its file node 1 has 1 of 3 votes; with its state, 3 of 5: a majority of every vote there is.
        try c.start(1)
        try c.waitForQuorum([1]) { $0.nodes == 1 && $0.totalVotes == 3 && $0.expectedVotes == 5 && $0.quorate }
        c.kill(1)
        let path = "\(c.directory)/node1/state/quorumd.state"
        try "expected_votes lots\n".write(toFile: path, atomically: true, encoding: .utf8)
        try c.start(1)
        try c.waitForQuorum([1]) { $0.nodes == 1 && $0.totalVotes == 1 && $0.expectedVotes == 3 && !$0.quorate }
        #expect(c.logs(lines: 500).contains("garbled quorum state file \(path)"), "\(c.logs())")
    }

    @Test("port messaging with islistening, and a barrier across three nodes")
    func portsAndBarriers() throws {
        let c = try cluster(3)
        let peer = TestBinaries.path("cman-peer")
        let listener = try ChildProcess(peer, ["listen", "42"], environment: c.environment(2))
        try listener.waitForOutput("listening")
        let deadline = ContinuousClock.now + .seconds(10)
        var listening = ""
        while ContinuousClock.now < deadline {
            listening = try ChildProcess.run(peer, ["islistening", "2", "42"], environment: c.environment(1)).stdout
            if listening.contains("yes") { break }
            usleep(50_000)
        }
        #expect(listening.contains("yes"))
        #expect(try ChildProcess.run(peer, ["islistening", "3", "42"], environment: c.environment(1)).stdout.contains("no"))
        #expect(try ChildProcess.run(peer, ["send", "42", "2", "hello"], environment: c.environment(3)).stdout.contains("sent"))
        #expect(try ChildProcess.run(peer, ["send", "42", "0", "everyone"], environment: c.environment(1)).stdout.contains("sent"))
        try listener.waitForOutput("data 3 hello")
        try listener.waitForOutput("data 1 everyone")
        let status = try c.tool(2, "cman_tool", ["status"])
        #expect(status.stdout.contains("Ports Bound: 42"), "\(status.stdout)")
        // A barrier for three nodes opens only when the third arrives.
        let first = try ChildProcess(peer, ["barrier", "sync1", "3"], environment: c.environment(1))
        let second = try ChildProcess(peer, ["barrier", "sync1", "3"], environment: c.environment(2))
        usleep(300_000)
        #expect(first.process.isRunning && second.process.isRunning)
        let third = try ChildProcess.run(peer, ["barrier", "sync1", "3"], environment: c.environment(3))
        #expect(third.stdout.contains("released"), "\(third)")
        #expect(try first.wait(timeout: .seconds(10)) == 0 && first.stdout.contains("released"))
        #expect(try second.wait(timeout: .seconds(10)) == 0)
    }

    @Test("on the runner: READY once a member, WATCHDOG pings, SIGHUP does not stop it, STOPPING and exit 0 on SIGTERM")
    func runnerLifecycle() throws {
        let c = try LocalCluster(nodes: 1)
        try c.startAll()
        try c.waitForRing([1])
        let life = try c.runnerLifecycle("quorumd")
        #expect(life.ready.contains("STATUS=quorate, 1 member(s), 1/1 votes, quorum 1"), "\(life.first)")
        #expect(life.watchdogPings >= 2, "\(life.first)")
        #expect(life.runningAfterSIGHUP, "SIGHUP must not stop quorumd")
        #expect(life.last.contains("STOPPING=1") && life.exitStatus == 0, "\(life.last)")
        let log = (try? String(contentsOfFile: "\(c.directory)/node1/log/quorumd.log", encoding: .utf8)) ?? "" // no log: checked below
        #expect(log.contains("'cman_tool version -r' distributes"), "\(log)")
        #expect(c.status(1)?.state == "operational", "quorumd's SIGTERM stops quorumd, not the ring")
    }

    @Test("cman_tool without quorumd says so and exits 69")
    func notRunning() throws {
        let c = try LocalCluster(nodes: 1)
        let r = try c.tool(1, "cman_tool", ["status"])
        #expect(r.status == 69 && r.stderr.contains("not running"), "\(r)")
    }

    @Test("a node whose daemons were all SIGKILLed leaves their IPC ring buffers in /dev/shm; restarted, its daemons remove them")
    func staleRingBuffersRemoved() throws {
        let c = try cluster(1)
        let totemd = try #require(c.processes[1]?.pid), quorumd = try #require(c.upper[1]?["quorumd"]?.pid)
        // Killed behind the harness's back (it would clean up after its own kills), as a crash or `kill -9` would.
        for pid in [totemd, quorumd] { kill(pid, SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(10)
        while c.processes[1]?.isRunning == true || c.upper[1]?["quorumd"]?.isRunning == true {
            #expect(ContinuousClock.now < deadline); if ContinuousClock.now > deadline { return }
            usleep(10_000)
        }
        func leftovers() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []).filter { $0.hasPrefix("qb-\(totemd)-\(quorumd)-") }
        }
        // quorumd's connection to totemd: neither end could close it.
        #expect(!leftovers().isEmpty, "libqb removed the buffers itself: this test's premise no longer holds")
        // And one of two processes that are long gone (reaped children of this test).
        var dead: [Int32] = []
        for _ in 0..<2 { let p = try ChildProcess("/bin/true", []); try p.wait(); dead.append(p.pid) }
        let old = "/dev/shm/qb-\(dead[0])-\(dead[1])-7-\(uniqueName("t"))"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: false)
        try Data(count: 8192).write(to: URL(fileURLWithPath: old + "/qb-event-x-data"))

        try c.start(1)
        try c.waitForQuorum([1]) { $0.quorate }
        #expect(leftovers().isEmpty, "\(leftovers())")
        #expect(!FileManager.default.fileExists(atPath: old))
        // Whichever daemon served first removed them.
        let log = ["totemd", "quorumd"].map { (try? String(contentsOfFile: "\(c.directory)/node1/log/\($0).log", encoding: .utf8)) ?? "" }.joined()
        #expect(log.contains("IPC ring buffer director") && log.contains("of processes that are gone"), "\(log)")
    }
}

@Suite("quorumd with a quorum disk", .serialized)
struct QuorumDiskDaemonTests {
    @Test("two nodes and a qdisk: the device's vote keeps the survivor quorate; an unfit survivor loses it")
    func twoNodesWithQdisk() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/ok", contents: nil)
        let quorumd = "<quorumd device=\"\(dir)/qdisk\" interval=\"1\" tko=\"3\" votes=\"1\" master_wins=\"1\">"
            + "<heuristic program=\"test -e \(dir)/ok\" score=\"1\" interval=\"1\" tko=\"2\"/></quorumd>\n"
        let c = try LocalCluster(nodes: 2, extraCman: "expected_votes=\"3\"", extra: quorumd)
        c.upperDaemons = ["quorumd"]
        try c.startAll()
        try c.waitForQuorum([1, 2]) { $0.quorate && $0.nodes == 2 && $0.totalVotes == 3 }
        c.kill(2)
        try c.waitForQuorum([1]) { $0.quorate && $0.nodes == 1 && $0.totalVotes == 2 && $0.qdiskVotes == 1 }
        let st = try c.tool(1, "cman_tool", ["status"])
        #expect(st.stdout.contains("Quorum device votes: 1"), "\(st.stdout)")
        // The heuristic starts failing: no longer fit, the node loses the device's vote and with it quorum.
        try FileManager.default.removeItem(atPath: dir + "/ok")
        try c.waitForQuorum([1], timeout: .seconds(20)) { !$0.quorate && $0.qdiskVotes == 0 }
    }
}
