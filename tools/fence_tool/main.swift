// SPDX-License-Identifier: Apache-2.0
// fence_tool: join or leave the fence domain, and show it (fence_tool ls), from this node's fenced.
import ArgumentParser
import ClusterClient
import ClusterSystem
import Foundation
import ToolSupport

struct FenceTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fence_tool",
        abstract: "Join or leave the fence domain, or show it.",
        discussion: """
        join    join the fence domain (fenced does so by itself once the cluster is quorate, unless FENCE_JOIN=no)
        leave   leave it cleanly: this node is not fenced for leaving
        ls      the domain as this node sees it: members, victims, master, wait state; -n adds every node's last fence
        dump    fenced's recent log, debug lines included

        With -w, join and leave wait until done and ls waits until the domain has no victim and nothing to wait for,
        each for at most -t seconds. Exits 69 when fenced is not running, 1 when it refuses or the wait times out.
        """)

    @Argument(help: "join, leave, ls or dump.") var action: String
    @Flag(name: .customShort("n"), help: "ls: also list every node with its last fence.") var allNodes = false
    @Flag(name: .customShort("w"), help: "Wait until the action is complete (join, leave, ls).") var wait = false
    @Option(name: .customShort("t"), help: "Seconds -w waits (default 300).") var timeout: Int = 300
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance (or $CLUSTER_INSTANCE) when several nodes share a host.")
    var instance: String?

    func validate() throws {
        guard ["join", "leave", "ls", "dump"].contains(action) else {
            throw ValidationError("unknown action \"\(action)\" (join, leave, ls or dump)")
        }
        if allNodes && action != "ls" { throw ValidationError("-n goes with ls") }
        if wait && action == "dump" { throw ValidationError("-w waits for join, leave or ls; dump prints at once") }
        guard timeout > 0 && timeout <= 86_400 else { throw ValidationError("-t takes 1 to 86400 seconds") }
    }

    func run() throws { try reportingToolErrors("fence_tool") { try perform() } }

    private func perform() throws {
        let node: NodeInstance
        do { node = try NodeInstance.resolve(instance: instance) } catch { throw ToolError("\(error)", exit: .usage) }
        let admin = action == "join" || action == "leave"
        let client = try daemonCall("fenced") { () throws(ClusterError) in try FenceClient(instance: node, admin: admin) }
        defer { client.close() }
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        switch action {
        case "join":
            // Unfencing (if configured) runs before the join is under way: allow it the whole timeout.
            try daemonCall("fenced") { () throws(ClusterError) in try client.join(timeoutMilliseconds: Int32(min(timeout, 2_000_000) * 1000)) }
            if wait { try waitFor(client, deadline, "the join") { $0.phase == "member" } }
            if json { try ToolOutput.json(DomainJSON(try domain(client))) }
        case "leave":
            try daemonCall("fenced") { () throws(ClusterError) in try client.leave() }
            if wait { try waitFor(client, deadline, "the leave") { $0.phase == "outside" } }
            if json { try ToolOutput.json(DomainJSON(try domain(client))) }
        case "ls":
            let d = wait ? try waitFor(client, deadline, "the domain to settle") { $0.victimCount == 0 && $0.waitState == "none" } : try domain(client)
            if json { try ToolOutput.json(DomainJSON(d)) } else { print(allNodes ? d.nodeListing : d.listing, terminator: "") }
        default:
            let text = try daemonCall("fenced") { () throws(ClusterError) in try client.dump() }
            if json {
                struct Dump: Encodable { let lines: [String] }
                try ToolOutput.json(Dump(lines: text.split(separator: "\n").map(String.init)))
            } else {
                print(text, terminator: "")
            }
        }
    }

    private func domain(_ client: FenceClient) throws -> FenceIPC.Domain {
        try daemonCall("fenced") { () throws(ClusterError) in try client.domain() }
    }

    /// Polls the domain until `done` holds; fails when the deadline passes, or when a join falls back outside.
    @discardableResult
    private func waitFor(_ client: FenceClient, _ deadline: Date, _ what: String, _ done: (FenceIPC.Domain) -> Bool) throws -> FenceIPC.Domain {
        var last = try domain(client)
        while !done(last) {
            if action == "join" && last.phase == "outside" {
                throw ToolError("the join did not take effect: fenced is outside the fence domain again (fence_tool dump says why)")
            }
            guard Date() < deadline else {
                throw ToolError("timed out after \(timeout) s waiting for \(what) (phase \(last.phase), wait state \(last.waitState), "
                                + "\(last.victimCount) victim(s))")
            }
            usleep(100_000)
            last = try domain(client)
        }
        return last
    }
}

/// `fence_tool ls --json`.
struct DomainJSON: Encodable {
    struct Node: Encodable {
        let nodeid: UInt32
        let member: Bool
        let victim: Bool
        let last_fence_master: UInt32
        let last_fence_how: String
        let last_fence_time: UInt64
        let last_fence_agent: String
    }
    let name: String
    let phase: String
    let member_count: Int
    let victim_count: UInt32
    let victim_now: UInt32
    let master_nodeid: UInt32
    let wait_state: String
    let members: [UInt32]
    let nodes: [Node]

    init(_ d: FenceIPC.Domain) {
        name = d.name
        phase = d.phase
        member_count = d.members.count
        victim_count = d.victimCount
        victim_now = d.victimNow.rawValue
        master_nodeid = d.master.rawValue
        wait_state = d.waitState
        members = d.members.map(\.rawValue)
        nodes = d.nodes.map {
            Node(nodeid: $0.node.rawValue, member: $0.member, victim: $0.victim, last_fence_master: $0.lastFenceMaster.rawValue,
                 last_fence_how: $0.lastFenceHow.description, last_fence_time: $0.lastFenceTime, last_fence_agent: $0.lastFenceAgent)
        }
    }
}

FenceTool.main()
