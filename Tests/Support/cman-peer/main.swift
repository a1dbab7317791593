// SPDX-License-Identifier: Apache-2.0
// Test support: a libcman client that registers for notifications and answers TRY_SHUTDOWN as told.
//
//   cman-peer NAME yes|no|silent [--dirty]     (instance from CLUSTER_INSTANCE)
import ClusterClient
import ClusterIPCProtocol
import ClusterSystem
import Foundation

let args = Array(CommandLine.arguments.dropFirst())
guard args.count >= 2 else {
    FileHandle.standardError.write(Data("usage: cman-peer NAME yes|no|silent [--dirty]\n".utf8))
    exit(64)
}
do {
    let client = try CmanClient(instance: try NodeInstance.resolve())
    try client.register(name: args[0])
    if args.contains("--dirty") { try client.setDirty() }
    print("registered")
    fflush(nil)
    while true {
        guard let reason = try client.nextNotification(timeoutMilliseconds: 1_000) else { continue }
        print("notification \(reason)")
        fflush(nil)
        if reason == .tryShutdown && args[1] != "silent" { try client.replyShutdown(allow: args[1] == "yes") }
    }
} catch {
    print("gone: \(error)")
    exit(0)
}
