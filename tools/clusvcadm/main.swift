// SPDX-License-Identifier: Apache-2.0
// clusvcadm: enable, disable, relocate, restart, stop, freeze and unfreeze the cluster's services; lock this node's
// rgmanager for a cluster shutdown.
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
            Or one of -l -u -S: lock this node's rgmanager (no service starts on this node; running ones go on), unlock
            it, or show the lock. A lock ends with -u, when the cluster loses quorum, or when rgmanager stops: take it
            before stopping the whole cluster, so services do not move onto nodes about to stop.
            --json prints the result as one JSON object (errors stay on stderr).
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
    @Flag(name: .customShort("l"), help: "Lock this node's rgmanager: no service starts on this node (for a cluster shutdown).") var lock = false
    @Flag(name: .customShort("u"), help: "Unlock this node's rgmanager: services may start here again.") var unlock = false
    @Flag(name: .customShort("S"), help: "Show whether this node's rgmanager is locked.") var showLock = false
    @Flag(name: .customLong("json"), help: "Print the result as JSON.") var json = false

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

    /// The lock operation asked for (-l, -u, -S), if any; it excludes the service actions.
    func lockOperation() throws -> LockOperation? {
        let given = [(LockOperation.lock, lock), (.unlock, unlock), (.show, showLock)].filter(\.1).map(\.0)
        guard let op = given.first else { return nil }
        let serviceGiven = [enable, disable, relocate, restart, stop, freeze, unfreeze].contains { $0 != nil }
        guard given.count == 1, !serviceGiven, member == nil else {
            throw ToolError("-l, -u and -S exclude each other and the service actions (see --help)", exit: .usage)
        }
        return op
    }

    enum LockOperation: String { case lock, unlock, show }

    func connect() throws -> ResourceClient {
        let node: NodeInstance
        do { node = try NodeInstance.resolve(instance: instance) } catch { throw ToolError("\(error)", exit: .usage) }
        do { return try ResourceClient(instance: node) } catch {
            throw ToolError(error.code == .notRunning ? "rgmanager is not running on this node" : error.message,
                            exit: error.code == .notRunning ? .unavailable : .failure)
        }
    }

    func run() throws {
        if let op = try lockOperation() { return try runLock(op) }
        let (action, service) = try action()
        guard wait >= 0 else { throw ToolError("-w takes a number of seconds", exit: .usage) }
        let client = try connect()
        defer { client.close() }
        let before = try? client.status()  // only to tell a relocation's old owner; the request says the rest
        if !json {
            print(Self.announce(action, "service:\(service)", member), terminator: "")
            fflush(nil)
        }
        do {
            try client.request(action, service: service, target: member)
        } catch {
            if !json { print("Failure") }
            throw ToolError(error.message, exit: error.code == .notRunning || error.code == .disconnected ? .unavailable : .failure)
        }
        if !json { print("Success") }
        var where_: String?
        if wait > 0 { where_ = try settle(client, action, service, oldOwner: before?.services.first { $0.name == service }?.owner) }
        if json {
            let row = (try? client.status())?.services.first { $0.name == service }
            try ToolOutput.json(Result(service: "service:\(service)", action: action.description, result: "success",
                                       state: row.flatMap { Self.stateName($0.state) }, owner: where_))
        }
    }

    /// -l, -u, -S: rgmanager's words ("Resource groups locked"), or JSON.
    func runLock(_ op: LockOperation) throws {
        let client = try connect()
        defer { client.close() }
        let locked: Bool
        do {
            switch op {
            case .lock: locked = try client.lock(true)
            case .unlock: locked = try client.lock(false)
            case .show: locked = try client.lockState()
            }
        } catch {
            throw ToolError("\(op == .show ? "query" : op.rawValue) operation failed: \(error.message)",
                            exit: error.code == .notRunning || error.code == .disconnected ? .unavailable : .failure)
        }
        if json {
            try ToolOutput.json(LockResult(action: op.rawValue, locked: locked))
        } else {
            print(locked ? "Resource groups locked" : "Resource groups unlocked")
        }
    }

    struct LockResult: Encodable {
        var action: String
        var locked: Bool
    }

    struct Result: Encodable {
        var service: String
        var action: String
        var result: String
        /// The state once settled (nil when not waited for or unknown).
        var state: String?
        /// Where it runs, for actions that start it (nil otherwise).
        var owner: String?
    }

    static func stateName(_ n: UInt16) -> String? {
        [110: "stopped", 111: "starting", 112: "started", 113: "stopping", 114: "failed", 115: "uninitialized", 116: "checking",
         117: "recoverable", 118: "recovering", 119: "disabled", 120: "migrating"][n]
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

    /// Waits until the service reached what the action asked for, and says where it runs (returns that member).
    @discardableResult
    func settle(_ client: ResourceClient, _ action: ResourceIPC.Action, _ service: String, oldOwner: NodeID?) throws -> String? {
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
                    if !json { print("service:\(service) is now running on \(owner)") }
                    if let member, let wanted = status.members.first(where: { $0.name == member || String($0.id.rawValue) == member }),
                       wanted.id != row.owner {
                        throw ToolError("service:\(service) runs on \(owner), not on \(wanted.name) (it could not start there; see rgmanager's log)")
                    }
                    return owner
                }
                if row.state == failed || row.state == disabled {
                    throw ToolError("service:\(service) is \(row.state == failed ? "failed" : "disabled") (see rgmanager's log on \(owner))")
                }
            case .disable:
                if row.state == disabled { return nil }
            case .stop:
                if row.state == stopped { return nil }
            case .freeze, .unfreeze:
                return nil
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
