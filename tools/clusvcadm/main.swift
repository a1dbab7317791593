// SPDX-License-Identifier: Apache-2.0
// clusvcadm: enable, disable, relocate, restart, stop, freeze and unfreeze the cluster's services.
import ArgumentParser
import ClusterClient
import ClusterSystem
import Foundation
import ToolSupport

struct Clusvcadm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clusvcadm",
        abstract: "Operate the cluster's services through this node's rgmanager.",
        discussion: """
            Exactly one of -e -d -r -R -s -Z -U, naming a service (NAME or service:NAME); -m names a member for -e and -r.
            -e, -r and -R wait until the service runs (at most -w seconds, default 60), -d and -s until it is stopped.
            Exit status: 0 done; 1 refused or failed (the reason on stderr); 64 usage; 69 rgmanager not running here.
            """)

    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance (or $CLUSTER_INSTANCE) when several nodes share a host.")
    var instance: String?
    @Option(name: .customShort("e"), help: ArgumentHelp("Enable (start) SERVICE.", valueName: "service")) var enable: String?
    @Option(name: .customShort("d"), help: ArgumentHelp("Disable (stop and keep stopped) SERVICE.", valueName: "service")) var disable: String?
    @Option(name: .customShort("r"), help: ArgumentHelp("Relocate SERVICE to another member (-m to choose).", valueName: "service")) var relocate: String?
    @Option(name: .customShort("R"), help: ArgumentHelp("Restart SERVICE in place.", valueName: "service")) var restart: String?
    @Option(name: .customShort("s"), help: ArgumentHelp("Stop SERVICE until it is enabled again or the membership changes.", valueName: "service")) var stop: String?
    @Option(name: .customShort("Z"), help: ArgumentHelp("Freeze SERVICE: no status checks, no recovery.", valueName: "service")) var freeze: String?
    @Option(name: .customShort("U"), help: ArgumentHelp("Unfreeze SERVICE.", valueName: "service")) var unfreeze: String?
    @Option(name: .customShort("m"), help: ArgumentHelp("The member (name or node id) for -e and -r.", valueName: "member")) var member: String?
    @Option(name: .customShort("w"), help: ArgumentHelp("Seconds to wait for the service to settle (0: do not wait).", valueName: "seconds")) var wait = 60
    @Flag(name: .customShort("l"), help: "Lock services for cluster shutdown (not supported).") var lock = false
    @Flag(name: .customShort("u"), help: "Unlock services (not supported).") var unlock = false
    @Flag(name: .customShort("S"), help: "Show the lock state (not supported).") var showLock = false

    /// The one action asked for and its service (without `service:`).
    func action() throws -> (ResourceIPC.Action, String) {
        let all: [(ResourceIPC.Action, String?)] = [(.enable, enable), (.disable, disable), (.relocate, relocate), (.restart, restart),
                                                     (.stop, stop), (.freeze, freeze), (.unfreeze, unfreeze)]
        let given = all.compactMap { a, s in s.map { (a, $0) } }
        guard given.count == 1, let (action, raw) = given.first else {
            throw ToolError("exactly one of -e -d -r -R -s -Z -U is needed (see --help)", exit: .usage)
        }
        let name = raw.hasPrefix("service:") ? String(raw.dropFirst(8)) : raw
        guard !name.isEmpty else { throw ToolError("no service named", exit: .usage) }
        if member != nil && action != .enable && action != .relocate { throw ToolError("-m applies only to -e and -r", exit: .usage) }
        return (action, name)
    }

    func run() throws {
        if lock || unlock || showLock {
            throw ToolError("-l, -u and -S (service locks for cluster shutdown) are not supported: stop rgmanager on each node instead", exit: .usage)
        }
        let (action, service) = try action()
        guard wait >= 0 else { throw ToolError("-w takes a number of seconds", exit: .usage) }
        let node: NodeInstance
        do { node = try NodeInstance.resolve(instance: instance) } catch { throw ToolError("\(error)", exit: .usage) }
        let client: ResourceClient
        do { client = try ResourceClient(instance: node) } catch {
            throw ToolError(error.code == .notRunning ? "rgmanager is not running on this node" : error.message,
                            exit: error.code == .notRunning ? .unavailable : .failure)
        }
        defer { client.close() }
        let before = try? client.status()  // only to tell a relocation's old owner; the request says the rest
        print(Self.announce(action, "service:\(service)", member), terminator: "")
        fflush(nil)
        do {
            try client.request(action, service: service, target: member)
        } catch {
            print("Failure")
            throw ToolError(error.message, exit: error.code == .notRunning || error.code == .disconnected ? .unavailable : .failure)
        }
        print("Success")
        guard wait > 0 else { return }
        try settle(client, action, service, oldOwner: before?.services.first { $0.name == service }?.owner)
    }

    static func announce(_ action: ResourceIPC.Action, _ service: String, _ member: String?) -> String {
        switch action {
        case .enable: member.map { "Trying to enable \(service) on \($0)..." } ?? "Local machine trying to enable \(service)..."
        case .disable: "Local machine disabling \(service)..."
        case .relocate: member.map { "Trying to relocate \(service) to \($0)..." } ?? "Trying to relocate \(service)..."
        case .restart: "Local machine trying to restart \(service)..."
        case .stop: "Local machine stopping \(service)..."
        case .freeze: "Local machine freezing \(service)..."
        case .unfreeze: "Local machine unfreezing \(service)..."
        }
    }

    /// Waits until the service reached what the action asked for, and says where it runs.
    func settle(_ client: ResourceClient, _ action: ResourceIPC.Action, _ service: String, oldOwner: NodeID?) throws {
        let started: UInt16 = 112, stopped: UInt16 = 110, failed: UInt16 = 114, disabled: UInt16 = 119
        let deadline = Date().addingTimeInterval(Double(wait))
        var last: (ResourceIPC.Status, ResourceIPC.Service)?
        // A restart or relocation first stops the service: wait for the stop to have begun before judging "started".
        var sawStop = action != .restart && action != .relocate
        while Date() < deadline {
            let status: ResourceIPC.Status
            do { status = try client.status() } catch { throw ToolError("rgmanager: \(error.message)") }
            guard let row = status.services.first(where: { $0.name == service }) else { throw ToolError("service:\(service) vanished") }
            last = (status, row)
            if row.state != started { sawStop = true }
            let owner = status.members.first { $0.id == row.owner }?.name ?? "node \(row.owner)"
            switch action {
            case .enable, .relocate, .restart:
                if row.state == started && sawStop && (action != .relocate || row.owner != oldOwner || member != nil) {
                    print("service:\(service) is now running on \(owner)")
                    if let member, let wanted = status.members.first(where: { $0.name == member || String($0.id.rawValue) == member }),
                       wanted.id != row.owner {
                        throw ToolError("service:\(service) runs on \(owner), not on \(wanted.name) (it could not start there; see rgmanager's log)")
                    }
                    return
                }
                if row.state == failed || row.state == disabled {
                    throw ToolError("service:\(service) is \(row.state == failed ? "failed" : "disabled") (see rgmanager's log on \(owner))")
                }
            case .disable:
                if row.state == disabled { return }
            case .stop:
                if row.state == stopped { return }
            case .freeze, .unfreeze:
                return
            }
            usleep(100_000)
        }
        let state = last.map { "state \($0.1.state)" } ?? "unknown"
        throw ToolError("service:\(service) has not settled within \(wait) s (\(state)); see clustat")
    }
}

do {
    var command = try Clusvcadm.parseAsRoot()
    try command.run()
} catch let e as ToolError {
    ToolOutput.error("clusvcadm: \(e.message)")
    exit(e.exit.rawValue)
} catch {
    Clusvcadm.exit(withError: error)
}
