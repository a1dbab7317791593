// SPDX-License-Identifier: Apache-2.0
// corosync's libcpg as a back end of cpgload (built only where libcpg-dev is installed).
#if canImport(CCPG)
import CCPG
#if canImport(Glibc)
import Glibc
#endif

/// corosync: libcpg to the local corosync's cpg service.
final class LibCPGBackend: CPGBackend {
    private var handle: cpg_handle_t = 0
    private var name = cpg_name()
    var onDeliver: (Member, UnsafeRawBufferPointer) -> Void = { _, _ in }
    var onViewChange: (ViewChange) -> Void = { _ in }
    private(set) var fd: Int32 = -1

    init() throws {
        var callbacks = cpg_callbacks_t(cpg_deliver_fn: libcpgDeliver, cpg_confchg_fn: libcpgConfchg)
        let rc = cpg_initialize(&handle, &callbacks)
        guard rc == CS_OK else { throw BackendError("cpg_initialize: \(rc.rawValue)") }
        cpg_context_set(handle, Unmanaged.passUnretained(self).toOpaque())
        var d: Int32 = -1
        _ = cpg_fd_get(handle, &d)
        fd = d
    }

    func join(_ group: String) -> String? {
        let bytes = Array(group.utf8.prefix(Int(CPG_MAX_NAME_LENGTH)))
        name.length = UInt32(bytes.count)
        withUnsafeMutableBytes(of: &name.value) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let rc = cpg_join(handle, &name)
        return rc == CS_OK ? nil : "cpg_join: \(rc.rawValue)"
    }

    func multicast(_ payload: UnsafeRawBufferPointer) -> SendResult {
        var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: payload.baseAddress), iov_len: payload.count)
        let rc = cpg_mcast_joined(handle, CPG_TYPE_AGREED, &iov, 1)
        if rc == CS_OK { return .sent }
        if rc == CS_ERR_TRY_AGAIN { return .tryAgain }
        return .failed("cpg_mcast_joined: \(rc.rawValue)")
    }

    func dispatch() -> Bool { cpg_dispatch(handle, CS_DISPATCH_ALL) == CS_OK }

    func close() {
        _ = cpg_finalize(handle)
    }

    fileprivate static func of(_ handle: cpg_handle_t) -> LibCPGBackend? {
        var context: UnsafeMutableRawPointer?
        guard cpg_context_get(handle, &context) == CS_OK, let context else { return nil }
        return Unmanaged<LibCPGBackend>.fromOpaque(context).takeUnretainedValue()
    }
}

private func addresses(_ list: UnsafePointer<cpg_address>?, _ n: Int) -> [(Member, UInt32)] {
    guard let list else { return [] }
    return (0..<n).map { (Member(node: list[$0].nodeid, pid: list[$0].pid), list[$0].reason) }
}

private let libcpgDeliver: cpg_deliver_fn_t = { handle, _, node, pid, msg, length in
    guard let backend = LibCPGBackend.of(handle) else { return }
    backend.onDeliver(Member(node: node, pid: pid), UnsafeRawBufferPointer(start: msg, count: length))
}

private let libcpgConfchg: cpg_confchg_fn_t = { handle, _, members, nm, left, nl, joined, nj in
    guard let backend = LibCPGBackend.of(handle) else { return }
    backend.onViewChange(ViewChange(members: addresses(members, nm).map(\.0), left: addresses(left, nl), joined: addresses(joined, nj)))
}
#endif

struct BackendError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
