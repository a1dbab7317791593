// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes
import ClusterWire
import Testing

/// rgmanager's client protocol: every message round-trips, and every truncation is an error, never a trap.
@Suite("ResourceIPC codec")
struct ResourceIPCTests {
    static let status = ResourceIPC.Status(
        clusterName: "alpha", clusterID: 4242, generation: 12, quorate: true, groupMember: true, time: 1_700_000_000, localNode: NodeID(2),
        members: [ResourceIPC.Member(name: "node1", id: NodeID(1), online: true, local: false, estranged: false, rgmanager: true, rgmanagerMaster: true),
                  ResourceIPC.Member(name: "node2", id: NodeID(2), online: false, local: true, estranged: true, rgmanager: false, rgmanagerMaster: false)],
        services: [ResourceIPC.Service(name: "www", state: 112, flags: 3, owner: NodeID(1), lastOwner: NodeID(2), restarts: 4, lastTransition: 1_699_999_999),
                   ResourceIPC.Service(name: "db", state: 119, flags: 0, owner: NodeID(0), lastOwner: NodeID(0), restarts: 0, lastTransition: 0)],
        activity: "waiting for node(s) 3 to be fenced before placing services")

    static let requests: [ResourceIPC.Request] = [.status] + ResourceIPC.Action.allCases.map { .admin($0, service: "www", target: nil) }
        + [.admin(.relocate, service: "www", target: "node2"), .admin(.enable, service: "", target: ""), .lock(true), .lock(false), .lockState]
    static let responses: [ResourceIPC.Response] = [.status(status), .done("relocate service:www: agreed"), .refused("service:nosuch does not exist"),
                                                    .lockState(true), .lockState(false)]

    func roundTrip<M: IPCMessage & Equatable>(_ m: M) throws {
        let decoded = try M.decode(messageID: m.messageID, body: m.body)
        #expect(decoded == m)
        for cut in 0..<m.body.count {
            #expect(throws: WireError.self, "\(m) cut at \(cut)") { _ = try M.decode(messageID: m.messageID, body: Array(m.body.prefix(cut))) }
        }
    }

    @Test("requests round-trip and refuse truncation", arguments: requests)
    func request(_ r: ResourceIPC.Request) throws { try roundTrip(r) }

    @Test("responses round-trip and refuse truncation", arguments: responses)
    func response(_ r: ResourceIPC.Response) throws { try roundTrip(r) }

    @Test("unknown ids, unknown actions and names over the limit are errors")
    func invalid() {
        #expect(throws: WireError.self) { _ = try ResourceIPC.Request.decode(messageID: 99, body: []) }
        #expect(throws: WireError.self) { _ = try ResourceIPC.Response.decode(messageID: 99, body: []) }
        var bad = ResourceIPC.Request.admin(.enable, service: "www", target: nil).body
        bad[0] = 42
        #expect(throws: WireError.self) { _ = try ResourceIPC.Request.decode(messageID: 2, body: bad) }
        let long = ResourceIPC.Request.admin(.enable, service: String(repeating: "x", count: ResourceIPC.nameBytesMax + 1), target: nil)
        #expect(throws: WireError.self) { _ = try ResourceIPC.Request.decode(messageID: long.messageID, body: long.body) }
        #expect(ResourceIPC.Action.allCases.map(\.description) == ["enable", "disable", "relocate", "restart", "stop", "freeze", "unfreeze"])
        #expect(ServiceName.resources == "rgmanager")
    }
}
