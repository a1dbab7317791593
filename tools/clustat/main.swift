// SPDX-License-Identifier: Apache-2.0
// clustat: the cluster's members and services as this node's rgmanager knows them.
import ArgumentParser
import ClusterClient
import ClusterSystem
import Foundation
import ResourceCore
import ToolSupport

struct Clustat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clustat",
        abstract: "Show the cluster's members and the state of its services.",
        discussion: """
            Without rgmanager on this node only the members are shown (from quorumd), with a note on stderr.
            Exit status: 0, or 1 if a service or member named with -s/-m does not exist; with -Q 0 if quorate, 1 if not.
            """)

    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance (or $CLUSTER_INSTANCE) when several nodes share a host.")
    var instance: String?
    @Option(name: .customShort("i"), help: ArgumentHelp("Refresh every SECONDS until interrupted.", valueName: "seconds")) var interval: Int?
    @Option(name: .customShort("s"), help: ArgumentHelp("Show only this service (NAME or service:NAME).", valueName: "service")) var service: String?
    @Option(name: .customShort("m"), help: ArgumentHelp("Show only this member (its name or node id).", valueName: "member")) var member: String?
    @Flag(name: .customShort("l"), help: "Long form of the service table.") var long = false
    @Flag(name: .customShort("Q"), help: "Print nothing; exit 0 if the cluster is quorate, 1 if not.") var quorumOnly = false
    @Flag(name: .customShort("x"), help: "XML, as clustat -x.") var xml = false
    @Flag(name: .customLong("json"), help: "JSON.") var json = false

    func validate() throws {
        if let interval, interval < 1 { throw ValidationError("-i takes a number of seconds, at least 1") }
        if xml && json { throw ValidationError("-x and --json exclude each other") }
    }

    func run() throws {
        let node: NodeInstance
        do { node = try NodeInstance.resolve(instance: instance) } catch { throw ToolError("\(error)", exit: .usage) }
        while true {
            let (status, note) = try Self.snapshot(node)
            if quorumOnly { throw ExitCode(status.quorate ? 0 : 1) }
            let shown = try filter(status)
            if interval != nil { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            if let note { ToolOutput.error("clustat: \(note)") }
            // -s shows one service and no member table, -m one member and no service table.
            let members = service == nil || member != nil, services = member == nil || service != nil
            if xml {
                print(shown.xml(), terminator: "")
            } else if json {
                print(shown.json(), terminator: "")
            } else if long {
                print(shown.text(columns: Self.columns(), showMembers: members, showServices: false), terminator: "")
                if services { print(shown.longText(), terminator: "") }
            } else {
                print(shown.text(columns: Self.columns(), showMembers: members, showServices: services), terminator: "")
            }
            guard let interval else { return }
            fflush(nil)
            sleep(UInt32(interval))
        }
    }

    /// rgmanager's status; without rgmanager, quorumd's members and a note saying why there are no services.
    static func snapshot(_ node: NodeInstance) throws -> (ResourceManager.ClusterStatus, String?) {
        do {
            let client = try ResourceClient(instance: node)
            defer { client.close() }
            return (convert(try client.status()), nil)
        } catch let rgError {
            guard rgError.code == .notRunning else { throw ToolError("rgmanager: \(rgError.message)") }
            let cman: CmanClient
            do { cman = try CmanClient(instance: node) } catch {
                throw ToolError("neither rgmanager nor quorumd is running on this node (\(error.message))", exit: .unavailable)
            }
            defer { cman.close() }
            do {
                let s = try cman.status()
                let members = try cman.nodes().map { n in
                    var m = ResourceManager.ClusterStatus.Member(name: n.name, id: n.id, online: n.state == "M")
                    m.local = n.id == s.nodeID
                    return m
                }
                let status = ResourceManager.ClusterStatus(clusterName: s.clusterName, clusterID: UInt32(s.clusterID), generation: s.generation,
                                                           quorate: s.quorate, groupMember: false, time: UInt64(Date().timeIntervalSince1970),
                                                           members: members, services: [])
                return (status, "rgmanager is not running on this node: services are not shown")
            } catch {
                throw ToolError("quorumd: \(error.message)")
            }
        }
    }

    static func convert(_ s: ResourceIPC.Status) -> ResourceManager.ClusterStatus {
        let members = s.members.map { m in
            var out = ResourceManager.ClusterStatus.Member(name: m.name, id: m.id, online: m.online)
            out.local = m.local
            out.estranged = m.estranged
            out.rgmanager = m.rgmanager
            out.rgmanagerMaster = m.rgmanagerMaster
            return out
        }
        let services = s.services.map { v in
            ResourceManager.ClusterStatus.Service(name: "service:\(v.name)", state: ResourceManager.ServiceState(rawValue: v.state) ?? .uninitialized,
                                                  flags: ResourceManager.ServiceFlags(rawValue: v.flags),
                                                  owner: v.owner.rawValue == 0 ? nil : v.owner,
                                                  lastOwner: v.lastOwner.rawValue == 0 ? nil : v.lastOwner,
                                                  restarts: v.restarts, lastTransition: v.lastTransition)
        }
        return ResourceManager.ClusterStatus(clusterName: s.clusterName, clusterID: s.clusterID, generation: s.generation, quorate: s.quorate,
                                             groupMember: s.groupMember, time: s.time, members: members, services: services)
    }

    /// `-s` and `-m`: only the named service or member, which must exist. The member list stays whole under `-s`
    /// alone: owners are named through it.
    func filter(_ status: ResourceManager.ClusterStatus) throws -> ResourceManager.ClusterStatus {
        var out = status
        if let service {
            let name = service.hasPrefix("service:") ? service : "service:" + service
            out.services = status.services.filter { $0.name == name }
            guard !out.services.isEmpty else { throw ToolError("\(name) does not exist") }
        }
        if let member {
            out.members = status.members.filter { $0.name == member || String($0.id.rawValue) == member }
            guard !out.members.isEmpty else { throw ToolError("member \(member) is not in the cluster") }
            if service == nil { out.services = [] }
        }
        return out
    }

    /// The terminal's width, or 80 when stdout is not a terminal.
    static func columns() -> Int {
        var size = winsize()
        guard isatty(1) != 0, ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}

do {
    var command = try Clustat.parseAsRoot()
    try command.run()
} catch let e as ToolError {
    ToolOutput.error("clustat: \(e.message)")
    exit(e.exit.rawValue)
} catch {
    Clustat.exit(withError: error)
}
