// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPC
import ClusterTypes
import FenceCore

/// fenced's connection to quorumd (the libcman API), driven from the daemon's loop: the quorum the fence core needs
/// (`cman_get_nodes`, `cman_is_quorate`, the generation), quorumd's notifications, and the calls fencing makes on
/// quorumd: `cman_set_dirty` before joining the domain, `cman_kill_node` for a node whose fence daemon died, and the
/// record of a node's last fence (`cman_node_fenced`, shown by `cman_tool nodes -f`).
///
/// It opens quorumd's admin service (root) when it can; without it (fenced run by another user on a test cluster)
/// the kill and the fence record are refused by quorumd, and are logged as such.
final class QuorumLink {
    let instance: NodeInstance
    private let loop: EventLoop
    private(set) var client: CmanClient?
    /// The connection is on `cman_admin`.
    private(set) var admin = false
    /// quorumd's notifications (state change, try shutdown, config update), in order.
    var onNotification: (CmanIPC.Reason) -> Void = { _ in }
    /// quorumd went away (or broke the protocol): fenced cannot go on without it.
    var onFailure: (ClusterError) -> Void = { _ in }

    init(instance: NodeInstance, loop: EventLoop) {
        self.instance = instance
        self.loop = loop
    }

    /// Connects, registers for notifications and starts reading them. `.notRunning` means quorumd is not up yet.
    func connect() throws(ClusterError) {
        let c: CmanClient
        do {
            c = try CmanClient(instance: instance, admin: true)
            admin = true
        } catch {
            guard error.code == .accessDenied else { throw error }
            c = try CmanClient(instance: instance)
            admin = false
        }
        try c.register(name: "fenced")
        guard let fd = c.eventFD else { throw ClusterError(.disconnected, "\(c.service): the connection has no event descriptor") }
        client = c
        loop.watch(fd: fd, events: [.readable, .error, .hangup]) { [unowned self] _ in readable() }
    }

    private func readable() {
        guard let c = client else { return }
        do {
            while let e = try c.nextEvent(timeoutMilliseconds: 0) {
                if case .notification(let reason) = e { onNotification(reason) }
            }
        } catch {
            fail(error)
        }
    }

    private func fail(_ error: ClusterError) {
        if let fd = client?.eventFD { loop.unwatch(fd: fd) }
        client?.close()
        client = nil
        onFailure(error)
    }

    private func connected() throws(ClusterError) -> CmanClient {
        guard let c = client else { throw ClusterError(.disconnected, "not connected to quorumd") }
        return c
    }

    /// This node's id as quorumd knows it.
    func localNode() throws(ClusterError) -> NodeID { try connected().status().nodeID }

    /// quorumd's view as the fence core takes it: quorate or not, the ring its view is of (cman's generation), and
    /// the nodes it counts as members with their incarnations.
    func quorumView() throws(ClusterError) -> QuorumView {
        let c = try connected()
        let status = try c.status()
        let members = try c.nodes().filter { $0.state == "M" }.map { Fence.QuorumMember(node: $0.id, incarnation: $0.incarnation) }
        return QuorumView(quorate: status.quorate, ringSequence: status.generation, members: members.sorted { $0.node < $1.node })
    }

    /// cman_set_dirty: this node holds state now, so a rejoin without a restart is Disallowed.
    func setDirty() throws(ClusterError) { try connected().setDirty() }

    /// cman_kill_node.
    func kill(_ node: NodeID) throws(ClusterError) { try connected().kill(node: node) }

    /// Answers quorumd's TRY_SHUTDOWN.
    func replyShutdown(allow: Bool) throws(ClusterError) { try connected().replyShutdown(allow: allow) }

    /// cman_node_fenced: quorumd keeps the time and agent of `node`'s last fence.
    func recordFence(_ node: NodeID, wallClockSeconds: UInt64, agent: String) throws(ClusterError) {
        var name = Substring(agent)
        while name.utf8.count > CmanIPC.FenceRecord.agentBytesMax { name = name.dropLast() }  // quorumd keeps at most that much
        try connected().nodeFenced(node, wallClockSeconds: wallClockSeconds, agent: String(name))
    }

    func close() {
        if let fd = client?.eventFD { loop.unwatch(fd: fd) }
        client?.close()
        client = nil
    }
}

/// What the fence core is told about quorum; kept to feed only changes.
struct QuorumView: Equatable {
    var quorate: Bool
    var ringSequence: UInt64
    var members: [Fence.QuorumMember]

    var event: Fence.Event { .quorum(quorate: quorate, ringSequence: ringSequence, members: members) }
}
