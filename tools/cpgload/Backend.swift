// SPDX-License-Identifier: Apache-2.0
// The two ways cpgload reaches a closed process group: our GroupClient (groupd) and corosync's libcpg. Both are
// driven by the same loop in main.swift, so the comparison measures the stacks, not two different programs.
import ClusterClient
import ClusterIPCProtocol
import ClusterSystem
#if canImport(Glibc)
import Glibc
#endif

/// A process in a group: node id and pid.
struct Member: Hashable, Comparable {
    var node: UInt32
    var pid: UInt32
    static func < (a: Member, b: Member) -> Bool { (a.node, a.pid) < (b.node, b.pid) }
}

/// A view change of the benchmark's group.
struct ViewChange {
    var members: [Member]
    var left: [(Member, UInt32)]
    var joined: [(Member, UInt32)]
}

enum SendResult { case sent, tryAgain, failed(String) }

/// One CPG connection: join, multicast, and events through `dispatch()` (never blocking) on a descriptor to poll.
protocol CPGBackend: AnyObject {
    /// Called from `dispatch()` for every message: sender and payload.
    var onDeliver: (Member, UnsafeRawBufferPointer) -> Void { get set }
    /// Called from `dispatch()` for every view change of the joined group.
    var onViewChange: (ViewChange) -> Void { get set }
    var fd: Int32 { get }
    /// Joins `group`; false (and the reason) while the stack is not ready for it.
    func join(_ group: String) -> String?
    func multicast(_ payload: UnsafeRawBufferPointer) -> SendResult
    /// Handles every event waiting now; false once the connection is gone.
    func dispatch() -> Bool
    func close()
}

/// Our stack: `GroupClient` to the local groupd.
final class GroupClientBackend: CPGBackend {
    let client: GroupClient
    var group = ""
    var onDeliver: (Member, UnsafeRawBufferPointer) -> Void = { _, _ in }
    var onViewChange: (ViewChange) -> Void = { _ in }
    private var payload: [UInt8] = []

    init(instance: NodeInstance) throws {
        client = try GroupClient(instance: instance)
        client.onEvent = { [unowned self] e in
            switch e {
            case .delivery(let g, let sender, let bytes) where g == group:
                bytes.withUnsafeBytes { onDeliver(Member(node: sender.node.rawValue, pid: sender.pid), $0) }
            case .configurationChange(let g, let members, let joined, let left, _, _) where g == group:
                func m(_ a: GroupIPC.Address) -> Member { Member(node: a.node.rawValue, pid: a.pid) }
                onViewChange(ViewChange(members: members.map(m), left: left.map { (m($0.address), UInt32($0.reason.rawValue)) },
                                        joined: joined.map { (m($0.address), UInt32($0.reason.rawValue)) }))
            default: break
            }
        }
    }

    var fd: Int32 { client.eventFD ?? -1 }

    func join(_ group: String) -> String? {
        self.group = group
        do { try client.join(group) } catch { return "\(error)" }
        return nil
    }

    func multicast(_ bytes: UnsafeRawBufferPointer) -> SendResult {
        if payload.count != bytes.count { payload = [UInt8](repeating: 0, count: bytes.count) }
        payload.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
        do { try client.multicast(group, payload) } catch {
            return error.code == .tryAgain ? .tryAgain : .failed("\(error)")
        }
        return .sent
    }

    func dispatch() -> Bool {
        do { try client.dispatch() } catch { return false }
        return true
    }

    func close() { client.close() }
}
