// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel

extension Fence {
    /// What an agent's `-o metadata` says about it (fence-agents' `<resource-agent>` format): its parameters and
    /// actions.
    public struct AgentMetadata: Hashable, Sendable {
        public var agent: String
        /// Parameter names, with `-` written as `_` (agents accept either on stdin).
        public var parameters: Set<String>
        public var actions: Set<String>

        public init(agent: String, parameters: Set<String>, actions: Set<String>) {
            self.agent = agent
            self.parameters = Set(parameters.map(Self.normalized))
            self.actions = actions
        }

        /// Reads a parsed metadata document; nil when it is not fence-agent metadata (no `<resource-agent>` with
        /// `<parameters>`).
        public init?(agent: String, document: XMLDocument) {
            let root = document.root
            guard root.name == "resource-agent", let params = root.firstElement(named: "parameters") else { return nil }
            let names = params.elements(named: "parameter").compactMap { $0[attribute: "name"] }
            let actions = root.firstElement(named: "actions")?.elements(named: "action").compactMap { $0[attribute: "name"] } ?? []
            self.init(agent: agent, parameters: Set(names), actions: Set(actions))
        }

        /// Keys every agent takes on stdin whatever its metadata lists: fenced's own and the action's old name.
        public static let alwaysAccepted: Set<String> = ["agent", "nodename", "action", "option", "name"]

        public func accepts(_ key: String) -> Bool {
            Self.alwaysAccepted.contains(key) || parameters.contains(Self.normalized(key))
        }

        static func normalized(_ key: String) -> String { String(key.map { $0 == "-" ? "_" : $0 }) }
    }

    /// Checks a configuration's fence devices against their agents' metadata: a parameter the agent does not have
    /// is a warning (the agent would ignore it, which usually means a typo); an agent that could not be asked
    /// (not installed, or printing something that is not metadata) is an error on every device that uses it,
    /// naming the node, method and device.
    public enum ParameterCheck {
        /// `metadata` holds what each agent said; `unavailable` why an agent could not be asked.
        public static func diagnostics(config: ClusterConfiguration, metadata: [String: AgentMetadata], unavailable: [String: String],
                                       file: String) -> [ConfigDiagnostic] {
            var out: [ConfigDiagnostic] = []
            var agentOf: [String: String] = [:]
            for d in config.fenceDevices {
                agentOf[d.name] = d.agent
                if let m = metadata[d.agent] {
                    for a in d.arguments where !m.accepts(a.name) {
                        out.append(ConfigDiagnostic(.warning, file: file, line: d.line, path: "/cluster/fencedevices",
                                                    message: "fence device \"\(d.name)\": agent \(d.agent) has no parameter \"\(a.name)\""))
                    }
                } else if let why = unavailable[d.agent] {
                    out.append(ConfigDiagnostic(.error, file: file, line: d.line, path: "/cluster/fencedevices",
                                                message: "fence device \"\(d.name)\": \(why)"))
                }
            }
            for node in config.nodes {
                var uses: [(label: String, ref: FenceDeviceReference)] = []
                for m in node.fenceMethods {
                    for r in m.devices { uses.append(("clusternode \"\(node.name)\" fence method \"\(m.name)\" device \"\(r.name)\"", r)) }
                }
                for r in node.unfenceDevices { uses.append(("clusternode \"\(node.name)\" unfence device \"\(r.name)\"", r)) }
                for (label, ref) in uses {
                    guard let agent = agentOf[ref.name] else { continue }  // an undefined device is the validator's error
                    if let m = metadata[agent] {
                        for a in ref.arguments where !m.accepts(a.name) {
                            out.append(ConfigDiagnostic(.warning, file: file, line: ref.line, path: "/cluster/clusternodes",
                                                        message: "\(label): agent \(agent) has no parameter \"\(a.name)\""))
                        }
                    } else if let why = unavailable[agent] {
                        out.append(ConfigDiagnostic(.error, file: file, line: ref.line, path: "/cluster/clusternodes", message: "\(label): \(why)"))
                    }
                }
            }
            return out.sortedForDisplay
        }
    }
}
