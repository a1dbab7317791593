// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// `<fencedevice name= agent= …>`: a fence device and the arguments its agent gets on stdin.
public struct FenceDeviceConfig: Sendable, Hashable {
    public var name: String
    public var agent: String
    /// Every other attribute, passed to the agent as `key=value` lines.
    public var arguments: [XMLAttribute]
    public var line: Int

    static func read(_ r: ElementReader) -> FenceDeviceConfig {
        let name = r.string("name", required: true, nonEmpty: true) ?? ""
        let agent = r.string("agent", required: true, nonEmpty: true) ?? ""
        if agent.contains("/") && !agent.hasPrefix("/") {
            r.error("\(r.label): agent \"\(agent)\" must be a bare name or an absolute path")
        }
        let config = FenceDeviceConfig(name: name, agent: agent, arguments: r.remainingAttributes(), line: r.line)
        _ = r.unknownChildren()
        return config
    }
}

/// `<fence_daemon>`: fenced's delays and startup behaviour.
public struct FenceDaemonConfig: Sendable, Hashable {
    /// Seconds to wait after a node joins before fencing nodes that are not members; nil means wait forever (-1).
    public var postJoinDelay: Duration? = .seconds(6)
    /// Seconds to wait after a failure before fencing; nil means wait forever (-1).
    public var postFailDelay: Duration? = .seconds(0)
    /// Skip startup fencing of nodes that are not members.
    public var cleanStart: Bool = false
    public var overridePath: String = "/var/run/cluster/fenced_override"
    public var overrideTime: Duration = .seconds(3)
    /// How long one fence agent may run before it is killed (`agent_timeout`, seconds; this stack's addition).
    public var agentTimeout: Duration = .seconds(60)
    /// Directories searched for agents named without a path (`agent_path`, colon-separated; this stack's
    /// addition). Empty means the default, /usr/sbin then /sbin.
    public var agentPath: [String] = []
    public var line: Int = 0
    public var extraAttributes: [XMLAttribute] = []

    public init() {}

    static func read(_ r: ElementReader) -> FenceDaemonConfig {
        var f = FenceDaemonConfig()
        f.line = r.line
        func delay(_ name: String, _ fallback: Duration?) -> Duration? {
            guard let v = r.integer(name, in: -1...86_400) else { return fallback }
            return v < 0 ? nil : .seconds(v)
        }
        f.postJoinDelay = delay("post_join_delay", f.postJoinDelay)
        f.postFailDelay = delay("post_fail_delay", f.postFailDelay)
        f.cleanStart = r.bool("clean_start") ?? false
        if let p = r.string("override_path", nonEmpty: true) {
            if p.hasPrefix("/") { f.overridePath = p } else { r.error("<fence_daemon>: override_path \"\(p)\" must be absolute") }
        }
        f.overrideTime = r.seconds("override_time") ?? f.overrideTime
        if let t = r.integer("agent_timeout", in: 1...86_400) { f.agentTimeout = .seconds(t) }
        if let p = r.string("agent_path", nonEmpty: true) {
            let dirs = p.split(separator: ":").map(String.init)
            if let bad = dirs.first(where: { !$0.hasPrefix("/") }) {
                r.error("<fence_daemon>: agent_path entry \"\(bad)\" must be an absolute directory")
            } else {
                f.agentPath = dirs
            }
        }
        r.accept("skip_undefined")
        f.extraAttributes = r.unknownAttributes()
        _ = r.unknownChildren()
        return f
    }
}
