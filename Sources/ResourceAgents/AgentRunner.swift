// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import ResourceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One agent call to make: which resource, which action, at which depth, within which time.
public struct AgentCall: Sendable, Hashable {
    public var resource: ResourceManager.Resource
    public var action: String
    /// OCF_CHECK_LEVEL for status checks.
    public var depth: Int
    public var timeout: Duration
    public init(resource: ResourceManager.Resource, action: String, depth: Int = 0, timeout: Duration) {
        self.resource = resource
        self.action = action
        self.depth = depth
        self.timeout = timeout
    }
}

/// Runs agents with the OCF environment of REFERENCE §3.
public struct AgentRunner: Sendable {
    public var locator: AgentLocator
    /// Variables every call gets besides the OCF ones (PATH, and whatever a test adds).
    public var baseEnvironment: [String: String]
    /// Time between SIGTERM and SIGKILL when an agent overruns its timeout.
    public var killGrace: Duration = AgentProcess.defaultKillGrace

    public init(locator: AgentLocator, baseEnvironment: [String: String]? = nil) {
        self.locator = locator
        self.baseEnvironment = baseEnvironment ?? ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"]
    }

    /// The environment of `call`: OCF_ROOT, OCF_RA_VERSION_*, OCF_RESOURCE_INSTANCE/TYPE/PROVIDER, OCF_CHECK_LEVEL,
    /// one OCF_RESKEY_<name> per attribute with a value, and rgmanager's OCF_RESKEY_RGMANAGER_meta_timeout.
    ///
    /// The instance name is `type_primary` with every character outside `[A-Za-z0-9._-]` made `_` (rgmanager used
    /// `type:primary`): resource-agents' agents put the instance name in file names.
    public func environment(_ call: AgentCall) -> [String: String] {
        var env = baseEnvironment
        env["OCF_ROOT"] = locator.ocfRoot
        env["OCF_FUNCTIONS_DIR"] = locator.ocfRoot + "/lib/heartbeat"
        env["OCF_RA_VERSION_MAJOR"] = "1"
        env["OCF_RA_VERSION_MINOR"] = "0"
        let r = call.resource
        env["OCF_RESOURCE_INSTANCE"] = Self.instanceName(r)
        if let (provider, agent) = AgentLocator.ocfAgent(r.type) {
            env["OCF_RESOURCE_TYPE"] = agent
            env["OCF_RESOURCE_PROVIDER"] = provider
        } else {
            env["OCF_RESOURCE_TYPE"] = r.type
            env["OCF_RESOURCE_PROVIDER"] = "rgmanager"
        }
        env["OCF_CHECK_LEVEL"] = String(call.depth)
        env["OCF_RESKEY_RGMANAGER_meta_timeout"] = String(call.timeout.components.seconds)
        env["__OCF_ACTION"] = locator.actionName(call.action, type: r.type)
        for a in r.attributes {
            guard let v = a.value, Self.isVariableName(a.name) else { continue }
            env["OCF_RESKEY_\(a.name)"] = v
        }
        return env
    }

    /// `type_primary`, safe in a file name.
    public static func instanceName(_ r: ResourceManager.Resource) -> String {
        let raw = "\(AgentLocator.ocfAgent(r.type)?.agent ?? r.type)_\(r.primaryValue)"
        return String(raw.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") ? $0 : "_" })
    }

    static func isVariableName(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Starts `call` without waiting (for a daemon's loop).
    public func start(_ call: AgentCall, output: AgentProcess.Output, now: MonotonicInstant) throws(AgentSpawnError) -> AgentProcess {
        try AgentProcess(path: locator.executable(for: call.resource.type), action: locator.actionName(call.action, type: call.resource.type),
                         environment: environment(call), timeout: call.timeout, output: output, killGrace: killGrace, now: now)
    }

    /// Runs `call` to the end (rg_test): waits for the agent, enforcing the timeout.
    public func run(_ call: AgentCall, output: AgentProcess.Output = .inherit) -> (result: AgentResult, output: String) {
        let process: AgentProcess
        do {
            process = try start(call, output: output, now: Self.now())
        } catch {
            return (.notStarted(error.reason), "")
        }
        return (Self.wait(process), process.outputText)
    }

    /// Waits for `process`, polling every 10 ms (a tool's wait; a daemon uses SIGCHLD instead).
    public static func wait(_ process: AgentProcess) -> AgentResult {
        while true {
            if let r = process.poll(at: now()) { return r }
            var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&ts, nil)
        }
    }

    /// The monotonic clock, as the cores take it.
    public static func now() -> MonotonicInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return MonotonicInstant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}
