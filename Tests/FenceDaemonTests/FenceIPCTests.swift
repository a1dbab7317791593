// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes
import ClusterWire
import Testing

/// fenced's client protocol: every message round-trips, and every truncation is an error, never a trap.
@Suite("FenceIPC codec")
struct FenceIPCTests {
    static let domain = FenceIPC.Domain(
        name: "default", phase: "member", waitState: "fencing", members: [NodeID(1), NodeID(2)], victimCount: 1, victimNow: NodeID(3),
        master: NodeID(1),
        nodes: [FenceIPC.NodeState(node: NodeID(3), member: false, victim: true, lastFenceMaster: NodeID(1), lastFenceHow: .agent,
                                   lastFenceTime: 1_700_000_000, lastFenceAgent: "fence_apc")],
        listing: "fence domain\n", nodeListing: "fence domain\nall nodes\n")

    static let requests: [FenceIPC.Request] = [.join, .leave, .status, .acknowledge(node: NodeID(3)),
                                               .externallyFenced(node: NodeID(3), agent: "fence_ipmilan"), .subscribe, .dump]
    static let responses: [FenceIPC.Response] = [.done, .domain(domain), .refused("node 3 is not a victim"), .text("line 1\nline 2\n")]
    static let events: [FenceIPC.Event] = [
        .victim(node: NodeID(3)),
        .fenced(FenceIPC.Outcome(node: NodeID(3), how: .override, by: NodeID(2), agent: "", wallClockSeconds: 1_700_000_001,
                                 text: "node 127.0.0.3 fence acknowledged by an operator on node 2 at 1700000001")),
    ]

    func roundTrip<M: IPCMessage & Equatable>(_ m: M) throws {
        let decoded = try M.decode(messageID: m.messageID, body: m.body)
        #expect(decoded == m)
        for cut in 0..<m.body.count {
            #expect(throws: WireError.self, "\(m) cut at \(cut)") { _ = try M.decode(messageID: m.messageID, body: Array(m.body.prefix(cut))) }
        }
    }

    @Test("requests round-trip and refuse truncation", arguments: requests)
    func request(_ r: FenceIPC.Request) throws { try roundTrip(r) }

    @Test("responses round-trip and refuse truncation", arguments: responses)
    func response(_ r: FenceIPC.Response) throws { try roundTrip(r) }

    @Test("events round-trip and refuse truncation", arguments: events)
    func event(_ e: FenceIPC.Event) throws { try roundTrip(e) }

    @Test("only the calls that change the domain need the admin service")
    func admin() {
        #expect(Self.requests.filter(\.isAdmin) == [.join, .leave, .acknowledge(node: NodeID(3)), .externallyFenced(node: NodeID(3), agent: "fence_ipmilan")])
    }

    @Test("unknown message ids are errors")
    func unknown() {
        #expect(throws: WireError.self) { _ = try FenceIPC.Request.decode(messageID: 99, body: []) }
        #expect(throws: WireError.self) { _ = try FenceIPC.Response.decode(messageID: 99, body: []) }
        #expect(throws: WireError.self) { _ = try FenceIPC.Event.decode(messageID: 99, body: []) }
    }
}

/// quorumd's side of fencing in the cman protocol: the record fenced sends and the records tools read.
@Suite("CmanIPC fence records")
struct CmanFenceRecordTests {
    static let requests: [CmanIPC.Request] = [.nodeFenced(node: NodeID(3), wallClockSeconds: 1_700_000_000, agent: "fence_apc"), .fenceInfo]

    @Test("the requests round-trip and refuse truncation; recording needs the admin service, reading does not", arguments: requests)
    func request(_ r: CmanIPC.Request) throws {
        #expect(try CmanIPC.Request.decode(messageID: r.messageID, body: r.body) == r)
        for cut in 0..<r.body.count {
            #expect(throws: WireError.self) { _ = try CmanIPC.Request.decode(messageID: r.messageID, body: Array(r.body.prefix(cut))) }
        }
        if case .nodeFenced = r { #expect(r.isAdmin) } else { #expect(!r.isAdmin) }
    }

    @Test("the records round-trip; a hostile count is refused before anything is allocated")
    func records() throws {
        let r = CmanIPC.Response.fenceRecords([CmanIPC.FenceRecord(node: NodeID(2), wallClockSeconds: 5, agent: "fence_ack_manual"),
                                               CmanIPC.FenceRecord(node: NodeID(3), wallClockSeconds: 7, agent: "")])
        #expect(try CmanIPC.Response.decode(messageID: r.messageID, body: r.body) == r)
        for cut in 0..<r.body.count {
            #expect(throws: WireError.self) { _ = try CmanIPC.Response.decode(messageID: r.messageID, body: Array(r.body.prefix(cut))) }
        }
        #expect(throws: WireError.self) { _ = try CmanIPC.Response.decode(messageID: r.messageID, body: [0xff, 0xff, 0xff, 0xff]) }
    }
}
