// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem

/// A connection to the local rgmanager: the agreed service table with the cluster's members (what `clustat`
/// prints), and the administrative requests of `clusvcadm`.
///
/// Requests other than `status` change the cluster's services; rgmanager takes them from root or from the user it
/// runs as.
public final class ResourceClient: @unchecked Sendable {  // one caller thread
    private let ipc: IPCClient
    public let service: String

    public init(instance: NodeInstance) throws(ClusterError) {
        service = instance.ipcName(ServiceName.resources)
        do { ipc = try IPCClient(service: service) } catch { throw .from(error) }
    }

    private func call(_ request: ResourceIPC.Request, timeoutMilliseconds: Int32) throws(ClusterError) -> ResourceIPC.Response {
        let reply: IPCReply
        do { reply = try ipc.call(messageID: request.messageID, body: request.body, timeoutMilliseconds: timeoutMilliseconds) } catch {
            throw .from(error)
        }
        let response: ResourceIPC.Response
        do { response = try ResourceIPC.Response.decode(messageID: reply.messageID, body: reply.body) } catch {
            if reply.status != .ok { throw ClusterError(ClusterError.code(for: reply.status), "\(service) refused: \(reply.status)") }
            throw ClusterError(.failed, "\(service): undecodable reply: \(error)")
        }
        if case .refused(let why) = response {
            throw ClusterError(reply.status == .ok ? .refused : ClusterError.code(for: reply.status), why)
        }
        return response
    }

    /// The service table, the members and what rgmanager is doing.
    public func status() throws(ClusterError) -> ResourceIPC.Status {
        guard case .status(let s) = try call(.status, timeoutMilliseconds: 10_000) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return s
    }

    /// Asks for `action` on `service` (its name, without `service:`), on member `target` (a name or node id) where
    /// the action takes one. Returns once every member has applied it; the service's own start or stop follows.
    @discardableResult
    public func request(_ action: ResourceIPC.Action, service: String, target: String? = nil) throws(ClusterError) -> String {
        guard case .done(let text) = try call(.admin(action, service: service, target: target), timeoutMilliseconds: 30_000) else {
            throw ClusterError(.failed, "\(self.service): unexpected reply")
        }
        return text
    }

    /// `clusvcadm -l` (true) / `-u` (false): locks or unlocks this node's rgmanager; returns the lock state after.
    @discardableResult
    public func lock(_ on: Bool) throws(ClusterError) -> Bool {
        guard case .lockState(let locked) = try call(.lock(on), timeoutMilliseconds: 10_000) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return locked
    }

    /// `clusvcadm -S`: whether this node's rgmanager is locked.
    public func lockState() throws(ClusterError) -> Bool {
        guard case .lockState(let locked) = try call(.lockState, timeoutMilliseconds: 10_000) else { throw ClusterError(.failed, "\(service): unexpected reply") }
        return locked
    }

    public func close() { ipc.disconnect() }
}
