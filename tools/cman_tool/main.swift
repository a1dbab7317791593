// SPDX-License-Identifier: Apache-2.0
// cman_tool: the cluster manager's administration tool.
import ArgumentParser
import ClusterClient
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import Foundation
import ToolSupport

/// Options shared by every subcommand: which node instance to talk to.
struct NodeOptions: ParsableArguments {
    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance (or $CLUSTER_INSTANCE) when several nodes share a host.")
    var instance: String?

    func resolve() throws -> NodeInstance {
        do { return try NodeInstance.resolve(instance: instance) } catch {
            throw ToolError("\(error)", exit: .usage)
        }
    }
}

/// Maps IPC failures to tool errors with the right exit code.
func ipcFailure(_ error: IPCError) -> ToolError {
    switch error {
    case .notRunning: ToolError("\(error)", exit: .unavailable)
    case .permissionDenied: ToolError("\(error)", exit: .noPermission)
    default: ToolError("\(error)")
    }
}

struct CmanTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cman_tool",
        abstract: "Cluster manager administration.",
        subcommands: [Ring.self])
}

struct Ring: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show totem's ring: id, state, members and each ring's status (works without quorumd).")
    @OptionGroup var node: NodeOptions
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Flag(name: .customShort("v"), help: "Also print the protocol and transport counters.") var verbose = false

    func run() throws {
        let instance = try node.resolve()
        let status: TotemIPC.Status
        do {
            let client = try TotemClient(instance: instance)
            status = try client.status()
        } catch {
            throw ipcFailure(error)
        }
        if json {
            struct RingJSON: Encodable { let number: UInt32; let address: String; let status: String }
            struct Out: Encodable {
                let node_id: UInt32; let cluster: String; let state: String; let ring_id: String
                let members: [UInt32]; let transport: String; let rings: [RingJSON]; let counters: [String: UInt64]
            }
            try ToolOutput.json(Out(node_id: status.nodeID.rawValue, cluster: status.clusterName, state: status.state,
                                    ring_id: "\(status.ringRepresentative)/\(status.ringSequence)",
                                    members: status.members.map(\.rawValue), transport: status.transport,
                                    rings: status.rings.map { RingJSON(number: $0.number, address: $0.address, status: $0.status) },
                                    counters: Dictionary(status.counters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })))
            return
        }
        print("Local node ID \(status.nodeID) (cluster \(status.clusterName), transport \(status.transport))")
        print("Ring ID: \(status.ringRepresentative)/\(status.ringSequence)")
        print("State: \(status.state)")
        print("Members: \(status.members.map(\.description).joined(separator: " "))")
        for r in status.rings {
            print("RING ID \(r.number)")
            print("\tid\t= \(r.address)")
            print("\tstatus\t= \(r.status)")
        }
        if verbose {
            for c in status.counters { print("\(c.name): \(c.value)") }
        }
    }
}

do {
    var command = try CmanTool.parseAsRoot()
    try command.run()
} catch let e as ToolError {
    ToolOutput.error("cman_tool: \(e.message)")
    exit(e.exit.rawValue)
} catch {
    CmanTool.exit(withError: error)
}
