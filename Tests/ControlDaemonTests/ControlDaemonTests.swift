// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// dlm_controld and o2cb_controld as real processes on a loopback cluster (totemd, quorumd, groupd per node), each
/// with a plain directory standing in for configfs and sysfs.
@Suite("control daemons on loopback", .serialized)
struct ControlDaemonTests {
    func cluster(_ n: Int) throws -> LocalCluster {
        let c = try LocalCluster(nodes: n)
        c.upperDaemons = ["quorumd", "groupd"]
        try c.startAll()
        try c.waitForQuorum(Array(1...n)) { $0.nodes == UInt32(n) && $0.quorate }
        return c
    }

    func configfs(_ c: LocalCluster, _ k: Int) -> String { "\(c.directory)/node\(k)/configfs" }
    func sysfs(_ c: LocalCluster, _ k: Int) -> String { "\(c.directory)/node\(k)/sysfs" }

    /// dlm_controld on node `k` (fencing off unless `fencing`), waiting until its socket answers.
    func startDLM(_ c: LocalCluster, _ k: Int, fencing: Bool = false) throws {
        try c.start(k, "dlm_controld", arguments: ["-C", configfs(c, k), "-S", sysfs(c, k), "-f", fencing ? "1" : "0"])
        try waitUntil("dlm_controld on node \(k) answers", c) { (try? c.tool(k, "dlm_tool", ["nodes"]))?.status == 0 }
    }

