// SPDX-License-Identifier: Apache-2.0
// ccs_tool: create and edit cluster.conf.
import ArgumentParser
import ClusterConfig
import ClusterConfigModel
import ClusterSystem
import Foundation
import ToolSupport

/// `ccs_tool -f FILE SUBCOMMAND …` selects the file before the subcommand (inside `addnode`, `-f` names a fence
/// device, as in the original tool). Strip that global option here and hand the rest to the parser.
nonisolated(unsafe) var globalConfigPath: String?

var arguments = Array(CommandLine.arguments.dropFirst())
while let first = arguments.first, ["-f", "-c", "--config"].contains(first) || first == "-C" {
    if first == "-C" {
        arguments.removeFirst()
        continue
    }
    guard arguments.count >= 2 else {
        ToolOutput.error("ccs_tool: \(first) needs a file name")
        exit(ToolExit.usage.rawValue)
    }
    globalConfigPath = arguments[1]
    arguments.removeFirst(2)
}

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong("config")], help: "The cluster.conf to act on (also: ccs_tool -f FILE …).")
    var config: String?

    @Flag(name: .customShort("C"), help: "Act on the local file only (always the case; kept for compatibility).")
    var localOnly = false

    var path: String { ConfigPath.resolve(config ?? globalConfigPath) }
}

/// Parses `key=value` arguments.
func parseArguments(_ raw: [String]) throws -> [XMLAttribute] {
    try raw.map { item in
        guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
            throw ValidationError("expected key=value, got '\(item)'")
        }
        return XMLAttribute(String(item[..<eq]), String(item[item.index(after: eq)...]))
    }
}

/// Loads `path`, applies `edit`, and writes the result atomically unless the edit introduces errors.
func editConfig(_ path: String, _ edit: (inout XMLDocument) throws(ConfigEditError) -> Void) throws {
    let before = ConfigLoader.load(path: path, useSchema: false)
    guard var document = before.configuration?.document else {
        for d in before.diagnostics { ToolOutput.error(d.description) }
        throw ToolError("cannot edit \(path): it could not be read as XML", exit: .configInvalid)
    }
    do {
        try edit(&document)
    } catch {
        throw ToolError(error.message)
    }
    let text = XMLWriter.serialize(document)
    let after = ConfigLoader.load(bytes: Array(text.utf8), file: path, useSchema: false)
    // Errors already present before the edit (for example two_node while the second node is not yet added) do not
    // block it; new kinds of error do. Numbers are ignored when comparing, since counts and lines shift.
    func shape(_ d: ConfigDiagnostic) -> String { d.message.filter { !$0.isNumber } }
    let known = Set(before.diagnostics.errors.map(shape))
    let introduced = after.diagnostics.errors.filter { !known.contains(shape($0)) }
    if !introduced.isEmpty {
        for d in introduced { ToolOutput.error(d.description) }
        throw ToolError("refusing the change: it would make \(path) invalid; the file was not modified", exit: .configInvalid)
    }
    do {
        try ConfigWriter.write(document, to: path)
    } catch {
        throw ToolError("cannot write \(path): \(error); the file was not modified")
    }
}

struct CCSTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccs_tool",
        abstract: "Create and edit the cluster configuration file.",
        discussion: "Every edit bumps config_version and replaces the file atomically. Use 'ccs_tool -f FILE …' or -c FILE for another file.",
        subcommands: [Create.self, AddNode.self, DelNode.self, AddFence.self, DelFence.self, LsNode.self, LsFence.self])
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a new, empty cluster.conf.")
    @OptionGroup var common: CommonOptions
    @Flag(name: .customShort("2"), help: "A two-node cluster (two_node=1, expected_votes=1).")
    var twoNode = false
    @Flag(name: .long, help: "Overwrite an existing file.")
    var force = false
    @Argument(help: "The cluster name (at most 16 characters).") var name: String

    func run() throws {
        guard name.utf8.count <= ClusterConfiguration.nameLengthMax, !name.isEmpty, !name.contains(" ") else {
            throw ToolError("cluster name '\(name)' must be 1-\(ClusterConfiguration.nameLengthMax) characters without spaces", exit: .usage)
        }
        let path = common.path
        if FileIO.exists(path) && !force {
            throw ToolError("\(path) already exists; use --force to overwrite it")
        }
        try FileIO.makeDirectories(FileIO.directory(of: path))
        try ConfigWriter.write(ConfigEditor.create(clusterName: name, twoNode: twoNode), to: path)
    }
}

