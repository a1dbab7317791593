// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit

@Suite("ccs_tool and ccs_config_validate as commands")
struct CCSToolTests {
    let ccs = TestBinaries.path("ccs_tool")
    let validate = TestBinaries.path("ccs_config_validate")

    @Test("the seed's two-node walk-through: create -2, addfence, addnode ×2, lsnode, lsfence")
    func walkThrough() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let conf = dir + "/cluster.conf"
        for args in [["create", "-2", "foocluster"], ["addfence", "-C", "human", "fence_manual"],
                     ["addnode", "-C", "-n", "1", "-f", "human", "foonode1.fqdn"],
                     ["addnode", "-C", "-n", "2", "-f", "human", "foonode2.fqdn"]] {
            let r = try ChildProcess.run(ccs, ["-f", conf] + args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        let ls = try ChildProcess.run(ccs, ["-f", conf, "lsnode"])
        #expect(ls.stdout.contains("Cluster name: foocluster, config_version: 4"))
        #expect(ls.stdout.contains("foonode2.fqdn"))
        let json = try ChildProcess.run(ccs, ["lsnode", "--json"], environment: ["CLUSTER_CONF": conf])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((decoded?["nodes"] as? [[String: Any]])?.count == 2)
        let fence = try ChildProcess.run(ccs, ["-c", conf, "lsfence"])
        #expect(fence.stdout.contains("human") && fence.stdout.contains("fence_manual"))
        let ok = try ChildProcess.run(validate, ["-f", conf])
        #expect(ok.status == 0 && ok.stdout.contains("Configuration validates"), "\(ok)")
    }

    @Test("a refused edit leaves the file byte-for-byte unchanged")
    func refusedEdit() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let conf = dir + "/cluster.conf"
        _ = try ChildProcess.run(ccs, ["-f", conf, "create", "-2", "pair"])
        _ = try ChildProcess.run(ccs, ["-f", conf, "addnode", "a"])
        _ = try ChildProcess.run(ccs, ["-f", conf, "addnode", "b"])
        let before = try Data(contentsOf: URL(fileURLWithPath: conf))
        let third = try ChildProcess.run(ccs, ["-f", conf, "addnode", "c"])
        #expect(third.status == 78)
        #expect(third.stderr.contains("requires exactly two"), "\(third.stderr)")
        #expect(third.stderr.contains("was not modified"))
        let dup = try ChildProcess.run(ccs, ["-f", conf, "addnode", "-n", "1", "z"])
        #expect(dup.status != 0 && dup.stderr.contains("nodeid 1 is already used"), "\(dup.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: conf)) == before)
        let exists = try ChildProcess.run(ccs, ["-f", conf, "create", "other"])
        #expect(exists.status != 0 && exists.stderr.contains("already exists"))
    }

    @Test("ccs_config_validate prints FILE:LINE: message for each problem and exits non-zero")
    func validateBroken() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let conf = dir + "/broken.conf"
        try """
        <?xml version="1.0"?>
        <cluster name="c" config_version="1">
          <clusternodes>
            <clusternode name="a" nodeid="1"/>
            <clusternode name="b" nodeid="1" votes="lots"/>
          </clusternodes>
        </cluster>
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        let r = try ChildProcess.run(validate, ["-f", conf])
        #expect(r.status == 78)
        #expect(r.stderr.contains("\(conf):5: <clusternode name=\"b\">: attribute 'votes' must be a non-negative integer, not 'lots'"), "\(r.stderr)")
        #expect(r.stderr.contains("\(conf):5: clusternode \"b\": nodeid 1 is already used by \"a\" (line 4)"), "\(r.stderr)")
        let json = try ChildProcess.run(validate, ["-f", conf, "--json"])
        #expect(json.status == 78 && json.stdout.contains("\"valid\" : false"), "\(json.stdout)")
        let missing = try ChildProcess.run(validate, ["-f", dir + "/nope.conf"])
        #expect(missing.status == 78 && missing.stderr.contains("No such file or directory"))
    }
}
