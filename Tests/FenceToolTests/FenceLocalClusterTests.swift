// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import FenceAgents
import FenceCore
import Foundation
import Testing
import TestSupportKit

/// tools/fence_localcluster against a local cluster's state directory whose "daemons" are sleep processes (the real
/// localcluster script starts them again through LOCALCLUSTER_BIN).
@Suite("fence_localcluster", .serialized)
struct FenceLocalClusterTests {
    static let agent = TestBinaries.repositoryRoot + "/tools/fence_localcluster"

    /// A two-node local cluster directory with fake daemons running; returns (state dir, fake bin dir).
    static func cluster() throws -> (dir: String, bin: String) {
        let root = try makeTemporaryDirectory("fence-localcluster")
        let dir = root + "/lc", bin = root + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "2\n".write(toFile: dir + "/nodes", atomically: false, encoding: .utf8)
        for d in ["totemd", "quorumd", "groupd", "fenced", "rgmanager"] {
            _ = FileManager.default.createFile(atPath: "\(bin)/\(d)", contents: Data("#!/bin/sh\nexec sleep 120\n".utf8), attributes: [.posixPermissions: 0o755])
        }
        for k in 1...2 {
            try FileManager.default.createDirectory(atPath: "\(dir)/node\(k)", withIntermediateDirectories: true)
            for d in ["totemd", "quorumd"] {
                let p = try ChildProcess("/bin/sleep", ["120"])
                try "\(p.pid)\n".write(toFile: "\(dir)/node\(k)/\(d).pid", atomically: false, encoding: .utf8)
                Self.keep.append(p)
            }
        }
        try "node-two\n".write(toFile: "\(dir)/node2/name", atomically: false, encoding: .utf8)
        return (dir, bin)
    }
    nonisolated(unsafe) static var keep: [ChildProcess] = []

    static func stop(_ dir: String) {
        for k in 1...2 {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/node\(k)")) ?? [] where f.hasSuffix(".pid") {
                if let s = try? String(contentsOfFile: "\(dir)/node\(k)/\(f)", encoding: .utf8), let pid = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    kill(pid, SIGKILL)
                }
            }
        }
        try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent)  // best effort cleanup
    }

    func call(_ lines: [String], env: [String: String] = [:]) throws -> AgentReport {
        let run = Fence.AgentRun(id: 1, purpose: .fence, target: NodeID(2), targetName: "node-two", method: "1", methodNumber: 1, device: "lc",
                                 deviceNumber: 1, agent: Self.agent, stdin: lines, timeout: .seconds(30))
        return try FenceAgents.runSynchronously(run, locator: AgentLocator(environment: [:])).get()
    }

    @Test("off over stdin (nodename= as fenced sends it) kills node K's daemons; status then says off (exit 2); on starts them")
    func offStatusOn() throws {
        let (dir, _) = try Self.cluster()
        defer { Self.stop(dir) }
        let pids = try ["totemd", "quorumd"].map { Int32(try String(contentsOfFile: "\(dir)/node2/\($0).pid", encoding: .utf8).trimmingCharacters(in: .newlines))! }
        let status = try call(["action=status", "port=2", "localcluster_dir=\(dir)"])
        #expect(status.outcome == .success && status.stdout == "Status: ON\n")
        let off = try call(["agent=fence_localcluster", "localcluster_dir=\(dir)", "nodename=node-two", "action=off"])
        #expect(off.outcome == .success && off.stdout == "Success: Powered OFF\n")
        usleep(100_000)
        for p in pids { #expect(kill(p, 0) != 0, "daemon \(p) of node 2 is gone") }
        #expect(try call(["action=status", "plug=2", "localcluster_dir=\(dir)"]).outcome == .failed(exitCode: 2))
        let node1 = try String(contentsOfFile: "\(dir)/node1/totemd.pid", encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(kill(Int32(node1)!, 0) == 0, "node 1 was not touched")
        let list = try call(["action=list-status", "localcluster_dir=\(dir)"])
        #expect(list.stdout == "1,127.0.0.1,on\n2,node-two,off\n")
    }

    @Test("on starts the node's daemons through tools/localcluster (LOCALCLUSTER_BIN for the binaries)")
    func powerOn() throws {
        let (dir, bin) = try Self.cluster()
        defer { Self.stop(dir) }
        let off = try ChildProcess.run(Self.agent, ["-o", "off", "-n", "2", "-d", dir])
        #expect(off.status == 0 && off.stdout == "Success: Powered OFF\n")
        let wrapper = "\(bin)/localcluster"
        let script = "#!/bin/sh\nLOCALCLUSTER_BIN=\(bin) exec \(TestBinaries.repositoryRoot)/tools/localcluster \"$@\"\n"
        _ = FileManager.default.createFile(atPath: wrapper, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        let on = try call(["action=on", "port=2", "localcluster_dir=\(dir)", "localcluster=\(wrapper)"])
        #expect(on.outcome == .success && on.stdout == "Success: Powered ON\n", "\(on.stderr)")
        #expect(on.stderr.contains("node2: started totemd quorumd groupd fenced rgmanager"))
        let status = try call(["action=status", "nodename=node-two", "localcluster_dir=\(dir)"])
        #expect(status.outcome == .success && status.stdout == "Status: ON\n")
    }

    @Test("an unknown node, a missing directory and an unknown action fail with exit 1 and a reason")
    func failures() throws {
        let (dir, _) = try Self.cluster()
        defer { Self.stop(dir) }
        let unknown = try call(["action=off", "port=9", "localcluster_dir=\(dir)"])
        #expect(unknown.outcome == .failed(exitCode: 1) && unknown.stderr.contains("no node \"9\" in the local cluster"))
        let nodir = try call(["action=off", "port=1", "localcluster_dir=/nonexistent/lc"])
        #expect(nodir.outcome == .failed(exitCode: 1) && nodir.stderr.contains("no local cluster in /nonexistent/lc"))
        let weird = try call(["action=explode", "port=1", "localcluster_dir=\(dir)", "bogus=1"])
        #expect(weird.outcome == .failed(exitCode: 1) && weird.stderr.contains("unknown action \"explode\"") && weird.stderr.contains("ignoring unknown option 'bogus=1'"))
    }

    @Test("its metadata is fence-agent metadata: the parameters fenced passes are known")
    func metadata() throws {
        let m = try FenceAgents.metadata(of: Self.agent, locator: AgentLocator(environment: [:])).get()
        #expect(m.accepts("port") && m.accepts("plug") && m.accepts("localcluster_dir") && m.accepts("nodename"))
        #expect(m.actions.isSuperset(of: ["on", "off", "reboot", "status", "list", "metadata"]))
    }
}
