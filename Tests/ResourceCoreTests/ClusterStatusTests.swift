// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ResourceCore
import Testing

@Suite("clustat formats")
struct ClusterStatusTests {
    typealias CS = ResourceManager.ClusterStatus

    /// Two members, three services: one started, one failed last on node2, one disabled and frozen.
    var status: CS {
        var a = CS.Member(name: "node1.example.com", id: NodeID(1), online: true)
        a.local = true
        a.rgmanager = true
        a.rgmanagerMaster = true
        var b = CS.Member(name: "node2.example.com", id: NodeID(2), online: true)
        b.rgmanager = true
        let c = CS.Member(name: "node3.example.com", id: NodeID(3), online: false)
        return CS(clusterName: "webcluster", clusterID: 46516, generation: 748, quorate: true, groupMember: true, time: 1_795_666_506,
                  members: [a, b, c],
                  services: [
                      .init(name: "service:www", state: .started, owner: NodeID(1), lastOwner: NodeID(2), restarts: 1, lastTransition: 1_795_666_000),
                      .init(name: "service:db", state: .failed, owner: nil, lastOwner: NodeID(2), lastTransition: 1_795_660_000),
                      .init(name: "service:mail", state: .disabled, flags: [.frozen], owner: nil, lastOwner: nil),
                  ])
    }

    @Test("text: clustat's header, member table and service table at 80 columns")
    func text() {
        let expected = """
        Cluster Status for webcluster @ Thu Nov 26 04:15:06 2026
        Member Status: Quorate

         Member Name                             ID   Status
         ------ ----                             ---- ------
         node1.example.com                           1 Online, Local, RG-Master
         node2.example.com                           2 Online, RG-Worker
         node3.example.com                           3 Offline

         Service Name                   Owner (Last)                   State         
         ------- ----                   ----- ------                   -----         
         service:www                    node1.example.com              started       
         service:db                     (node2.example.com)            failed        
         service:mail                   (none)                         disabled   [Z]

        """
        #expect(status.text() == expected)
    }

    @Test("long form: state with its number, flags, owners, last transition")
    func long() {
        let out = status.longText()
        #expect(out.hasPrefix("Service Information\n------- -----------\n\nService Name      : service:www\n  Current State   : started (112)\n"))
        #expect(out.contains("Service Name      : service:mail\n  Current State   : disabled (119)\n  Flags           : frozen (1)\n  Owner           : none\n  Last Owner      : none\n"))
        #expect(out.contains("  Last Transition : Thu Nov 26 04:06:40 2026\n"))
    }

    @Test("-x: clustat's XML elements and attributes")
    func xml() {
        let expected = """
        <?xml version="1.0"?>
        <clustat version="4.1.1">
          <cluster name="webcluster" id="46516" generation="748"/>
          <quorum quorate="1" groupmember="1"/>
          <nodes>
            <node name="node1.example.com" state="1" local="1" estranged="0" rgmanager="1" rgmanager_master="1" qdisk="0" nodeid="0x00000001"/>
            <node name="node2.example.com" state="1" local="0" estranged="0" rgmanager="1" rgmanager_master="0" qdisk="0" nodeid="0x00000002"/>
            <node name="node3.example.com" state="0" local="0" estranged="0" rgmanager="0" rgmanager_master="0" qdisk="0" nodeid="0x00000003"/>
          </nodes>
          <groups>
            <group name="service:www" state="112" state_str="started" flags="0" flags_str="" owner="node1.example.com" last_owner="node2.example.com" restarts="1" last_transition="1795666000" last_transition_str="Thu Nov 26 04:06:40 2026"/>
            <group name="service:db" state="114" state_str="failed" flags="0" flags_str="" owner="none" last_owner="node2.example.com" restarts="0" last_transition="1795660000" last_transition_str="Thu Nov 26 02:26:40 2026"/>
            <group name="service:mail" state="119" state_str="disabled" flags="1" flags_str="frozen" owner="none" last_owner="none" restarts="0" last_transition="0" last_transition_str="Thu Jan  1 00:00:00 1970"/>
          </groups>
        </clustat>

        """
        #expect(status.xml() == expected)
    }

    @Test("--json: the same facts, keys sorted")
    func json() {
        let out = status.json()
        #expect(out.hasPrefix("{\n  \"cluster\": {\"generation\": 748, \"id\": 46516, \"name\": \"webcluster\"},\n  \"members\": [\n"))
        #expect(out.contains("{\"flags\": [\"frozen\"], \"lastOwner\": null, \"lastTransition\": 0, \"name\": \"service:mail\", \"owner\": null, \"restarts\": 0, \"state\": \"disabled\", \"stateCode\": 119}"))
        #expect(out.contains("\"quorum\": {\"groupMember\": true, \"quorate\": true}"))
        #expect(out.hasSuffix("  \"time\": 1795666506\n}\n"))
    }

    @Test("ctime in UTC, including leap years and single-digit days")
    func ctime() {
        #expect(CS.ctime(0) == "Thu Jan  1 00:00:00 1970")
        #expect(CS.ctime(951_782_400) == "Tue Feb 29 00:00:00 2000")
        #expect(CS.ctime(1_700_000_000) == "Tue Nov 14 22:13:20 2023")
    }

    @Test("the table's rows as clustat lists them: sorted, with owner and last owner")
    func fromTable() {
        var r = ResourceManager.Record(state: .started, owner: NodeID(2))
        r.lastOwner = NodeID(1)
        let rows = CS.services(["b": r, "a": ResourceManager.Record(state: .disabled)])
        #expect(rows.map(\.name) == ["service:a", "service:b"])
        #expect(rows[1].owner == NodeID(2) && rows[1].lastOwner == NodeID(1))
    }
}
