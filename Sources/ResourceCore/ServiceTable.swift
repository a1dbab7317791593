// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension ResourceManager {
    /// What the owner does once a service is stopped (the reason it is stopping).
    public enum Intent: Sendable, Hashable {
        /// Stopped, and placed again by the coordinator (a dependency went away, a node lost quorum).
        case none
        /// `clusvcadm -d`: stays disabled.
        case disable
        /// `clusvcadm -s`: stays stopped until enabled or the membership changes.
        case stop
        /// `clusvcadm -r [-m NODE]` or a failback: placed again away from the old owner, on `target` if possible.
        case relocate(NodeID?)
        /// `clusvcadm -R` or a restart recovery: started again on the same node.
        case restart
    }

    /// One row of the service table, as every member agrees on it.
    public struct Record: Sendable, Hashable {
        public var state: ServiceState
        public var owner: NodeID?
        public var lastOwner: NodeID?
        public var restarts: UInt32 = 0
        /// Wall-clock seconds of the last state change (from the node that made it).
        public var lastTransition: UInt64 = 0
        public var flags: ServiceFlags = []
        /// Bumped by every change; a change names the generation it was made from and is dropped if it is stale.
        public var generation: UInt64 = 0
        public var intent: Intent = .none
        /// Where an admin asked the service to go (`-e/-r -m NODE`).
        public var preferred: NodeID?
        /// Nodes where it failed to start since it last ran; placement avoids them.
        public var failedOn: [NodeID] = []
        /// Nodes that may still hold its resources and must be fenced before it starts anywhere (a merge found
        /// their claims).
        public var waitingFor: [NodeID] = []
        /// `clusvcadm -s`: not placed again until enabled or the membership changes.
        public var held = false

        public init(state: ServiceState, owner: NodeID? = nil) {
            self.state = state
            self.owner = owner
        }
    }

    /// An administrator's request (clusvcadm).
    public enum AdminRequest: Sendable, Hashable {
        case enable(service: String, target: NodeID?)
        case disable(service: String)
        case relocate(service: String, target: NodeID?)
        case restart(service: String)
        case stop(service: String)
        case freeze(service: String)
        case unfreeze(service: String)

        public var service: String {
            switch self {
            case .enable(let s, _), .disable(let s), .relocate(let s, _), .restart(let s), .stop(let s), .freeze(let s), .unfreeze(let s): s
            }
        }
    }

    /// The answer to an admin request.
    public enum AdminResult: Sendable, Hashable {
        case accepted
        case refused(String)
    }

    /// `recovery=` of a service.
    public enum Recovery: String, Sendable, Hashable {
        case restart
        case relocate
        case disable
    }

    /// A failover domain with node ids.
    public struct Domain: Sendable, Hashable {
        public var name: String
        public var ordered: Bool
        public var restricted: Bool
        public var noFailback: Bool
        /// Members with their priority (lower is preferred; all equal when not ordered).
        public var members: [(node: NodeID, priority: UInt32)] { memberList }
        var memberList: [(node: NodeID, priority: UInt32)]

        public init(name: String, ordered: Bool, restricted: Bool, noFailback: Bool, members: [(node: NodeID, priority: UInt32)]) {
            self.name = name
            self.ordered = ordered
            self.restricted = restricted
            self.noFailback = noFailback
            memberList = members
        }

        public static func == (a: Domain, b: Domain) -> Bool {
            a.name == b.name && a.ordered == b.ordered && a.restricted == b.restricted && a.noFailback == b.noFailback
                && a.memberList.map(\.node) == b.memberList.map(\.node) && a.memberList.map(\.priority) == b.memberList.map(\.priority)
        }

        public func hash(into h: inout Hasher) { h.combine(name) }

        public func contains(_ n: NodeID) -> Bool { memberList.contains { $0.node == n } }
        public func priority(_ n: NodeID) -> UInt32? { memberList.first { $0.node == n }?.priority }
    }

    /// One agent call of a service's plan, with its timeout.
    public struct PlannedStep: Sendable, Hashable {
        public var step: Step
        public var resource: Resource
        public var timeout: Duration
    }

    /// One periodic status check of one resource.
    public struct StatusCheck: Sendable, Hashable {
        public var path: [Int]
        public var depth: Int
        public var interval: Duration
        public var timeout: Duration
    }

    /// Everything the core knows about one configured service.
    public struct ServiceSpec: Sendable, Hashable {
        public var name: String
        public var tree: Resource
        public var autostart: Bool
        public var domain: Domain?
        public var recovery: Recovery
        public var maxRestarts: Int
        public var restartExpireTime: Duration
        public var exclusive: Bool
        /// `depend="service:NAME"`, as the name.
        public var depend: String?
        public var dependIsSoft: Bool
        public var checks: [StatusCheck]

        /// The service's options from its tree's root attributes and the failover domains.
        public init(tree: Resource, rules: [String: Rule], domains: [Domain]) {
            name = tree.primaryValue
            self.tree = tree
            autostart = tree["autostart"].flatMap(ResourceManager.parseBool) ?? true
            domain = tree["domain"].flatMap { d in domains.first { $0.name == d } }
            recovery = tree["recovery"].flatMap { Recovery(rawValue: $0 == "restart-disable" ? "restart" : $0) } ?? .restart
            maxRestarts = tree["max_restarts"].flatMap { Int($0) } ?? 0
            restartExpireTime = tree["restart_expire_time"].flatMap(Rule.parseDuration) ?? .zero
            exclusive = tree["exclusive"].flatMap(ResourceManager.parseBool) ?? false
            depend = tree["depend"].map { $0.hasPrefix("service:") ? String($0.dropFirst(8)) : $0 }
            dependIsSoft = tree["depend_mode"] == "soft"
            var checks: [StatusCheck] = []
            func collect(_ r: Resource, _ path: [Int]) {
                for c in rules[r.type]?.statusChecks ?? [] {
                    checks.append(StatusCheck(path: path, depth: c.depth, interval: c.interval ?? .seconds(60),
                                              timeout: c.timeout.flatMap { $0 > .zero ? $0 : nil } ?? ResourceManager.defaultActionTimeout))
                }
                for (i, child) in r.children.enumerated() { collect(child, path + [i]) }
            }
            collect(tree, [])
            self.checks = checks
        }
    }
}
