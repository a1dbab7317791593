// SPDX-License-Identifier: Apache-2.0
// cpgtool: the cluster's process groups and their members (like corosync-cpgtool).
import ArgumentParser
import ClusterClient
import ClusterIPCProtocol
import ClusterSystem
import Foundation
import ToolSupport

struct CPGTool: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cpgtool", abstract: "List process groups and their members.")
    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance (or $CLUSTER_INSTANCE).") var instance: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let groups: [GroupIPC.GroupInfo]
        do {
            groups = try GroupClient(instance: try NodeInstance.resolve(instance: instance)).groups()
        } catch let e as ClusterError {
            throw ToolError(e.message, exit: e.code == .notRunning ? .unavailable : .failure)
        }
        if json {
            struct Member: Encodable { let nodeid: UInt32; let pid: UInt32 }
            struct Group: Encodable { let name: String; let members: [Member] }
            try ToolOutput.json(groups.map { Group(name: $0.name, members: $0.members.map { Member(nodeid: $0.node.rawValue, pid: $0.pid) }) })
            return
        }
        print("Group Name\t       PID\t  Node ID")
        for g in groups {
            print(g.name)
            for m in g.members { print("\t\t" + String(m.pid).leftPad(10) + "\t" + String(m.node.rawValue).leftPad(9)) }
        }
    }
}

extension String {
    func leftPad(_ w: Int) -> String { count >= w ? self : String(repeating: " ", count: w - count) + self }
}

ToolOutput.run("cpgtool") {
    var command = try CPGTool.parseAsRoot()
    try command.run()
}
