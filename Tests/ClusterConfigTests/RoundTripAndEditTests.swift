// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterSystem
import Foundation
import Testing

@Suite("Writing cluster.conf back, and ccs_tool edits")
struct RoundTripAndEditTests {
    @Test("examples round-trip byte for byte", arguments: ExampleConfigTests.examples)
    func roundTrip(name: String) throws {
        let path = "\(repositoryRoot)/etc/examples/\(name)"
        let original = String(decoding: try FileIO.read(path), as: UTF8.self)
        let doc = try #require(ConfigLoader.load(path: path).configuration?.document)
        #expect(XMLWriter.serialize(doc) == original)
    }

    @Test("unknown elements, attributes and comments survive an edit")
    func unknownsSurvive() throws {
        let text = """
        <?xml version="1.0"?>
        <!-- site notes -->
        <cluster name="c" config_version="7" owner="ops">
          <future_section knob="3"><inner/></future_section>
          <clusternodes>
            <clusternode name="a" nodeid="1" rack="r1"/>
          </clusternodes>
        </cluster>

        """
        var doc = try #require(load(text).configuration?.document)
        try ConfigEditor.addNode(&doc, name: "b", nodeID: nil, votes: nil, fenceDevice: nil, fenceArguments: [])
        let out = XMLWriter.serialize(doc)
        #expect(out.contains("<!-- site notes -->"))
        #expect(out.contains("<future_section knob=\"3\"><inner/></future_section>"))
        #expect(out.contains("rack=\"r1\""))
        #expect(out.contains("owner=\"ops\""))
        #expect(out.contains("config_version=\"8\""))
        let c = try #require(load(out).configuration)
        #expect(c.nodes.map(\.name) == ["a", "b"])
        #expect(c.nodes[1].nodeID == 2)
    }

    @Test("create, addfence, addnode, delnode, delfence")
    func editSequence() throws {
        var doc = ConfigEditor.create(clusterName: "foocluster", twoNode: true)
        try ConfigEditor.addFenceDevice(&doc, name: "human", agent: "fence_manual", arguments: [])
        try ConfigEditor.addNode(&doc, name: "foonode1.fqdn", nodeID: 1, votes: nil, fenceDevice: "human", fenceArguments: [])
        try ConfigEditor.addNode(&doc, name: "foonode2.fqdn", nodeID: 2, votes: nil, fenceDevice: "human", fenceArguments: [XMLAttribute("port", "2")])
        var loaded = load(XMLWriter.serialize(doc))
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
        var c = try #require(loaded.valid)
        #expect(c.configVersion == 4)
        #expect(c.cman.twoNode && c.cman.expectedVotes == 1)
        #expect(c.nodes[1].fenceMethods[0].devices[0].arguments == [XMLAttribute("port", "2")])
        #expect(throws: ConfigEditError.self) { try ConfigEditor.addNode(&doc, name: "foonode1.fqdn", nodeID: 9, votes: nil, fenceDevice: nil, fenceArguments: []) }
        #expect(throws: ConfigEditError.self) { try ConfigEditor.addNode(&doc, name: "x", nodeID: 2, votes: nil, fenceDevice: nil, fenceArguments: []) }
        #expect(throws: ConfigEditError.self) { try ConfigEditor.addNode(&doc, name: "x", nodeID: 5, votes: nil, fenceDevice: "nope", fenceArguments: []) }
        #expect(throws: ConfigEditError.self) { try ConfigEditor.deleteFenceDevice(&doc, name: "human") }
        try ConfigEditor.deleteNode(&doc, name: "foonode1.fqdn")
        try ConfigEditor.deleteNode(&doc, name: "foonode2.fqdn")
        try ConfigEditor.deleteFenceDevice(&doc, name: "human")
        #expect(throws: ConfigEditError.self) { try ConfigEditor.deleteNode(&doc, name: "foonode1.fqdn") }
        loaded = load(XMLWriter.serialize(doc), schema: false)
        c = try #require(loaded.configuration)
        #expect(c.nodes.isEmpty && c.fenceDevices.isEmpty)
        #expect(c.configVersion == 7)
    }

    @Test("an atomic write that fails leaves the old file intact")
    func atomicWriteFailure() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cluster.conf"
        try FileIO.writeAtomically(path, Array("old".utf8))
        chmod(dir, 0o555)
        defer { chmod(dir, 0o755) }
        // root ignores directory permissions; make the target a directory-less path instead in that case.
        let target = getuid() == 0 ? dir + "/missing-subdir/cluster.conf" : path
        #expect(throws: SystemError.self) { try FileIO.writeAtomically(target, Array("new".utf8)) }
        #expect(String(decoding: try FileIO.read(path), as: UTF8.self) == "old")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp.") }
        #expect(leftovers.isEmpty)
    }

    @Test("an atomic write replaces the file and keeps its mode")
    func atomicWrite() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f"
        try FileIO.writeAtomically(path, Array("one".utf8), mode: 0o600)
        try FileIO.writeAtomically(path, Array("two".utf8))
        #expect(String(decoding: try FileIO.read(path), as: UTF8.self) == "two")
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
    }
}
