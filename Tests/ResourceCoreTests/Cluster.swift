// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes
import ResourceCore

/// rgmanager cores of N nodes on one agreed stream: every multicast reaches every member of the current view in
/// the same order. Agents answer at once, successfully unless `failing` says otherwise.
struct TestCluster {
    var cores: [NodeID: ResourceManager.StateMachine] = [:]
    var members: [NodeID] = []
    var viewNumber: UInt32 = 0
    var wire: [(from: NodeID, bytes: [UInt8])] = []
    var calls: [(node: NodeID, call: ResourceManager.AgentCall)] = []
    var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    /// (node, resource display name, action) that fail.
    var failing: Set<String> = []
    /// What each node's agents currently hold: node -> services started (by the start of the root).
    var notices: [String] = []
    var replies: [UInt64: ResourceManager.AdminResult] = [:]
    /// Every agent call made, as "nN action type:name".
    var log: [String] = []
    /// Every agent call made, with the resource exactly as the agent got it.
    var resourcesCalled: [(node: NodeID, action: ResourceManager.Action, resource: ResourceManager.Resource)] = []

    init(nodes: Int, services: [ResourceNode], domains: [ResourceManager.Domain] = [], mutations: ResourceManager.Mutations = []) {
        let specs = Self.specs(services, domains: domains)
        for i in 1...nodes {
            let id = NodeID(UInt32(i))
            cores[id] = ResourceManager.StateMachine(settings: .init(nodeID: id, configuredNodes: (1...nodes).map { NodeID(UInt32($0)) },
                                                                     services: specs, rules: Fixtures.rules, mutations: mutations))
        }
    }

    /// The service specs of `services` built with the fixture rules (a build error stops the test).
    static func specs(_ services: [ResourceNode], domains: [ResourceManager.Domain] = []) -> [ResourceManager.ServiceSpec] {
        var rm = ResourceManagerConfig()
        rm.services = services
        var b = ResourceManager.TreeBuilder(rules: Fixtures.rules, file: "test")
        let forest = b.build(rm)
        precondition(forest.diagnostics.filter { $0.severity == .error }.isEmpty, "\(forest.diagnostics)")
        return forest.services.map { ResourceManager.ServiceSpec(tree: $0, rules: Fixtures.rules, domains: domains) }
    }

    /// Node `n` reloads a configuration of `services` (version `version`), and everything settles.
    mutating func reconfigure(_ n: Int, _ services: [ResourceNode], version: UInt64, domains: [ResourceManager.Domain] = []) {
        let id = NodeID(UInt32(n))
        var s = cores[id]!.settings
        s.services = Self.specs(services, domains: domains)
        s.configVersion = version
        feed(id, .reconfigure(s))
        settle()
    }

    static func service(_ name: String, _ attrs: KeyValuePairs<String, String> = [:]) -> ResourceNode {
        var all: [XMLAttribute] = [XMLAttribute("name", name)]
        all += attrs.map { XMLAttribute($0.key, $0.value) }
        return ResourceNode(type: "service", attributes: all, children: [
            ResourceNode(type: "script", attributes: [XMLAttribute("name", "\(name)-app"), XMLAttribute("file", "/etc/init.d/\(name)")]),
        ])
    }

    mutating func feed(_ n: NodeID, _ e: ResourceManager.Event) {
        guard var c = cores[n] else { return }
        let out = c.handle(e, at: now)
        cores[n] = c
        for effect in out.effects {
            switch effect {
            case .multicast(let b): if members.contains(n) { wire.append((n, b)) }
            case .runAgent(let call): calls.append((n, call))
            case .reply(let id, let r): replies[id] = r
            case .notice(let s): notices.append("n\(n): \(s)")
            }
        }
    }

    /// A new view of `list` (all quorate unless `quorate` says otherwise).
    mutating func view(_ list: [Int], quorate: Bool = true) {
        members = list.map { NodeID(UInt32($0)) }
        viewNumber += 1
        wire = []
        for n in members {
            feed(n, .quorum(quorate))
            feed(n, .view(.init(ring: 1, number: viewNumber), members: members))
        }
        settle()
    }

    /// Delivers everything and answers every agent call until nothing moves.
    mutating func settle() {
        var steps = 0
        while !wire.isEmpty || !calls.isEmpty {
            steps += 1
            precondition(steps < 100_000, "no quiescence: \(notices.suffix(20))")
            if !wire.isEmpty {
                let m = wire.removeFirst()
                for n in members { feed(n, .delivered(from: m.from, bytes: m.bytes)) }
            } else {
                let (n, call) = calls.removeFirst()
                guard cores[n] != nil else { continue }
                let r = call.resource
                let key = "n\(n) \(call.action.rawValue) \(r.displayName)"
                log.append(key)
                resourcesCalled.append((n, call.action, r))
                feed(n, .agentFinished(id: call.id, succeeded: !failing.contains(key) && !failing.contains("* \(call.action.rawValue) \(r.displayName)")))
            }
        }
    }

    /// Moves time on, running due status checks.
    mutating func advance(_ d: Duration) {
        let end = now + d
        while true {
            let due = cores.keys.sorted().compactMap { n in cores[n]!.nextDeadline.map { ($0, n) } }.filter { $0.0 <= end }.min { $0.0 < $1.0 }
            guard let (at, n) = due else { break }
            now = max(now, at)
            feed(n, .deadlineReached)
            settle()
        }
        now = end
    }

    mutating func request(_ n: Int, _ id: UInt64, _ r: ResourceManager.AdminRequest) -> ResourceManager.AdminResult? {
        feed(NodeID(UInt32(n)), .request(id: id, r))
        settle()
        return replies[id]
    }

    /// Node `n`'s view of a service.
    func record(_ service: String, at n: Int = 1) -> ResourceManager.Record? { cores[NodeID(UInt32(n))]?.table[service] }

    /// Nodes holding the service's resources.
    func holders(_ service: String) -> [Int] {
        cores.keys.sorted().filter { cores[$0]!.activeServices.contains(service) }.map { Int($0.rawValue) }
    }

    /// True if every member has the same table.
    var agreed: Bool {
        let tables = members.map { cores[$0]!.table }
        return tables.allSatisfy { $0 == tables.first }
    }

    mutating func crash(_ n: Int) {
        let id = NodeID(UInt32(n))
        let settings = cores[id]!.settings
        cores[id] = ResourceManager.StateMachine(settings: settings)
    }
}
