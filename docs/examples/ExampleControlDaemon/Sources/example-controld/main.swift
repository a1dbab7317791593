// SPDX-License-Identifier: Apache-2.0
// example-controld: joins a process group, follows its membership and the cluster's quorum, and answers staged
// shutdown (it refuses while it holds the group, as a control daemon holding lockspaces would). Everything it
// prints is one line per event, so scripts (and tools/check-sdk) can follow it.
//
//   example-controld [-I INSTANCE] [--group NAME] [--allow-shutdown]
import ClusterClient
import Foundation

struct Options {
    var instance: String?
    var group = "example"
    var allowShutdown = false

    init(_ args: [String]) {
        var rest = args[...]
        while let a = rest.popFirst() {
            switch a {
            case "-I": instance = rest.popFirst()
            case "--group": group = rest.popFirst() ?? group
            case "--allow-shutdown": allowShutdown = true
            default:
                FileHandle.standardError.write(Data("usage: example-controld [-I INSTANCE] [--group NAME] [--allow-shutdown]\n".utf8))
                exit(64)
            }
        }
    }
}

func say(_ line: String) {
    print(line)
    fflush(nil)  // every line goes out at once (the C `stdout` global is not concurrency-safe in Swift 6)
}

/// Retries a call the daemon answers with "try again" (groupd before its first sync, a saturated ring).
func retrying<T>(_ body: () throws(ClusterError) -> T) throws(ClusterError) -> T {
    for _ in 0..<200 {
        do { return try body() } catch where error.code == .tryAgain || error.code == .busy {
            usleep(50_000)
        }
    }
    return try body()
}

/// The cluster's members and quorum as last seen: a state change is reported as what changed (seed 003's
/// STATECHANGE handling in dlm_controld).
struct Topology: Equatable {
    var members: Set<UInt32> = []
    var quorate = false

    static func read(_ cman: CmanClient) throws(ClusterError) -> Topology {
        let nodes = try cman.nodes()
        return Topology(members: Set(nodes.filter { $0.state == "M" }.map(\.id.rawValue)), quorate: try cman.isQuorate())
    }

    func changes(since old: Topology) -> [String] {
        var lines: [String] = []
        for n in members.subtracting(old.members).sorted() { lines.append("node \(n) up") }
        for n in old.members.subtracting(members).sorted() { lines.append("node \(n) down") }
        if quorate != old.quorate { lines.append(quorate ? "quorate" : "inquorate") }
        return lines
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
do {
    let instance = try NodeInstance.resolve(instance: options.instance)
    let cman = try CmanClient(instance: instance)
    try cman.register(name: "example-controld")
    let groups = try GroupClient(instance: instance)
    try retrying { () throws(ClusterError) in try groups.join(options.group) }
    let initial = try Topology.read(cman)
    say("started node \(try groups.localNodeID()) quorate=\(initial.quorate) members=\(initial.members.sorted())")

    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            for try await event in groups.events {
                switch event {
                case .configurationChange(let group, let members, let joined, let left, _, _):
                    say("view \(group) members=\(members.map { "\($0.node):\($0.pid)" }) joined=\(joined.count) left=\(left.count)")
                case .delivery(let group, let sender, let payload):
                    say("message \(group) from \(sender.node):\(sender.pid) \(String(decoding: payload, as: UTF8.self))")
                case .totemConfiguration:
                    break
                }
            }
            say("groupd went away")
        }
        tasks.addTask {
            var topology = initial
            for try await event in cman.events {
                guard case .notification(let reason) = event else { continue }
                switch reason {
                case .tryShutdown:
                    // A control daemon that holds resources says no; the operator must release them first.
                    say("shutdown requested: \(options.allowShutdown ? "allowing" : "refusing, the group is held")")
                    try cman.replyShutdown(allow: options.allowShutdown)
                case .stateChange:
                    let now = try Topology.read(cman)
                    for line in now.changes(since: topology) { say(line) }
                    topology = now
                default:
                    break
                }
            }
            say("quorumd went away")
        }
        try await tasks.next()
        tasks.cancelAll()
    }
} catch {
    FileHandle.standardError.write(Data("example-controld: \(error)\n".utf8))
    exit(1)
}
