// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterSystem
import Testing

/// Where the RelaxNG schema is looked for: an installed binary must find the installed copy and never the build tree.
@Suite("RelaxNG schema search path")
struct SchemaSearchTests {
    /// The checkout these tests were built from (this file is Tests/ClusterConfigTests/SchemaSearchTests.swift).
    static let source = FileIO.directory(of: FileIO.directory(of: FileIO.directory(of: #filePath)))

    @Test("an installed binary looks beside its prefix, then in /usr/share/cluster, never in the build tree")
    func installed() {
        let paths = SchemaValidator.searchPaths(environment: [:], executable: "/opt/cluster/sbin/totemd")
        #expect(paths == ["/opt/cluster/share/cluster/cluster.rng", "/usr/share/cluster/cluster.rng"])
        let usr = SchemaValidator.searchPaths(environment: [:], executable: "/usr/sbin/quorumd")
        #expect(usr == ["/usr/share/cluster/cluster.rng"])
    }

    @Test("$CLUSTER_SCHEMA comes first")
    func environment() {
        let paths = SchemaValidator.searchPaths(environment: ["CLUSTER_SCHEMA": "/tmp/x.rng"], executable: "/usr/local/sbin/groupd")
        #expect(paths == ["/tmp/x.rng", "/usr/local/share/cluster/cluster.rng", "/usr/share/cluster/cluster.rng"])
    }

    @Test("a binary running from the source tree uses that tree's etc/cluster.rng")
    func sourceTree() {
        let paths = SchemaValidator.searchPaths(environment: [:], executable: Self.source + "/.build/debug/totemd")
        #expect(paths.first == Self.source + "/etc/cluster.rng")
        #expect(SchemaValidator.locate() == Self.source + "/etc/cluster.rng" || ProcessEnvironment.current["CLUSTER_SCHEMA"] != nil)
    }
}
