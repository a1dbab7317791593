// SPDX-License-Identifier: Apache-2.0
// testcpg: join a group, print every event, and multicast each line read from stdin.
//
//   testcpg [GROUP]     (default group: GROUP; instance from CLUSTER_INSTANCE)
import ClusterClient
import ClusterIPCProtocol
import ClusterSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

let group = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "GROUP"

/// Multicasts, waiting while groupd applies flow control.
func send(_ client: GroupClient, _ group: String, _ line: [UInt8]) throws {
    while true {
        do {
            try client.multicast(group, line)
            return
        } catch {
            guard error.code == .tryAgain else { throw error }
        }
        usleep(1_000)
    }
}
do {
    let client = try GroupClient(instance: try NodeInstance.resolve())
    try client.join(group, totemEvents: true)
    print("joined \(group) as node \(try client.localNodeID()) pid \(getpid())")
    fflush(nil)
    _ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK)
    var pending = [UInt8]()
    var stdinOpen = true
    while true {
        var fds = [pollfd(fd: client.eventFD ?? -1, events: Int16(POLLIN), revents: 0)]
        if stdinOpen { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&fds, nfds_t(fds.count), 1000)
        while let e = try client.nextEvent(timeoutMilliseconds: 0) {
            switch e {
            case .configurationChange(let g, let members, let joined, let left, _, _):
                let j = joined.map { "\($0.address)(\($0.reason))" }.joined(separator: " ")
                let l = left.map { "\($0.address)(\($0.reason))" }.joined(separator: " ")
                print("CONFCHG \(g) members [\(members.map(\.description).joined(separator: " "))] joined [\(j)] left [\(l)]")
            case .delivery(let g, let sender, let payload):
                print("DELIVER \(g) from \(sender): \(String(decoding: payload, as: UTF8.self))")
            case .totemConfiguration(let ring, let rep, let members):
                print("TOTEM ring \(rep)/\(ring) members [\(members.map(\.description).joined(separator: " "))]")
            }
        }
        fflush(nil)
        if stdinOpen, fds.count > 1, fds[1].revents != 0 {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = read(0, &buf, buf.count)
            if n <= 0 && errno != EAGAIN {
                stdinOpen = false
            } else if n > 0 {
                pending += buf[0..<n]
                while let nl = pending.firstIndex(of: 10) {
                    let line = Array(pending[..<nl])
                    pending.removeSubrange(...nl)
                    try send(client, group, line)
                }
            }
        }
    }
} catch {
    FileHandle.standardError.write(Data("testcpg: \(error)\n".utf8))
    exit(1)
}