    func waitUntil(_ what: String, _ c: LocalCluster, timeout: Duration = .seconds(30), _ condition: () -> Bool) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return }
            usleep(50_000)
        }
        let daemons = (1...c.nodeCount).flatMap { k in (c.upper[k] ?? [:]).map { "node\(k) \($0.key):\n" + $0.value.stderr.split(separator: "\n").suffix(15).joined(separator: "\n") } }
        throw ChildProcessError("not reached within \(timeout): \(what)\n\(daemons.joined(separator: "\n"))")
    }

    func lockspaceNodes(_ c: LocalCluster, _ k: Int, _ ls: String) -> [String] {
        ConfigfsTree(root: configfs(c, k) + "/dlm/cluster").items("spaces/\(ls)/nodes")
    }

    func control(_ c: LocalCluster, _ k: Int, _ ls: String) -> String? { ConfigfsTree(root: sysfs(c, k) + "/dlm").read("\(ls)/control") }

    @Test("dlm_controld: a lockspace on three nodes; node 3 killed: the survivors stop it and start again with two")
    func lockspaceRecovery() throws {
        let c = try cluster(3)
        for k in 1...3 { try startDLM(c, k) }
        // Every member node is in comms, with its address as a sockaddr_storage; only the local one is marked local.
        let comms = ConfigfsTree(root: configfs(c, 1) + "/dlm/cluster")
        #expect(comms.items("comms") == ["1", "2", "3"])
        #expect(comms.read("comms/1/local") == "1" && comms.read("comms/2/local") == nil)
        #expect(comms.read("cluster_name") == "testcluster")
        let addr = try #require(FileManager.default.contents(atPath: configfs(c, 1) + "/dlm/cluster/comms/2/addr"))
        #expect(addr.count == MemoryLayout<sockaddr_storage>.size && addr[0] == UInt8(AF_INET) && Array(addr[4..<8]) == [127, 0, 0, 2])

        for k in 1...3 { #expect(try c.tool(k, "dlm_tool", ["join", "ls1"]).status == 0) }
        for k in 1...3 {
            try waitUntil("ls1 running with 1 2 3 on node \(k)", c) {
                lockspaceNodes(c, k, "ls1") == ["1", "2", "3"] && control(c, k, "ls1") == "1"
                    && (try? c.tool(k, "dlm_tool", ["ls"]))?.stdout.contains("phase         run") == true
            }
            #expect(ConfigfsTree(root: sysfs(c, k) + "/dlm").read("ls1/event_done") == "0")
            // dlm_controld's global id: zlib.crc32(b"dlm:ls:ls1\0"), the same on every node.
            #expect(ConfigfsTree(root: sysfs(c, k) + "/dlm").read("ls1/id") == "844888375")
        }
        let json = try c.tool(2, "dlm_tool", ["ls", "--json"])
        #expect(json.stdout.contains("\"name\":\"ls1\"") && json.stdout.contains("\"members\":[1,2,3]"), "\(json)")

        c.kill(3)
        for k in 1...2 {
            try waitUntil("ls1 recovered without node 3 on node \(k)", c) {
                lockspaceNodes(c, k, "ls1") == ["1", "2"] && control(c, k, "ls1") == "1"
                    && ConfigfsTree(root: configfs(c, k) + "/dlm/cluster").items("comms") == ["1", "2"]
            }
        }
        // The log shows the stop before the start with two. dlm_controld writes that line just after setting control
        // to 1, so the condition above can hold a moment before it is there (seen once on a loaded machine): wait for it.
        try waitUntil("node 1's log shows node 3 leaving, then the recovery with nodes 1 2", c) {
            let log = c.upper[1]!["dlm_controld"]!.stderr.split(separator: "\n").map(String.init)
            guard let stop = log.lastIndex(where: { $0.contains("left [\"3:") }) else { return false }
            return log[stop...].contains { $0.contains("recovered with nodes 1 2") }
        }
    }

    /// Sends `event` on the kernel's uevent group, as the kernel would (needs CAP_NET_ADMIN).
    func sendUEvent(_ datagram: [UInt8]) throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue), 15)
        guard fd >= 0 else { throw ChildProcessError("socket(NETLINK_KOBJECT_UEVENT): errno \(errno)") }
        defer { close(fd) }
        var address = [UInt8](repeating: 0, count: 12)  // struct sockaddr_nl: family, pad, pid 0, groups 1
        withUnsafeBytes(of: UInt16(AF_NETLINK)) { for (i, b) in $0.enumerated() { address[i] = b } }
        withUnsafeBytes(of: UInt32(1)) { for (i, b) in $0.enumerated() { address[8 + i] = b } }
        let sent = address.withUnsafeBytes { a in
            datagram.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, a.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(a.count)) }
        }
        guard sent == datagram.count else { throw ChildProcessError("sendto(uevent group): errno \(errno)") }
    }

    func lockspaceUEvent(_ action: String, _ name: String, seq: Int) -> [UInt8] {
        KernelUEvent(action: action, devicePath: "/kernel/dlm/\(name)", fields: ["SUBSYSTEM": "dlm", "LOCKSPACE": name, "SEQNUM": "\(seq)"]).datagram
    }

    @Test("dlm_controld -u 1: the kernel's online and offline uevents join and leave a lockspace; a join it cannot do gets a negative event_done",
          .enabled(if: getuid() == 0, "sending on the kernel's uevent group needs CAP_NET_ADMIN"))
    func kernelUEvents() throws {
        let c = try cluster(1)
        try c.start(1, "dlm_controld", arguments: ["-C", configfs(c, 1), "-S", sysfs(c, 1), "-f", "0", "-u", "1"])
        try waitUntil("dlm_controld on node 1 answers", c) { (try? c.tool(1, "dlm_tool", ["nodes"]))?.status == 0 }
        let daemon = c.upper[1]!["dlm_controld"]!
        #expect(daemon.stderr.contains("kernel uevents on"))
        let name = "ue\(getpid())"
        let sys = ConfigfsTree(root: sysfs(c, 1) + "/dlm")
        // As dlm_new_lockspace: the kernel makes the lockspace's sysfs directory, then asks and waits on event_done.
        try sys.makeItem(name)
        try sendUEvent(lockspaceUEvent("online", name, seq: 1))
        try waitUntil("\(name) joined at the kernel's request", c) {
            control(c, 1, name) == "1" && sys.read("\(name)/event_done") == "0" && lockspaceNodes(c, 1, name) == ["1"]
        }
        #expect((try c.tool(1, "dlm_tool", ["ls"])).stdout.contains(name))

        // Not ours, or not a uevent: ignored, the daemon goes on.
        try sendUEvent(KernelUEvent(action: "add", devicePath: "/devices/virtual/net/dummy0", fields: ["SUBSYSTEM": "net"]).datagram)
        try sendUEvent([1, 2, 3, 0])
        try waitUntil("the garbage is named in the log", c) { daemon.stderr.contains("not a uevent") }

        // A second online for a lockspace already joined: the kernel is told -EEXIST, and the lockspace runs on.
        unlink(sysfs(c, 1) + "/dlm/\(name)/event_done")
        try sendUEvent(lockspaceUEvent("online", name, seq: 2))
        try waitUntil("event_done says -EEXIST", c) { sys.read("\(name)/event_done") == "-\(EEXIST)" }
        #expect(daemon.stderr.contains("request join \(name) refused"))
        #expect(control(c, 1, name) == "1")

        // As dlm_release_lockspace: offline, then the kernel waits on event_done; the directory stays the kernel's.
        unlink(sysfs(c, 1) + "/dlm/\(name)/event_done")
        try sendUEvent(lockspaceUEvent("offline", name, seq: 3))
        try waitUntil("\(name) left at the kernel's request", c) {
            sys.read("\(name)/event_done") == "0" && !FileManager.default.fileExists(atPath: configfs(c, 1) + "/dlm/cluster/spaces/\(name)")
        }
        #expect(!(try c.tool(1, "dlm_tool", ["ls"])).stdout.contains(name))
        #expect(sys.exists(name))
        try sys.removeItem(name)
    }

    @Test("dlm_controld: staged shutdown refused while a lockspace is held, allowed once left; SIGTERM likewise")
    func shutdownRefused() throws {
        let c = try cluster(2)
        try startDLM(c, 1)
        #expect(try c.tool(1, "dlm_tool", ["join", "held"]).status == 0)
        try waitUntil("held runs", c) { control(c, 1, "held") == "1" }
        let leave = try c.tool(1, "cman_tool", ["leave"])
        #expect(leave.status != 0 && (leave.stderr + leave.stdout).contains("dlm_controld"), "\(leave)")
        let daemon = c.upper[1]!["dlm_controld"]!
        daemon.signal(SIGTERM)
        try waitUntil("the signal refused while held is held", c) { daemon.stderr.contains("still holding held") }
        #expect(try c.tool(1, "dlm_tool", ["leave", "held"]).status == 0)
        try waitUntil("held removed from configfs", c) { !FileManager.default.fileExists(atPath: configfs(c, 1) + "/dlm/cluster/spaces/held") }
        daemon.signal(SIGTERM)
        #expect(try daemon.wait(timeout: .seconds(10)) == 0)
        #expect(!FileManager.default.fileExists(atPath: "\(c.instance(1).runDirectory)/dlm_controld.sock"))
    }

    @Test("dlm_tool: bad requests get clear errors; a daemon not running is named")
    func badRequests() throws {
        let c = try cluster(1)
        let absent = try c.tool(1, "dlm_tool", ["ls"])
        #expect(absent.status == 1 && absent.stderr.contains("not running"), "\(absent)")
        try startDLM(c, 1)
        let badName = try c.tool(1, "dlm_tool", ["join", "../etc"])
        #expect(badName.status == 1 && badName.stderr.contains("not a valid name"), "\(badName)")
        let unknown = try c.tool(1, "dlm_tool", ["frobnicate"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown request"), "\(unknown)")
        let usage = try c.tool(1, "dlm_tool", ["join"])
        #expect(usage.status == 64 && usage.stderr.contains("usage"), "\(usage)")
        let notJoined = try c.tool(1, "dlm_tool", ["leave", "nothere"])
        #expect(notJoined.status == 1 && notJoined.stderr.contains("not joined"), "\(notJoined)")
        #expect(try c.tool(1, "dlm_tool", ["join", "twice"]).status == 0)
        let twice = try c.tool(1, "dlm_tool", ["join", "twice"])
        #expect(twice.status == 1 && twice.stderr.contains("already joined"), "\(twice)")
        // A client that connects and hangs up without a word does not stop the daemon.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = "\(c.instance(1).runDirectory)/dlm_controld.sock"
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)
        #expect(try c.tool(1, "dlm_tool", ["ls"]).status == 0)
    }

    @Test("dlm_controld: a wrong <dlm> setting exits 78 (restarting will not help), naming the file and the attribute")
    func badSettings() throws {
        let c = try LocalCluster(nodes: 1, extra: "  <dlm protocol=\"carrier-pigeon\"/>\n")
        let r = try c.tool(1, "dlm_controld", ["-C", configfs(c, 1), "-S", sysfs(c, 1)])
        #expect(r.status == 78 && r.stderr.contains("cluster.conf") && r.stderr.contains("<dlm protocol=\"carrier-pigeon\">"), "\(r)")
        let flag = try c.tool(1, "dlm_controld", ["-f", "maybe"])
        #expect(flag.status == 64 && flag.stderr.contains("-f takes 0 or 1"), "\(flag)")
    }

    @Test("o2cb_controld: the node tree follows membership; a pinned node is removed only when released")
    func o2cbTree() throws {
        let c = try cluster(3)
        for k in 1...2 {
            try c.start(k, "o2cb_controld", arguments: ["-C", configfs(c, k), "-p", "7777", "-f", "0"])
        }
        let tree = ConfigfsTree(root: configfs(c, 1) + "/cluster/testcluster")
        // A node's directory comes first and `local` last: wait for the last node's `local`, not just its directory.
        try waitUntil("o2cb tree has three nodes", c) { tree.items("node").count == 3 && tree.read("node/127.0.0.3/local") != nil }
        #expect(tree.read("node/127.0.0.2/num") == "2" && tree.read("node/127.0.0.2/ipv4_address") == "127.0.0.2")
        #expect(tree.read("node/127.0.0.2/ipv4_port") == "7777")
        #expect(tree.read("node/127.0.0.1/local") == "1" && tree.read("node/127.0.0.3/local") == "0")
        #expect(try c.tool(1, "o2cb_tool", ["pin", "3", "ocfs2_controld"]).status == 0)
        c.kill(3)
        let other = ConfigfsTree(root: configfs(c, 2) + "/cluster/testcluster")
        try waitUntil("node 3 gone from node 2's unpinned tree", c) { other.items("node") == ["127.0.0.1", "127.0.0.2"] }
        let nodes = try c.tool(1, "o2cb_tool", ["nodes"])
        #expect(nodes.stdout.contains("left, held (pinned by ocfs2_controld)"), "\(nodes)")
        #expect(tree.items("node").count == 3)
        let wrong = try c.tool(1, "o2cb_tool", ["unpin", "3", "someone-else"])
        #expect(wrong.status == 1 && wrong.stderr.contains("not pinned by someone-else"), "\(wrong)")
        #expect(try c.tool(1, "o2cb_tool", ["unpin", "3", "ocfs2_controld"]).status == 0)
        #expect(tree.items("node") == ["127.0.0.1", "127.0.0.2"])
    }
}
