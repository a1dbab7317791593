// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import Foundation
import Testing

@Suite("The example configurations in etc/")
struct ExampleConfigTests {
    static let examples = ["postgres-drbd.conf", "iscsi.conf", "webserver.conf", "cluster.conf"]

    @Test("every example parses and validates with no errors or warnings", arguments: examples)
    func validates(name: String) throws {
        let loaded = ConfigLoader.load(path: "\(repositoryRoot)/etc/examples/\(name)")
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics.map(\.description))")
        #expect(loaded.valid != nil)
    }

    @Test("the two-node PostgreSQL/DRBD cluster reads as the seed describes it")
    func postgres() throws {
        let c = try #require(ConfigLoader.load(path: "\(repositoryRoot)/etc/examples/postgres-drbd.conf").valid)
        #expect(c.name == "dbcluster")
        #expect(c.configVersion == 123)
        #expect(c.cman.twoNode && c.cman.expectedVotes == 1)
        #expect(c.fenceDaemon.cleanStart)
        #expect(c.nodes.map(\.name) == ["node0", "node1"])
        #expect(c.nodes.map(\.nodeID) == [1, 2])
        let rm = try #require(c.resourceManager)
        #expect(rm.services.count == 1)
        let db = rm.services[0]
        #expect(db[attribute: "recovery"] == "relocate")
        #expect(db.children.map(\.displayName) == ["service:dbnode", "service:dbms"])
        #expect(db.children[0].children.map(\.displayName) == ["ip:10.80.4.200/22", "drbd:dbdev"])
        #expect(db.children[0].children[1].children.map(\.displayName) == ["fs:dbfs"])
    }

    @Test("the iSCSI cluster's fencing and logging")
    func iscsi() throws {
        let c = try #require(ConfigLoader.load(path: "\(repositoryRoot)/etc/examples/iscsi.conf").valid)
        #expect(c.fenceDevices.map(\.agent) == ["fence_nps"])
        #expect(c.fenceDevices[0].arguments.map(\.name) == ["ipaddr", "passwd"])
        #expect(c.nodes[1].fenceMethods[0].devices[0].arguments == [XMLAttribute("port", "2")])
        let fenced = c.logging.effectiveOptions(daemon: "fenced")
        #expect(fenced.logfile == "/var/log/cluster/fenced.log")
        #expect(fenced.syslogFacility == .daemon && fenced.toSyslog == true)
        #expect(c.logging.effectiveOptions(daemon: "quorumd").logfile == "/var/log/cluster/quorumd.log")
        #expect(c.effectiveClusterID == CmanConfig.derivedClusterID(fromName: "iscsicluster"))
        #expect(c.effectiveMulticastAddress.hasPrefix("239.192."))
    }

    @Test("the web server's failover domains and shared resources")
    func webserver() throws {
        let c = try #require(ConfigLoader.load(path: "\(repositoryRoot)/etc/examples/webserver.conf").valid)
        let rm = try #require(c.resourceManager)
        #expect(rm.failoverDomains.map(\.name) == ["www-domain", "oracle-domain"])
        #expect(rm.failoverDomains[0].noFailback && !rm.failoverDomains[0].ordered)
        #expect(rm.failoverDomains[0].nodes.map(\.priority) == [2, 1])
        #expect(rm.resources.map(\.displayName) == ["script:httpd", "fs:docroot", "ip:192.168.10.80/24"])
        #expect(rm.services[0].children.map(\.displayName) == ["ip:192.168.10.80/24", "fs:docroot"])
        #expect(c.totem.token == .milliseconds(5000))
        #expect(c.fenceDaemon.postJoinDelay == .seconds(20))
    }

    @Test("the RelaxNG schema itself loads")
    func schemaLoads() throws {
        let diags = SchemaValidator.validate(Array("<cluster name=\"a\" config_version=\"1\"><clusternodes><clusternode name=\"n\" nodeid=\"1\"/></clusternodes></cluster>".utf8), file: "t")
        #expect(diags.isEmpty, "\(diags)")
    }
}
