// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ResourceCore

/// The rgmanager layer's knobs for one run, drawn from the seed: services (with failover domains, recovery
/// policies, exclusive and depend), simulated agents' delays and failure rates, fencing delay, admin requests.
public struct ResourceSimulation: Sendable {
    public var services: [ResourceManager.ServiceSpec]
    public var rules: [String: ResourceManager.Rule]
    public var agentDelayMax: Duration
    public var startFailure: Double
    public var stopFailure: Double
    public var statusFailure: Double
    /// How long a quorate partition waits before fencing a node that is missing from it.
    public var fenceDelay: Duration
    /// Chance per 100 ms of an admin request at a random node.
    public var adminProbability: Double
    public var mutations: ResourceManager.Mutations = []

    /// The rules of the simulated agents: a service with an app (typed like script) and an address (typed like ip).
    public static let rules: [String: ResourceManager.Rule] = {
        typealias R = ResourceManager.Rule
        var r: [String: R] = [:]
        r["service"] = R(type: "service", parameters: [.init("name", primary: true, required: true)],
                         actions: [.init(name: "start", timeout: .seconds(5))],
                         children: [.init(type: "ip", start: 7, stop: 2), .init(type: "script", start: 9, stop: 1)], isRoot: true)
        r["ip"] = R(type: "ip", parameters: [.init("address", primary: true)],
                    actions: [.init(name: "start", timeout: .seconds(2)), .init(name: "status", timeout: .seconds(1), interval: .seconds(3))])
        r["script"] = R(type: "script", parameters: [.init("name", primary: true)],
                        actions: [.init(name: "start", timeout: .seconds(2)), .init(name: "status", timeout: .seconds(1), interval: .seconds(2)),
                                  .init(name: "status", timeout: .seconds(1), interval: .seconds(5), depth: 10)])
        return r
    }()

    public init(seed: UInt64, nodeCount: Int) {
        var r = SeededRandom(seed: seed).fork(label: "resources")
        let nodes = (1...nodeCount).map { NodeID(UInt32($0)) }
        var domains: [ResourceManager.Domain] = []
        for d in 0..<2 {
            let members = nodes.filter { _ in r.chance(0.6) }
            guard !members.isEmpty else { continue }
            domains.append(.init(name: "d\(d)", ordered: r.chance(0.6), restricted: r.chance(0.4), noFailback: r.chance(0.3),
                                 members: members.map { ($0, UInt32.random(in: 1...3, using: &r)) }))
        }
        let count = Int.random(in: 2...5, using: &r)
        var specs: [ResourceManager.ServiceSpec] = []
        for i in 0..<count {
            var attrs: [ResourceManager.Resource.Attribute] = [.init("name", "s\(i)")]
            if !domains.isEmpty && r.chance(0.6) { attrs.append(.init("domain", domains.randomElement(using: &r)!.name)) }
            attrs.append(.init("recovery", ["restart", "restart", "relocate", "disable"].randomElement(using: &r)!))
            if r.chance(0.4) {
                attrs.append(.init("max_restarts", String(Int.random(in: 1...3, using: &r))))
                attrs.append(.init("restart_expire_time", String(Int.random(in: 5...60, using: &r))))
            }
            if r.chance(0.1) { attrs.append(.init("exclusive", "1")) }
            if i > 0 && r.chance(0.2) { attrs.append(.init("depend", "service:s\(Int.random(in: 0..<i, using: &r))")) }
            if r.chance(0.1) { attrs.append(.init("autostart", "0")) }
            var children = [ResourceManager.Resource(type: "script", primaryValue: "app\(i)", attributes: [.init("name", "app\(i)")])]
            if r.chance(0.7) {
                children.insert(ResourceManager.Resource(type: "ip", primaryValue: "10.0.0.\(i + 1)/24", attributes: [.init("address", "10.0.0.\(i + 1)/24")]), at: 0)
            }
            let tree = ResourceManager.Resource(type: "service", primaryValue: "s\(i)", attributes: attrs, children: children)
            specs.append(ResourceManager.ServiceSpec(tree: tree, rules: Self.rules, domains: domains))
        }
        services = specs
        rules = Self.rules
        agentDelayMax = .milliseconds(Int64([20, 200, 1500].randomElement(using: &r)!))
        startFailure = [0, 0.02, 0.1].randomElement(using: &r)!
        stopFailure = [0, 0, 0.01].randomElement(using: &r)!
        statusFailure = [0, 0.02, 0.1].randomElement(using: &r)!
        fenceDelay = .milliseconds(Int64.random(in: 300...3_000, using: &r))
        adminProbability = [0, 0.02, 0.1].randomElement(using: &r)!
    }

    public var description: String {
        "services=\(services.map { s in "\(s.name)(\(s.recovery.rawValue)\(s.domain.map { ",\($0.name)" } ?? "")\(s.exclusive ? ",excl" : "")\(s.depend.map { ",dep=\($0)" } ?? ""))" }.joined(separator: " ")) agentDelay<=\(agentDelayMax.millisecondsClamped)ms fail(start=\(startFailure) stop=\(stopFailure) status=\(statusFailure)) fenceDelay=\(fenceDelay.millisecondsClamped)ms admin=\(adminProbability)\(mutations.isEmpty ? "" : " MUTATIONS \(mutations.rawValue)")"
    }
}
