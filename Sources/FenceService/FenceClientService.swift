// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterTypes
import FenceCore

/// fenced's IPC side (services `fenced` and, for the calls that change the domain, the root-only `fenced-admin`):
/// the domain's status for `fence_tool`, requests handed to the core, and the `victim` / `fenced` events for the
/// daemons that wait for fencing before they recover a failed node's work.
final class FenceClientService: IPCServiceHandler {
    unowned let daemon: FenceDaemon
    /// Connections that asked for events. Keyed by object: the two services number their connections alike.
    private var subscribers: [ObjectIdentifier: IPCConnection] = [:]
    /// `join` calls waiting for the join to get under way (after unfencing): at most one per connection, and a
    /// connection makes one call at a time, so bounded by the open connections (libqb's limit).
    private var pendingJoins: [IPCConnection] = []

    init(daemon: FenceDaemon) { self.daemon = daemon }

    func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        let request: FenceIPC.Request
        do { request = try FenceIPC.Request.decode(messageID: messageID, body: body) } catch {
            daemon.log(.warning, "client pid \(c.pid) sent an invalid request \(messageID): \(error)")
            c.respond(FenceIPC.Response.refused("invalid request \(messageID): \(error)"), status: .invalidRequest)
            return
        }
        if request.isAdmin && c.server !== daemon.adminServer {
            c.respond(FenceIPC.Response.refused("this call changes the fence domain and needs fenced's admin service (root)"),
                      status: .permissionDenied)
            return
        }
        guard daemon.isRunning else {
            c.respond(FenceIPC.Response.refused("fenced is starting: \(daemon.startupState)"), status: .notReady)
            return
        }
        switch request {
        case .status:
            c.respond(FenceIPC.Response.domain(daemon.domainStatus.ipc))
        case .dump:
            c.respond(FenceIPC.Response.text(daemon.dump.text(bytesMax: FenceIPC.Response.textBytesMax - 1024)))
        case .subscribe:
            subscribers[ObjectIdentifier(c)] = c
            c.respond(FenceIPC.Response.done)
        case .join:
            pendingJoins.append(c)
            if case .refused(let why) = daemon.request(.join, from: c) {
                pendingJoins.removeAll { $0 === c }
                c.respond(FenceIPC.Response.refused(why), status: .busy)
            }
        case .leave:
            answer(c, daemon.request(.leave, from: c))
        case .acknowledge(let node):
            answer(c, daemon.request(.acknowledge(node), from: c))
        case .externallyFenced(let node, let agent):
            answer(c, daemon.request(.externallyFenced(node, agent: agent), from: c))
        }
    }

    private func answer(_ c: IPCConnection, _ result: Fence.RequestResult) {
        switch result {
        case .accepted: c.respond(FenceIPC.Response.done)
        case .refused(let why): c.respond(FenceIPC.Response.refused(why), status: .busy)
        }
    }

    func disconnected(_ c: IPCConnection) {
        subscribers[ObjectIdentifier(c)] = nil
        pendingJoins.removeAll { $0 === c }
    }

    // MARK: - Outcomes of joins

    /// The join is under way (unfencing, if any, succeeded): `fence_tool join` returns.
    func joinsUnderWay() {
        for c in pendingJoins where !c.respond(FenceIPC.Response.done) {
            daemon.log(.debug, "fence_tool (pid \(c.pid)) hung up before its join was answered")
        }
        pendingJoins = []
    }

    /// The join failed (unfencing failed): `fence_tool join` fails with the reason.
    func joinsFailed(_ why: String) {
        for c in pendingJoins { c.respond(FenceIPC.Response.refused(why), status: .busy) }
        pendingJoins = []
    }

    // MARK: - Events

    /// Tells every subscriber.
    func publish(_ event: FenceIPC.Event) {
        for (_, c) in subscribers.sorted(by: { $0.value.pid < $1.value.pid }) where !c.sendEvent(event) {
            daemon.log(.debug, "subscriber pid \(c.pid) is gone; event \(event) not sent")
        }
    }

    var subscriberCount: Int { subscribers.count }
}
