// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes

extension Fence {
    /// One device of a method (or of the unfence list), with everything its agent needs.
    public struct DevicePlan: Hashable, Sendable {
        /// The `<device name=>` it refers to.
        public var name: String
        /// The `<fencedevice agent=>`, or nil when that device is not defined.
        public var agent: String?
        /// The `<fencedevice>`'s other attributes (without `name` and `agent`).
        public var deviceArguments: [XMLAttribute]
        /// The per-node `<device>` attributes (without `name`).
        public var nodeArguments: [XMLAttribute]
        /// Why this device cannot be used, if it cannot (unknown device, a value with a line break).
        public var problem: String?

        public init(name: String, agent: String?, deviceArguments: [XMLAttribute] = [], nodeArguments: [XMLAttribute] = [],
                    problem: String? = nil) {
            self.name = name
            self.agent = agent
            self.deviceArguments = deviceArguments
            self.nodeArguments = nodeArguments
            self.problem = problem
        }
    }

    /// A `<method>`: all its devices must succeed.
    public struct MethodPlan: Hashable, Sendable {
        public var name: String
        public var devices: [DevicePlan]
        public init(name: String, devices: [DevicePlan]) {
            self.name = name
            self.devices = devices
        }
    }

    /// A configured node and how to fence and unfence it.
    public struct NodePlan: Hashable, Sendable {
        public var id: NodeID
        public var name: String
        /// Tried in order until one succeeds.
        public var methods: [MethodPlan]
        /// Run (action `on`) before this node joins the domain, and by `fence_node -U`.
        public var unfence: [DevicePlan]
        public init(id: NodeID, name: String, methods: [MethodPlan], unfence: [DevicePlan] = []) {
            self.id = id
            self.name = name
            self.methods = methods
            self.unfence = unfence
        }
    }

    /// Deliberate weakenings of the core, for mutation tests only; `Settings.validate()` refuses any.
    public struct Mutations: OptionSet, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Fence whether or not the partition is quorate.
        public static let ignoreQuorum = Mutations(rawValue: 1 << 0)
        /// Announce a victim fenced as soon as its agent starts, before the result.
        public static let announceAtStart = Mutations(rawValue: 1 << 1)
        public var description: String {
            [(Mutations.ignoreQuorum, "ignoreQuorum"), (.announceAtStart, "announceAtStart")]
                .filter { contains($0.0) }.map(\.1).joined(separator: ",")
        }
    }

    /// The fence domain's inputs from cluster.conf.
    public struct Settings: Hashable, Sendable {
        /// Every configured node, ascending by id.
        public var nodes: [NodePlan]
        /// How long the master waits after nodes joined before fencing victims (nil: until they rejoin).
        public var postJoinDelay: Duration?
        /// How long the master waits after a failure before fencing (nil: until the victims rejoin).
        public var postFailDelay: Duration?
        /// No startup fencing.
        public var cleanStart: Bool
        /// How long one agent may run before it is killed.
        public var agentTimeout: Duration
        /// The first wait before a victim's methods are tried again, doubled after every failed pass up to the max.
        public var retryBackoffInitial: Duration
        public var retryBackoffMax: Duration
        public var mutations: Mutations = []

        public init(nodes: [NodePlan], postJoinDelay: Duration? = .seconds(6), postFailDelay: Duration? = .zero, cleanStart: Bool = false,
                    agentTimeout: Duration = .seconds(60), retryBackoffInitial: Duration = .seconds(5), retryBackoffMax: Duration = .seconds(60)) {
            self.nodes = nodes.sorted { $0.id < $1.id }
            self.postJoinDelay = postJoinDelay
            self.postFailDelay = postFailDelay
            self.cleanStart = cleanStart
            self.agentTimeout = agentTimeout
            self.retryBackoffInitial = retryBackoffInitial
            self.retryBackoffMax = retryBackoffMax
        }

        /// Settings from a configuration (valid or not: a bad `<fence>` section makes device plans with a `problem`,
        /// which fail when tried, so nothing else stops working).
        public init(config c: ClusterConfiguration) {
            var devices: [String: FenceDeviceConfig] = [:]
            for d in c.fenceDevices where devices[d.name] == nil { devices[d.name] = d }
            func plan(_ ref: FenceDeviceReference) -> DevicePlan {
                guard let d = devices[ref.name] else {
                    return DevicePlan(name: ref.name, agent: nil, nodeArguments: ref.arguments,
                                      problem: "device \"\(ref.name)\" is not defined in <fencedevices>")
                }
                var p = DevicePlan(name: ref.name, agent: d.agent, deviceArguments: d.arguments, nodeArguments: ref.arguments)
                if let bad = (ref.arguments + d.arguments).first(where: { $0.value.contains(where: \.isNewline) }) {
                    p.problem = "attribute \"\(bad.name)\" contains a line break, which the agent protocol cannot carry"
                }
                return p
            }
            let nodes = c.nodes.map { n in
                NodePlan(id: NodeID(n.nodeID), name: n.name,
                         methods: n.fenceMethods.map { MethodPlan(name: $0.name, devices: $0.devices.map(plan)) },
                         unfence: n.unfenceDevices.map(plan))
            }
            let d = c.fenceDaemon
            self.init(nodes: nodes, postJoinDelay: d.postJoinDelay, postFailDelay: d.postFailDelay, cleanStart: d.cleanStart,
                      agentTimeout: d.agentTimeout)
        }

        /// The plan of node `id`, if configured.
        public func plan(for id: NodeID) -> NodePlan? { nodes.first { $0.id == id } }

        /// The configured name of `id`, or `node<id>`.
        public func name(of id: NodeID) -> String { plan(for: id)?.name ?? "node\(id)" }

        /// Problems that make these settings unusable.
        public func validate() -> [String] {
            var problems: [String] = []
            if !mutations.isEmpty { problems.append("mutations are for tests only: \(mutations)") }
            if agentTimeout <= .zero { problems.append("the agent timeout must be positive") }
            if retryBackoffInitial <= .zero || retryBackoffMax < retryBackoffInitial {
                problems.append("the retry backoff must be positive and its maximum at least its first wait")
            }
            return problems
        }
    }
}
