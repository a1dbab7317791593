// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import Testing

@Suite("Broken configurations: every problem, with its line")
struct BrokenConfigTests {
    @Test("one file with many mistakes reports each of them")
    func manyMistakes() {
        let text = """
        <?xml version="1.0"?>
        <cluster name="averyveryverylongclustername" config_version="x1">
          <cman two_node="1" expected_votes="2" port="99999"/>
          <totem token="abc"/>
          <clusternodes>
            <clusternode name="a" nodeid="1" votes="one"/>
            <clusternode name="b" nodeid="1">
              <fence><method name="1"><device name="nosuch"/></method></fence>
            </clusternode>
            <clusternode name="a" nodeid="3"/>
            <clusternode nodeid="4"/>
          </clusternodes>
          <fencedevices><fencedevice name="x"/></fencedevices>
          <rm>
            <failoverdomains>
              <failoverdomain name="d"><failoverdomainnode name="zz" priority="1"/></failoverdomain>
            </failoverdomains>
            <resources><ip address="1.2.3.4"/></resources>
            <service name="s" domain="nodomain" recovery="sometimes">
              <ip ref="9.9.9.9"/>
            </service>
          </rm>
        </cluster>
        """
        let loaded = load(text, file: "bad.conf")
        let lines = loaded.errorLines
        let expected: [(Int, String)] = [
            (2, "config_version' must be a non-negative integer, not 'x1'"),
            (2, "is 28 bytes long; at most 16"),
            (3, "'port' is 99999"),
            (3, "two_node=\"1\" requires exactly two <clusternode> entries, but 4"),
            (3, "requires expected_votes=\"1\", not 2"),
            (4, "'token' must be a non-negative integer, not 'abc'"),
            (6, "'votes' must be a non-negative integer, not 'one'"),
            (7, "nodeid 1 is already used by \"a\" (line 6)"),
            (8, "uses device \"nosuch\", which is not defined in <fencedevices>"),
            (10, "clusternode name \"a\" is already used (line 6)"),
            (11, "missing the required attribute 'name'"),
            (13, "missing the required attribute 'agent'"),
            (16, "names node \"zz\", which is not a <clusternode>"),
            (19, "uses failover domain \"nodomain\""),
            (19, "recovery must be restart, relocate or disable, not \"sometimes\""),
            (20, "<ip ref=\"9.9.9.9\"> refers to a resource that is not defined"),
        ]
        for (line, fragment) in expected {
            #expect(lines.contains { $0.hasPrefix("\(line): ") && $0.contains(fragment) }, "missing \(line): \(fragment) in \(lines)")
        }
        #expect(lines.count == expected.count, "\(lines)")
        #expect(loaded.diagnostics.errors.allSatisfy { $0.description.hasPrefix("bad.conf:\($0.line): ") })
    }

    @Test("malformed XML reports the parser's errors with lines")
    func malformed() {
        let loaded = load("<?xml version=\"1.0\"?>\n<cluster name=\"a\" config_version=\"1\">\n  <clusternodes>\n  </cluster>\n")
        #expect(loaded.configuration == nil)
        #expect(loaded.diagnostics.hasErrors)
        #expect(loaded.diagnostics[0].line == 4)
        #expect(loaded.diagnostics[0].message.contains("mismatch"))
    }

