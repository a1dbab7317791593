// SPDX-License-Identifier: Apache-2.0
// Test support: a libcman client (instance from CLUSTER_INSTANCE).
//
//   cman-peer NAME yes|no|silent [--dirty]   register for notifications and answer TRY_SHUTDOWN as told
//   cman-peer listen PORT                    listen on a port; print "data FROM TEXT" for each message
//   cman-peer send PORT NODE TEXT            send a port message (NODE 0: everyone listening)
//   cman-peer islistening NODE PORT          print yes or no
//   cman-peer barrier NAME NODES             wait at a barrier; print "released"
import ClusterClient
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Foundation

let args = Array(CommandLine.arguments.dropFirst())
guard args.count >= 2 else {
    FileHandle.standardError.write(Data("usage: cman-peer NAME yes|no|silent [--dirty] | listen PORT | send PORT NODE TEXT | islistening NODE PORT | barrier NAME NODES\n".utf8))
    exit(64)
}
do {
    let client = try CmanClient(instance: try NodeInstance.resolve())
    switch args[0] {
    case "listen":
        try client.bind(port: UInt8(args[1]) ?? 0)
        print("listening")
        fflush(nil)
        while true {
            guard let e = try client.nextEvent(timeoutMilliseconds: 1_000) else { continue }
            if case .data(let from, _, let bytes) = e { print("data \(from) \(String(decoding: bytes, as: UTF8.self))") }
            fflush(nil)
        }
    case "send":
        try client.send(port: UInt8(args[1]) ?? 0, to: NodeID(UInt32(args[2]) ?? 0), bytes: Array(args[3].utf8))
        print("sent")
    case "islistening":
        print(try client.isListening(node: NodeID(UInt32(args[1]) ?? 0), port: UInt8(args[2]) ?? 0) ? "yes" : "no")
    case "barrier":
        try client.barrier(args[1], nodes: UInt32(args[2]) ?? 0)
        print("released")
    default:
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
    }
} catch {
    print("error: \(error)")
    exit(1)
}