struct AddNode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "addnode", abstract: "Add a node.")
    @OptionGroup var common: CommonOptions
    @Option(name: .customShort("n"), help: "Node id (default: the lowest unused).") var nodeID: UInt32?
    @Option(name: .customShort("v"), help: "Votes (default 1).") var votes: UInt32?
    @Option(name: .customShort("f"), help: "Fence device for the node's first fence method.") var fenceDevice: String?
    @Argument(help: "The node name, as it resolves to its cluster address.") var name: String
    @Argument(help: "Per-node fence arguments, key=value (e.g. port=3).") var fenceArguments: [String] = []

    func run() throws {
        let args = try parseArguments(fenceArguments)
        if !args.isEmpty && fenceDevice == nil { throw ValidationError("fence arguments need -f FENCEDEVICE") }
        try editConfig(common.path) { (doc: inout XMLDocument) throws(ConfigEditError) in
            try ConfigEditor.addNode(&doc, name: name, nodeID: nodeID, votes: votes, fenceDevice: fenceDevice, fenceArguments: args)
        }
    }
}

struct DelNode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delnode", abstract: "Remove a node.")
    @OptionGroup var common: CommonOptions
    @Argument var name: String
    func run() throws {
        try editConfig(common.path) { (doc: inout XMLDocument) throws(ConfigEditError) in try ConfigEditor.deleteNode(&doc, name: name) }
    }
}

struct AddFence: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "addfence", abstract: "Add a fence device.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "Device name.") var name: String
    @Argument(help: "Agent, e.g. fence_ipmilan.") var agent: String
    @Argument(help: "Device arguments, key=value.") var arguments: [String] = []
    func run() throws {
        let args = try parseArguments(arguments)
        try editConfig(common.path) { (doc: inout XMLDocument) throws(ConfigEditError) in
            try ConfigEditor.addFenceDevice(&doc, name: name, agent: agent, arguments: args)
        }
    }
}

struct DelFence: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delfence", abstract: "Remove a fence device.")
    @OptionGroup var common: CommonOptions
    @Argument var name: String
    func run() throws {
        try editConfig(common.path) { (doc: inout XMLDocument) throws(ConfigEditError) in try ConfigEditor.deleteFenceDevice(&doc, name: name) }
    }
}

/// Loads the file for listing; listing works on files with errors as long as they parse.
func loadForListing(_ path: String) throws -> ClusterConfiguration {
    let loaded = ConfigLoader.load(path: path, useSchema: false)
    guard let config = loaded.configuration else {
        for d in loaded.diagnostics { ToolOutput.error(d.description) }
        throw ToolError("cannot read \(path)", exit: .configInvalid)
    }
    return config
}

struct LsNode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lsnode", abstract: "List the nodes.")
    @OptionGroup var common: CommonOptions
    @Flag(name: .long, help: "Print JSON.") var json = false
    func run() throws {
        let c = try loadForListing(common.path)
        if json {
            struct Node: Encodable { let name: String; let nodeid: UInt32; let votes: UInt32; let fence: [String] }
            struct Out: Encodable { let cluster: String; let config_version: UInt64; let nodes: [Node] }
            try ToolOutput.json(Out(cluster: c.name, config_version: c.configVersion, nodes: c.nodes.map { n in
                Node(name: n.name, nodeid: n.nodeID, votes: n.votes, fence: n.fenceMethods.flatMap { $0.devices.map(\.name) })
            }))
            return
        }
        print("\nCluster name: \(c.name), config_version: \(c.configVersion)\n")
        print("Nodename".rightPadded(to: 31) + " Votes Nodeid Fencetype")
        for n in c.nodes {
            let fence = n.fenceMethods.flatMap { $0.devices.map(\.name) }.joined(separator: ",")
            print(n.name.rightPadded(to: 31) + String(n.votes).leftPadded(to: 6) + String(n.nodeID).leftPadded(to: 6) + "    " + fence)
        }
    }
}

struct LsFence: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lsfence", abstract: "List the fence devices.")
    @OptionGroup var common: CommonOptions
    @Flag(name: .long, help: "Print JSON.") var json = false
    func run() throws {
        let c = try loadForListing(common.path)
        if json {
            struct Device: Encodable { let name: String; let agent: String; let arguments: [String: String] }
            try ToolOutput.json(c.fenceDevices.map { d in
                Device(name: d.name, agent: d.agent, arguments: Dictionary(d.arguments.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b }))
            })
            return
        }
        print("Name".rightPadded(to: 16) + " Agent")
        for d in c.fenceDevices { print(d.name.rightPadded(to: 16) + " " + d.agent) }
    }
}

do {
    var command = try CCSTool.parseAsRoot(arguments)
    try command.run()
} catch let e as ToolError {
    ToolOutput.error("ccs_tool: \(e.message)")
    exit(e.exit.rawValue)
} catch let e as SystemError {
    ToolOutput.error("ccs_tool: \(e)")
    exit(ToolExit.failure.rawValue)
} catch {
    CCSTool.exit(withError: error)
}