    @Test("external entities are refused and never read")
    func externalEntity() {
        let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE cluster [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<cluster name=\"a\" config_version=\"1\"><clusternodes><clusternode name=\"&xxe;\" nodeid=\"1\"/></clusternodes></cluster>\n"
        let loaded = load(text)
        #expect(loaded.diagnostics.hasErrors)
        #expect(loaded.configuration == nil)
        #expect(!loaded.diagnostics.map(\.message).joined().contains("root:"))
    }

    @Test("internal entity declarations are refused")
    func internalEntity() {
        let text = "<?xml version=\"1.0\"?>\n<!DOCTYPE cluster [<!ENTITY a \"aaaaaaaaaa\">]>\n<cluster name=\"&a;\" config_version=\"1\"><clusternodes><clusternode name=\"n\" nodeid=\"1\"/></clusternodes></cluster>\n"
        #expect(load(text).diagnostics.hasErrors)
    }

    @Test("expected_votes whose quorum is not a majority of the configured votes is an error")
    func expectedVotesBelowMajority() {
        func conf(_ expected: Int, qdisk: Bool = false) -> String {
            """
            <cluster name="c" config_version="1"><cman expected_votes="\(expected)"/><clusternodes>
            <clusternode name="a" nodeid="1"/><clusternode name="b" nodeid="2"/><clusternode name="c" nodeid="3"/>
            <clusternode name="d" nodeid="4"/><clusternode name="e" nodeid="5"/></clusternodes>\(qdisk ? "<quorumd device=\"/dev/null\" votes=\"4\"/>" : "")</cluster>
            """
        }
        #expect(load(conf(3)).errorLines.contains { $0.contains("expected_votes=\"3\" gives a quorum of 2, not a majority of the 5") })
        #expect(!load(conf(4)).errorLines.contains { $0.contains("not a majority") })
        #expect(!load(conf(5)).errorLines.contains { $0.contains("not a majority") })
        // With a quorum disk its votes count too: 9 votes need expected_votes of at least 8.
        #expect(load(conf(5, qdisk: true)).errorLines.contains { $0.contains("not a majority of the 9") })
    }

    @Test("two_node with three nodes, and with a quorum disk")
    func twoNodeRules() {
        let three = """
        <cluster name="c" config_version="1"><cman two_node="1" expected_votes="1"/><clusternodes>
        <clusternode name="a" nodeid="1"/><clusternode name="b" nodeid="2"/><clusternode name="c" nodeid="3"/>
        </clusternodes></cluster>
        """
        #expect(load(three).errorLines.contains { $0.contains("requires exactly two") })
        let qdisk = """
        <cluster name="c" config_version="1"><cman two_node="1" expected_votes="1"/><clusternodes>
        <clusternode name="a" nodeid="1"/><clusternode name="b" nodeid="2"/></clusternodes>
        <quorumd label="qdisk" votes="1"/></cluster>
        """
        #expect(load(qdisk).errorLines.contains { $0.contains("cannot be combined with a quorum disk") })
    }

    @Test("a missing <clusternodes>, bad booleans, bad multicast and quorumd without a device")
    func assorted() {
        let text = """
        <cluster name="c" config_version="1">
          <cman two_node="maybe"><multicast addr="10.1.1.1"/></cman>
          <quorumd interval="1"><heuristic program="ping -c1 gw" score="1"/></quorumd>
        </cluster>
        """
        let lines = load(text).errorLines
        #expect(lines.contains { $0.contains("no <clusternodes>") })
        #expect(lines.contains { $0.hasPrefix("2: ") && $0.contains("must be a boolean") })
        #expect(lines.contains { $0.hasPrefix("2: ") && $0.contains("not an IPv4 multicast address") })
        #expect(lines.contains { $0.hasPrefix("3: ") && $0.contains("needs a device= or a label=") })
    }

    @Test("the schema catches structure the model does not read")
    func schemaStructure() {
        let text = """
        <cluster name="c" config_version="1">
          <clusternodes>
            <clusternode name="a" nodeid="1">
              <fence><device name="x"/></fence>
            </clusternode>
          </clusternodes>
        </cluster>
        """
        let loaded = load(text)
        #expect(loaded.diagnostics.contains { $0.severity == .error && $0.message.hasPrefix("schema:") && $0.line == 4 }, "\(loaded.diagnostics)")
        #expect(loaded.diagnostics.contains { $0.severity == .warning && $0.message.contains("unknown element <device>") })
    }

    @Test("auto_tie_breaker without wait_for_all warns that a fresh node breaks no tie; with it, nothing")
    func autoTieBreakerWarning() {
        for wfa in [false, true] {
            let text = """
            <cluster name="c" config_version="1">
              <cman auto_tie_breaker="1"\(wfa ? " wait_for_all=\"1\"" : "")/>
              <clusternodes><clusternode name="a" nodeid="1"/><clusternode name="b" nodeid="2"/></clusternodes>
            </cluster>
            """
            let loaded = load(text)
            #expect(!loaded.diagnostics.hasErrors, "\(loaded.diagnostics)")
            let warned = loaded.diagnostics.contains { $0.severity == .warning && $0.message.contains("breaks a tie only after it has seen every configured node") }
            #expect(warned == !wfa, "\(loaded.diagnostics)")
        }
    }

    @Test("unknown attributes are warnings, and kept")
    func unknownAttributes() throws {
        let text = """
        <cluster name="c" config_version="1" owner="ops">
          <totem token="3000" futuristic="yes"/>
          <clusternodes><clusternode name="a" nodeid="1" rack="r1"/></clusternodes>
        </cluster>
        """
        let loaded = load(text)
        #expect(!loaded.diagnostics.hasErrors, "\(loaded.diagnostics)")
        #expect(loaded.diagnostics.filter { $0.severity == .warning }.count == 3)
        let c = try #require(loaded.valid)
        #expect(c.totem.extraAttributes == [XMLAttribute("futuristic", "yes")])
        #expect(c.nodes[0].extraAttributes == [XMLAttribute("rack", "r1")])
        #expect(c.extraAttributes == [XMLAttribute("owner", "ops")])
    }
}
