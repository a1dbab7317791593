// SPDX-License-Identifier: Apache-2.0
// cman_tool: the cluster manager's administration tool.
import ArgumentParser
import ClusterClient
import TotemLink
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
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
        subcommands: [Status.self, Nodes.self, Ring.self, Services.self, Version.self, Expected.self, Votes.self, Kill.self,
                      Leave.self, Join.self, Wait.self, Debug.self])
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

/// Maps cman call failures to tool errors.
func cmanFailure(_ error: ClusterError) -> ToolError {
    switch error.code {
    case .notRunning: ToolError("\(error)", exit: .unavailable)
    case .accessDenied: ToolError("\(error)", exit: .noPermission)
    default: ToolError("\(error)")
    }
}

/// Connects to quorumd (the admin service when `admin`).
func cman(_ node: NodeOptions, admin: Bool = false) throws -> CmanClient {
    do { return try CmanClient(instance: try node.resolve(), admin: admin) } catch let e as ClusterError {
        if e.code == .notRunning { throw ToolError("cannot connect to quorumd: the cluster manager is not running on this node (cman_tool join starts it)", exit: .unavailable) }
        throw cmanFailure(e)
    }
}

/// Runs a cman call, mapping its failure.
func attempt<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as ClusterError { throw cmanFailure(e) }
}

func formatTime(_ seconds: UInt64) -> String {
    guard seconds > 0 else { return "" }
    var t = time_t(seconds)
    var tmv = tm()
    localtime_r(&t, &tmv)
    var buf = [CChar](repeating: 0, count: 32)
    let n = strftime(&buf, buf.count, "%F %H:%M:%S", &tmv)
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the local view of the cluster (votes, quorum, membership).")
    @OptionGroup var node: NodeOptions
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let cmanClient = try cman(node)
        let s = try attempt { try cmanClient.status() }
        if json {
            struct Out: Encodable {
                let version: String; let config_version: UInt64; let cluster_name: String; let cluster_id: UInt16; let member: Bool
                let generation: UInt64; let membership_state: String; let nodes: UInt32; let expected_votes: UInt32; let total_votes: UInt32
                let node_votes: UInt32; let quorum: UInt32; let quorate: Bool; let active_subsystems: UInt32; let flags: [String]
                let node_name: String; let node_id: UInt32; let multicast_addresses: [String]; let node_addresses: [String]
                let disallowed_nodes: [String]; let qdisk_votes: UInt32
            }
            try ToolOutput.json(Out(version: s.version, config_version: s.configVersion, cluster_name: s.clusterName, cluster_id: s.clusterID,
                                    member: s.member, generation: s.generation, membership_state: s.membershipState, nodes: s.nodes,
                                    expected_votes: s.expectedVotes, total_votes: s.totalVotes, node_votes: s.nodeVotes, quorum: s.quorum,
                                    quorate: s.quorate, active_subsystems: s.activeSubsystems, flags: s.flags, node_name: s.nodeName,
                                    node_id: s.nodeID.rawValue, multicast_addresses: s.multicastAddresses, node_addresses: s.nodeAddresses,
                                    disallowed_nodes: s.disallowed, qdisk_votes: s.qdiskVotes))
            return
        }
        for line in s.lines { print(line) }
    }
}

struct Nodes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the nodes: M member, X dead, d Disallowed.")
    @OptionGroup var node: NodeOptions
    @Flag(name: .customShort("a"), help: "Also show each node's addresses.") var addresses = false
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let cmanClient = try cman(node)
        let list = try attempt { try cmanClient.nodes() }
        if json {
            struct Out: Encodable { let nodeid: UInt32; let name: String; let status: String; let votes: UInt32; let incarnation: UInt64; let joined: String; let addresses: [String] }
            try ToolOutput.json(list.map { Out(nodeid: $0.id.rawValue, name: $0.name, status: $0.state, votes: $0.votes, incarnation: $0.incarnation,
                                               joined: formatTime($0.joinTime), addresses: $0.addresses) })
            return
        }
        for line in CmanIPC.Node.table(list, addresses: addresses, joined: formatTime) { print(line) }
    }
}

