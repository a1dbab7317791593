// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit

/// fence_node as a command: fake agents in a temporary directory (found through FENCE_AGENT_PATH), and Debian's
/// fence_dummy when it is installed.
@Suite("fence_node")
struct FenceNodeTests {
    let fenceNode = TestBinaries.path("fence_node")

    static func conf(_ dir: String) -> String {
        """
        <?xml version="1.0"?>
        <cluster name="c" config_version="1">
          <clusternodes>
            <clusternode name="a" nodeid="1"><fence>
                <method name="ghost"><device name="nowhere"/></method>
                <method name="power"><device name="good" port="1"/><device name="bad" port="1"/></method>
                <method name="missing"><device name="absent"/></method>
                <method name="san"><device name="good" port="9"/></method></fence>
              <unfence><device name="good" action="on"/></unfence></clusternode>
            <clusternode name="b" nodeid="2"><fence><method name="1"><device name="bad"/></method></fence></clusternode>
          </clusternodes>
          <fencedevices>
            <fencedevice name="good" agent="fence_good" passwd="hunter2"/>
            <fencedevice name="bad" agent="fence_bad"/>
            <fencedevice name="absent" agent="fence_absent"/>
          </fencedevices>
        </cluster>
        """
    }

    static func sandbox() throws -> String {
        let dir = try makeTemporaryDirectory("fence-node")
        try Self.conf(dir).write(toFile: "\(dir)/cluster.conf", atomically: true, encoding: .utf8)
        let good = "#!/bin/sh\ncat >> \(dir)/calls\necho --- >> \(dir)/calls\necho 'good agent' >&2\nexit 0\n"
        let bad = "#!/bin/sh\ncat > /dev/null\necho 'Failed: Unable to obtain correct plug status' >&2\nexit 1\n"
        for (name, body) in [("fence_good", good), ("fence_bad", bad)] {
            _ = FileManager.default.createFile(atPath: "\(dir)/\(name)", contents: Data(body.utf8), attributes: [.posixPermissions: 0o755])
        }
        return dir
    }

    func run(_ dir: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run(fenceNode, ["-f", "\(dir)/cluster.conf"] + args, environment: ["FENCE_AGENT_PATH": dir])
    }

    @Test("methods in order until one succeeds; each broken device named with node, method and device")
    func methodsInOrder() throws {
        let dir = try Self.sandbox()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // best effort cleanup of the test's own directory
        let r = try run(dir, ["a"])
        #expect(r.status == 0)
        #expect(r.stdout == "fence a success\n")
        #expect(r.stderr.contains("fence_node: fence a method ghost device nowhere: device \"nowhere\" is not defined in <fencedevices>"))
        #expect(r.stderr.contains("fence_node: fence a method power device bad: agent fence_bad result: error from agent (exit 1)\n    Failed: Unable to obtain correct plug status"))
        #expect(r.stderr.contains("fence_node: fence a method missing device absent: agent fence_absent not found (looked in \(dir), /usr/sbin, /sbin)"))
        let calls = try String(contentsOfFile: "\(dir)/calls", encoding: .utf8)
        #expect(calls == "port=1\nagent=fence_good\npasswd=hunter2\nnodename=a\naction=off\n---\nport=9\nagent=fence_good\npasswd=hunter2\nnodename=a\naction=off\n---\n")
    }

    @Test("every method failing exits 1; -v prints each call and result, -vv the input with secrets masked; -U unfences")
    func failureVerboseUnfence() throws {
        let dir = try Self.sandbox()
        defer { try? FileManager.default.removeItem(atPath: dir) }  // best effort cleanup of the test's own directory
        let failed = try run(dir, ["b"])
        #expect(failed.status == 1 && failed.stderr.hasSuffix("fence_node: fence b failed\n"))
        let v = try run(dir, ["-vv", "-U", "1"])
        #expect(v.status == 0)
        #expect(v.stdout == """
            unfence a method unfence device good: agent \(dir)/fence_good
                action=on
                agent=fence_good
                passwd=***
                nodename=a
            unfence a method unfence device good: agent fence_good result: success
                good agent
            unfence a success (method unfence, fence_good)

            """)
        let none = try run(dir, ["-U", "b"])
        #expect(none.status == 0 && none.stdout == "unfence b: no <unfence> devices are configured; nothing to do\n")
        let unknown = try run(dir, ["zz"])
        #expect(unknown.status == 1 && unknown.stderr.hasSuffix("fence_node: node \"zz\" is not in \(dir)/cluster.conf\n"))
    }

    @Test("Debian's fence_dummy, unmodified, fenced and unfenced through the stdin protocol",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/fence_dummy"),
                   "fence_dummy is not installed (Debian package fence-agents; tools/deps installs it)"))
    func fenceDummy() throws {
        let dir = try makeTemporaryDirectory("fence-dummy")
        defer { try? FileManager.default.removeItem(atPath: dir) }  // best effort cleanup of the test's own directory
        let conf = """
            <?xml version="1.0"?>
            <cluster name="c" config_version="1">
              <clusternodes>
                <clusternode name="a" nodeid="1"><fence><method name="1"><device name="d"/></method></fence>
                  <unfence><device name="d" action="on"/></unfence></clusternode>
              </clusternodes>
              <fencedevices><fencedevice name="d" agent="fence_dummy" type="file" status_file="\(dir)/status"/></fencedevices>
            </cluster>
            """
        try conf.write(toFile: "\(dir)/cluster.conf", atomically: true, encoding: .utf8)
        let on = try ChildProcess.run(fenceNode, ["-f", "\(dir)/cluster.conf", "-U", "a"])
        #expect(on.status == 0 && on.stdout == "unfence a success\n")
        #expect(try String(contentsOfFile: "\(dir)/status", encoding: .utf8) == "on")
        let off = try ChildProcess.run(fenceNode, ["-f", "\(dir)/cluster.conf", "a"])
        #expect(off.status == 0 && off.stdout == "fence a success\n")
        #expect(try String(contentsOfFile: "\(dir)/status", encoding: .utf8) == "off")
    }
}
