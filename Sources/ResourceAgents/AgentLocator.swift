// SPDX-License-Identifier: Apache-2.0
import ClusterSystem

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where agents are found: the project's own agents (rgmanager's vocabulary: `service`, `ip`, `fs`, …, one
/// `TYPE.sh` each), then the OCF tree for types written `ocf.PROVIDER.AGENT` (any agent of resource-agents, used
/// directly: `<ocf.heartbeat.IPaddr2 name="vip" ip="10.0.0.5" cidr_netmask="24"/>`).
public struct AgentLocator: Sendable, Hashable {
    /// The directory of the project's agents.
    public var agentDirectory: String
    /// OCF_ROOT (`/usr/lib/ocf`): agents live in `OCF_ROOT/resource.d/PROVIDER/AGENT`.
    public var ocfRoot: String

    /// The prefix of element names that name an OCF agent directly.
    public static let ocfPrefix = "ocf."

    public init(agentDirectory: String, ocfRoot: String = "/usr/lib/ocf") {
        self.agentDirectory = agentDirectory
        self.ocfRoot = ocfRoot
    }

    /// The default locations, in order: `$CLUSTER_AGENT_DIR`, the installed `/usr/share/cluster/agents`, and the
    /// `agents/` directory of the source tree this binary was built from. `$OCF_ROOT` overrides the OCF root.
    public static var searchPaths: [String] {
        var paths: [String] = []
        if let env = ProcessEnvironment.current["CLUSTER_AGENT_DIR"] { paths.append(env) }
        paths.append("/usr/share/cluster/agents")
        // #filePath is .../Sources/ResourceAgents/AgentLocator.swift in the checkout that built us.
        let source = FileIO.directory(of: FileIO.directory(of: FileIO.directory(of: #filePath)))
        paths.append(source + "/agents")
        return paths
    }

    /// The locator for this machine: the first search path holding `service.sh`.
    public static func standard(agentDirectory: String? = nil) -> AgentLocator? {
        let ocf = ProcessEnvironment.current["OCF_ROOT"] ?? "/usr/lib/ocf"
        if let dir = agentDirectory { return AgentLocator(agentDirectory: dir, ocfRoot: ocf) }
        guard let dir = searchPaths.first(where: { FileIO.exists($0 + "/service.sh") }) else { return nil }
        return AgentLocator(agentDirectory: dir, ocfRoot: ocf)
    }

    /// The (provider, agent) of an `ocf.PROVIDER.AGENT` type, if `type` is one.
    public static func ocfAgent(_ type: String) -> (provider: String, agent: String)? {
        guard type.hasPrefix(ocfPrefix) else { return nil }
        let rest = type.dropFirst(ocfPrefix.count)
        guard let dot = rest.firstIndex(of: "."), dot != rest.startIndex, rest.index(after: dot) != rest.endIndex else { return nil }
        let provider = String(rest[..<dot]), agent = String(rest[rest.index(after: dot)...])
        guard !provider.contains("/"), !agent.contains("/"), provider != "..", agent != ".." else { return nil }
        return (provider, agent)
    }

    /// The executable for resource type `type`.
    public func executable(for type: String) -> String {
        if let (provider, agent) = Self.ocfAgent(type) { return "\(ocfRoot)/resource.d/\(provider)/\(agent)" }
        return "\(agentDirectory)/\(type).sh"
    }

    /// The types of the project's own agents: every executable `*.sh` in the agent directory, sorted.
    public func projectTypes() -> [String] {
        guard let dir = opendir(agentDirectory) else { return [] }
        defer { closedir(dir) }
        var types: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".sh"), access("\(agentDirectory)/\(name)", X_OK) == 0 else { continue }
            types.append(String(name.dropLast(3)))
        }
        return types.sorted()
    }

    /// The action name the agent understands: OCF agents used directly get `monitor` for a status check.
    public func actionName(_ action: String, type: String) -> String {
        Self.ocfAgent(type) != nil && action == "status" ? "monitor" : action
    }
}