struct Services: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the cluster's services: every process group with its type, level, id, state and nodes (from groupd).")
    @OptionGroup var node: NodeOptions
    @Flag(name: .long, help: "Print JSON.") var json = false
    func run() throws {
        let groups: [ServiceListing]
        do {
            groups = try GroupClient(instance: try node.resolve()).groups().map(ServiceListing.init)
        } catch let e as ClusterError {
            throw ToolError(e.code == .notRunning ? "cannot list services: groupd is not running on this node" : e.message,
                            exit: e.code == .notRunning ? .unavailable : .failure)
        }
        if json {
            struct Out: Encodable { let type: String; let level: Int; let name: String; let id: String; let state: String; let members: [UInt32] }
            try ToolOutput.json(groups.map { Out(type: $0.type, level: $0.level, name: $0.name, id: String($0.id, radix: 16), state: $0.state, members: $0.nodes) })
        } else {
            print(ServiceListing.text(groups), terminator: "")
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the running config version; -r makes the local cluster.conf the running config everywhere.")
    @OptionGroup var node: NodeOptions
    @Option(name: .customShort("r"), help: "Distribute the local cluster.conf; with a number, require that config_version.") var reload: UInt64?
    @Flag(name: .customLong("reload"), help: "Distribute the local cluster.conf, whatever its version.") var reloadAny = false

    func run() throws {
        if reload != nil || reloadAny {
            let cmanClient = try cman(node, admin: true)
            try attempt { try cmanClient.reloadConfig(version: reload ?? 0) }
        }
        let cmanClient = try cman(node)
        let s = try attempt { try cmanClient.status() }
        print("\(s.version) config \(s.configVersion)")
    }
}

struct Expected: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set the cluster's expected votes.")
    @OptionGroup var node: NodeOptions
    @Option(name: .customShort("e"), help: "Expected votes.") var votes: UInt32
    func run() throws { try attempt { try cman(node, admin: true).setExpected(votes) } }
}

struct Votes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set this node's (or another node's) votes.")
    @OptionGroup var node: NodeOptions
    @Option(name: .customShort("v"), help: "Votes.") var votes: UInt32
    @Option(name: .customShort("n"), help: "Node id or name (default: this node).") var target: String?
    func run() throws {
        let client = try cman(node, admin: true)
        let id = try target.map { try resolveNode($0, client) } ?? NodeID(0)
        try attempt { try client.setVotes(votes, node: id) }
    }
}

/// A node id or name to its id.
func resolveNode(_ text: String, _ client: CmanClient) throws -> NodeID {
    if let n = UInt32(text) { return NodeID(n) }
    let list = try attempt { try client.nodes() }
    guard let n = list.first(where: { $0.name == text }) else {
        let names = list.map { $0.name }.joined(separator: ", ")
        throw ToolError("no node called \(text) (nodes: \(names))", exit: .usage)
    }
    return n.id
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Tell a node to leave the cluster (it stops its stack).")
    @OptionGroup var node: NodeOptions
    @Option(name: .customShort("n"), help: "Node id or name.") var target: String
    func run() throws {
        let client = try cman(node, admin: true)
        let id = try resolveNode(target, client)
        try attempt { try client.kill(node: id) }
    }
}

struct Leave: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Leave the cluster after every registered daemon agrees; 'remove' lowers expected votes, 'force' skips asking.")
    @OptionGroup var node: NodeOptions
    @Argument(help: "remove and/or force.") var flags: [String] = []
    @Option(name: .customShort("t"), help: "Seconds to wait for the answer (default 60).") var timeout: Int32 = 60
    func run() throws {
        for f in flags where f != "remove" && f != "force" { throw ToolError("unknown leave option '\(f)' (remove, force)", exit: .usage) }
        let cmanClient = try cman(node, admin: true)
        try attempt { try cmanClient.leave(remove: flags.contains("remove"), force: flags.contains("force"), timeoutMilliseconds: timeout * 1000) }
    }
}

