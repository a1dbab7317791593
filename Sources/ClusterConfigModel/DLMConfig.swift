// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The DLM's inter-node transport (`<dlm protocol=>`).
public enum DLMProtocol: String, Sendable, Hashable, CaseIterable {
    case detect, tcp, sctp
}

/// `<dlm>`: settings for the DLM control daemon.
public struct DLMConfig: Sendable, Hashable {
    public var protocolName: DLMProtocol = .detect
    /// Centiseconds before a lock wait is reported.
    public var timewarn: UInt32 = 500
    public var logDebug: Bool = false
    public var enableFencing: Bool = true
    public var enableQuorum: Bool = false
    public var enableDeadlock: Bool = false
    public var enablePlock: Bool = true
    public var plockRateLimit: UInt32 = 0
    public var plockOwnership: Bool = true
    public var line: Int = 0
    public var extraAttributes: [XMLAttribute] = []
    /// `<lockspace>` and other children, kept as written.
    public var children: [XMLElement] = []

    public init() {}

    static func read(_ r: ElementReader) -> DLMConfig {
        var d = DLMConfig()
        d.line = r.line
        d.protocolName = r.choice("protocol", as: DLMProtocol.self) ?? .detect
        d.timewarn = r.unsigned("timewarn").map { UInt32($0) } ?? d.timewarn
        d.logDebug = r.bool("log_debug") ?? false
        d.enableFencing = r.bool("enable_fencing") ?? true
        d.enableQuorum = r.bool("enable_quorum") ?? false
        d.enableDeadlock = r.bool("enable_deadlk") ?? false
        d.enablePlock = r.bool("enable_plock") ?? true
        d.plockRateLimit = r.unsigned("plock_rate_limit").map { UInt32($0) } ?? 0
        d.plockOwnership = r.bool("plock_ownership") ?? true
        r.accept("drop_resources_time", "drop_resources_count", "drop_resources_age")
        d.extraAttributes = r.unknownAttributes()
        r.acceptChildren("lockspace")
        d.children = r.element.elements
        return d
    }
}
