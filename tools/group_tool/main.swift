// SPDX-License-Identifier: Apache-2.0
// group_tool: list the cluster's service groups (group_tool ls).
import ClusterClient
import ClusterSystem
import Foundation
import ToolSupport

ToolOutput.run("group_tool") {
    let args = Array(CommandLine.arguments.dropFirst())
    guard args.isEmpty || args == ["ls"] || args == ["ls", "--json"] || args == ["--json"] else {
        throw ToolError("usage: group_tool [ls] [--json]", exit: .usage)
    }
    let groups: [ServiceListing]
    do {
        groups = try GroupClient(instance: try NodeInstance.resolve()).groups().map(ServiceListing.init)
    } catch let e as ClusterError {
        throw ToolError(e.message, exit: e.code == .notRunning ? .unavailable : .failure)
    }
    if args.contains("--json") {
        struct Out: Encodable { let type: String; let level: Int; let name: String; let id: String; let state: String; let members: [UInt32] }
        try ToolOutput.json(groups.map { Out(type: $0.type, level: $0.level, name: $0.name, id: String($0.id, radix: 16), state: $0.state, members: $0.nodes) })
    } else {
        print(ServiceListing.text(groups), terminator: "")
    }
}