struct Join: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start this node's cluster stack (totemd, quorumd) and wait until it is a member.")
    @OptionGroup var node: NodeOptions
    @Flag(name: .customShort("w"), help: "Also wait until the cluster is quorate.") var waitQuorate = false
    @Option(name: .customShort("t"), help: "Seconds to wait (default 60).") var timeout: Int = 60

    func run() throws {
        let instance = try node.resolve()
        if (try? CmanClient(instance: instance)) == nil { // not running yet: start it below
            if instance.name.isEmpty && FileManager.default.fileExists(atPath: "/run/systemd/system") {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/systemctl")
                p.arguments = ["start", "quorumd.service"]
                try p.run()
                p.waitUntilExit()
                guard p.terminationStatus == 0 else { throw ToolError("systemctl start quorumd.service failed (\(p.terminationStatus))") }
            } else {
                let dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
                try FileManager.default.createDirectory(atPath: instance.logDirectory, withIntermediateDirectories: true)
                for daemon in ["totemd", "quorumd"] {
                    let running = daemon == "totemd" ? ((try? TotemClient(instance: instance)) != nil) : false // probing only
                    if running { continue }
                    let p = Process()
                    p.executableURL = URL(fileURLWithPath: dir + "/" + daemon)
                    let log = instance.logDirectory + "/\(daemon).out"
                    FileManager.default.createFile(atPath: log, contents: nil)
                    p.standardOutput = FileHandle(forWritingAtPath: log)
                    p.standardError = FileHandle(forWritingAtPath: log)
                    p.standardInput = FileHandle.nullDevice
                    try p.run()
                }
            }
        }
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        while Date() < deadline {
            if let c = try? CmanClient(instance: instance), let s = try? c.status(), s.member, !waitQuorate || s.quorate { return } // still starting
            usleep(100_000)
        }
        throw ToolError("the node did not become a \(waitQuorate ? "quorate " : "")member within \(timeout) s", exit: .unavailable)
    }
}

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Wait until this node is a cluster member (-q: and quorate).")
    @OptionGroup var node: NodeOptions
    @Flag(name: .customShort("q"), help: "Wait for quorum too.") var quorate = false
    @Option(name: .customShort("t"), help: "Seconds to wait (default: forever).") var timeout: Int?

    func run() throws {
        let instance = try node.resolve()
        let deadline = timeout.map { Date().addingTimeInterval(TimeInterval($0)) }
        while deadline.map({ Date() < $0 }) ?? true {
            if let c = try? CmanClient(instance: instance), let s = try? c.status(), s.member, !quorate || s.quorate { return } // not up yet
            usleep(100_000)
        }
        throw ToolError("timed out waiting for \(quorate ? "quorum" : "membership")", exit: .failure)
    }
}

struct Debug: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn quorumd's debug logging on (-d 1) or off (-d 0).")
    @OptionGroup var node: NodeOptions
    @Option(name: .customShort("d"), help: "1 on, 0 off.") var level: Int = 1
    func run() throws { try attempt { try cman(node, admin: true).debug(level != 0) } }
}

/// `cman_tool version -r` takes an optional number, which the parser cannot express: a bare -r becomes --reload.
var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "version", let i = arguments.firstIndex(of: "-r"), i + 1 >= arguments.count || UInt64(arguments[i + 1]) == nil {
    arguments[i] = "--reload"
}

do {
    var command = try CmanTool.parseAsRoot(arguments)
    try command.run()
} catch let e as ToolError {
    ToolOutput.error("cman_tool: \(e.message)")
    exit(e.exit.rawValue)
} catch {
    CmanTool.exit(withError: error)
}
