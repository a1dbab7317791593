// SPDX-License-Identifier: Apache-2.0
// fenced-stub: serves fenced's client protocol (FenceIPC) for one node instance, for tests of fenced's clients
// (rgmanager) while the real fenced is not there. It fences nothing by itself: each line "fence N" on stdin
// reports node N fenced (now) to every subscriber and in the domain listing; "victim N" marks N a victim.
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
#if canImport(Glibc)
import Glibc
#endif

final class Stub: IPCServiceHandler {
    var subscribers: [IPCConnection] = []
    var nodes: [NodeID: FenceIPC.NodeState] = [:]

    func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        guard let request = try? FenceIPC.Request.decode(messageID: messageID, body: body) else {  // a test sends valid requests
            c.respond(messageID: messageID, status: .invalidRequest)
            return
        }
        switch request {
        case .subscribe:
            subscribers.append(c)
            c.respond(FenceIPC.Response.done)
        case .status:
            let list = nodes.keys.sorted().map { nodes[$0]! }
            c.respond(FenceIPC.Response.domain(FenceIPC.Domain(name: "default", phase: "member", waitState: "none", members: [],
                                                               victimCount: UInt32(list.filter(\.victim).count), victimNow: NodeID(0),
                                                               master: NodeID(1), nodes: list, listing: "", nodeListing: "")))
        case .join, .leave, .acknowledge, .externallyFenced, .dump:
            c.respond(FenceIPC.Response.done)
        }
    }

    func disconnected(_ c: IPCConnection) { subscribers.removeAll { $0 === c } }

    func command(_ line: String) {
        let words = line.split(separator: " ")
        guard words.count == 2, let n = UInt32(words[1]) else { return }
        let node = NodeID(n)
        let now = UInt64(time(nil))
        switch words[0] {
        case "fence":
            nodes[node] = FenceIPC.NodeState(node: node, member: false, victim: false, lastFenceMaster: NodeID(1), lastFenceHow: .agent,
                                             lastFenceTime: now, lastFenceAgent: "fence-stub")
            let outcome = FenceIPC.Outcome(node: node, how: .agent, by: NodeID(1), agent: "fence-stub", wallClockSeconds: now,
                                           text: "fence node \(n) success (stub)")
            for c in subscribers { c.sendEvent(FenceIPC.Event.fenced(outcome)) }
        case "victim":
            nodes[node] = FenceIPC.NodeState(node: node, member: false, victim: true, lastFenceMaster: NodeID(0), lastFenceHow: .none,
                                             lastFenceTime: 0, lastFenceAgent: "")
            for c in subscribers { c.sendEvent(FenceIPC.Event.victim(node: node)) }
        default:
            return
        }
        print("done \(line)")
        fflush(nil)
    }
}

EventLoop.unblockAllSignals()
let instance: NodeInstance
do { instance = try NodeInstance.resolve() } catch {
    print("fenced-stub: \(error)")
    exit(64)
}
let loop = EventLoop()
let stub = Stub()
let server = IPCServer(name: instance.ipcName(ServiceName.fence), loop: loop, handler: stub)
do { try server.start() } catch {
    print("fenced-stub: \(error)")
    exit(69)
}
var pendingInput: [UInt8] = []
loop.watch(fd: 0, events: [.readable, .hangup]) { _ in
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
    guard n > 0 else {
        loop.stop()
        return
    }
    pendingInput += buffer[0..<n]
    while let nl = pendingInput.firstIndex(of: 10) {
        stub.command(String(decoding: pendingInput[..<nl], as: UTF8.self))
        pendingInput.removeSubrange(...nl)
    }
}
loop.onSignal(SIGTERM) { loop.stop() }
print("ready")
fflush(nil)
loop.run()
server.stop()
