// SPDX-License-Identifier: Apache-2.0
import ClusterSystem
import Glibc

/// Finds fence agents: an absolute path is taken as it is; a bare name is looked up in the search path
/// (`$FENCE_AGENT_PATH`, then `<fence_daemon agent_path>`, then /usr/sbin and /sbin, where Debian's fence-agents
/// installs them).
public struct AgentLocator: Sendable {
    public static let defaultSearchPath = ["/usr/sbin", "/sbin"]
    public var searchPath: [String]

    /// `configured` is `<fence_daemon agent_path>`; `environment` supplies `FENCE_AGENT_PATH` (tests, local clusters).
    public init(configured: [String] = [], environment: [String: String] = ProcessEnvironment.current) {
        let extra = environment["FENCE_AGENT_PATH"].map { $0.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") } } ?? []
        var seen = Set<String>()
        searchPath = (extra + configured + Self.defaultSearchPath).filter { seen.insert($0).inserted }
    }

    /// The executable for `agent`, or an error that says where it was looked for.
    public func locate(_ agent: String) -> Result<String, AgentError> {
        guard !agent.isEmpty, !agent.contains("\0") else { return .failure(AgentError("an empty agent name")) }
        if agent.hasPrefix("/") {
            return access(agent, X_OK) == 0 ? .success(agent)
                : .failure(AgentError("agent \(agent) \(FileIO.exists(agent) ? "is not executable" : "does not exist")"))
        }
        guard !agent.contains("/") else { return .failure(AgentError("agent \"\(agent)\" must be a bare name or an absolute path")) }
        for dir in searchPath {
            let path = dir.hasSuffix("/") ? dir + agent : dir + "/" + agent
            if access(path, X_OK) == 0 { return .success(path) }
        }
        return .failure(AgentError("agent \(agent) not found (looked in \(searchPath.joined(separator: ", ")))"))
    }
}

/// Why an agent could not be run (or its output not used).
public struct AgentError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
