// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupportKit

@Suite("ccs_config_validate --agents")
struct ValidateAgentsTests {
    @Test("asks each agent for its metadata: FILE:LINE warnings for unknown parameters, errors naming node, method and device for a missing agent")
    func agents() throws {
        let dir = try makeTemporaryDirectory("validate-agents")
        defer { try? FileManager.default.removeItem(atPath: dir) }  // best effort cleanup of the test's own directory
        let conf = """
            <?xml version="1.0"?>
            <cluster name="c" config_version="1">
              <clusternodes>
                <clusternode name="a" nodeid="1"><fence><method name="1"><device name="pdu" plug="1" swtich="2"/></method></fence></clusternode>
                <clusternode name="b" nodeid="2"><fence><method name="1"><device name="gone"/></method></fence></clusternode>
              </clusternodes>
              <fencedevices>
                <fencedevice name="pdu" agent="fence_fake" ipaddr="pdu1" passwd_scirpt="/bin/pw"/>
                <fencedevice name="gone" agent="fence_gone"/>
              </fencedevices>
            </cluster>
            """
        try conf.write(toFile: "\(dir)/cluster.conf", atomically: true, encoding: .utf8)
        let meta = """
            #!/bin/sh
            cat <<'EOF'
            <?xml version="1.0" ?>
            <resource-agent name="fence_fake" shortdesc="x"><parameters>
            <parameter name="ipaddr"/><parameter name="plug"/><parameter name="switch"/><parameter name="passwd_script"/>
            </parameters><actions><action name="off"/></actions></resource-agent>
            EOF

            """
        _ = FileManager.default.createFile(atPath: "\(dir)/fence_fake", contents: Data(meta.utf8), attributes: [.posixPermissions: 0o755])
        let validate = TestBinaries.path("ccs_config_validate")
        let plain = try ChildProcess.run(validate, ["-f", "\(dir)/cluster.conf"], environment: ["FENCE_AGENT_PATH": dir])
        #expect(plain.status == 0, "without --agents no agent is run: \(plain.stderr)")
        let r = try ChildProcess.run(validate, ["--agents", "-f", "\(dir)/cluster.conf"], environment: ["FENCE_AGENT_PATH": dir])
        #expect(r.status == 78)
        let f = "\(dir)/cluster.conf"
        #expect(r.stderr.contains("\(f):4: warning: clusternode \"a\" fence method \"1\" device \"pdu\": agent fence_fake has no parameter \"swtich\"\n"))
        #expect(r.stderr.contains("\(f):5: clusternode \"b\" fence method \"1\" device \"gone\": agent fence_gone not found (looked in \(dir), /usr/sbin, /sbin)\n"))
        #expect(r.stderr.contains("\(f):8: warning: fence device \"pdu\": agent fence_fake has no parameter \"passwd_scirpt\"\n"))
        #expect(!r.stderr.contains("\"plug\""))
    }
}
