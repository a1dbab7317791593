// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel

extension ResourceManager {
    /// What an agent's metadata says about one resource type (rgmanager's `resource_rule_t`).
    public struct Rule: Sendable, Hashable {
        /// The element name in cluster.conf (`service`, `ip`, `ocf.heartbeat.IPaddr2`).
        public var type: String
        public var parameters: [Parameter]
        public var actions: [ActionSpec]
        /// The typed children table (`<special tag="rgmanager"><child type= start= stop= forbid=/>`).
        public var children: [ChildType]
        /// How many tree nodes may use one resource of this type (`maxinstances`, 0 = any).
        public var maxInstances: Int
        /// True for the types that may be a tree's root (`service`, `vm`).
        public var isRoot: Bool

        public init(type: String, parameters: [Parameter], actions: [ActionSpec] = [], children: [ChildType] = [],
                    maxInstances: Int = 0, isRoot: Bool = false) {
            self.type = type
            self.parameters = parameters
            self.actions = actions
            self.children = children
            self.maxInstances = maxInstances
            self.isRoot = isRoot
        }

        /// One `<parameter>`.
        public struct Parameter: Sendable, Hashable {
            public var name: String
            public var primary: Bool
            public var unique: Bool
            public var required: Bool
            /// `inherit="type%attr"` (the nearest ancestor of that type) or `inherit="attr"` (the parent).
            public var inherit: String?
            public var defaultValue: String?
            public var reconfig: Bool

            public init(_ name: String, primary: Bool = false, unique: Bool = false, required: Bool = false,
                        inherit: String? = nil, defaultValue: String? = nil, reconfig: Bool = false) {
                self.name = name
                self.primary = primary
                self.unique = unique
                self.required = required
                self.inherit = inherit
                self.defaultValue = defaultValue
                self.reconfig = reconfig
            }
        }

        /// One `<action>`: its timeout and, for status/monitor, interval and depth.
        public struct ActionSpec: Sendable, Hashable {
            public var name: String
            public var timeout: Duration?
            public var interval: Duration?
            public var depth: Int
            public init(name: String, timeout: Duration? = nil, interval: Duration? = nil, depth: Int = 0) {
                self.name = name
                self.timeout = timeout
                self.interval = interval
                self.depth = depth
            }
        }

        /// One `<child>` of the typed table. A level of 0 means "no level": the child runs with the untyped ones.
        public struct ChildType: Sendable, Hashable {
            public var type: String
            public var startLevel: Int
            public var stopLevel: Int
            public var forbidden: Bool
            public init(type: String, start: Int = 0, stop: Int = 0, forbidden: Bool = false) {
                self.type = type
                startLevel = start
                stopLevel = stop
                self.forbidden = forbidden
            }
        }

        /// The primary parameter (the one that names a resource among its type), if the rule has one.
        public var primaryParameter: String? { parameters.first(where: \.primary)?.name }

        /// The table entry for children of `type`, if any.
        public func child(_ type: String) -> ChildType? { children.first { $0.type == type } }

        /// The timeout for `action`: the metadata's, or `defaultActionTimeout` when it gives none or 0.
        public func timeout(for action: String) -> Duration {
            let names = action == "status" ? ["status", "monitor"] : [action]
            for n in names {
                if let t = actions.first(where: { $0.name == n && $0.depth == 0 })?.timeout ?? actions.first(where: { $0.name == n })?.timeout,
                   t > .zero {
                    return t
                }
            }
            return ResourceManager.defaultActionTimeout
        }

        /// The status checks the metadata asks for: one per depth, with its interval and timeout (`status` actions,
        /// else `monitor` ones), sorted by depth.
        public var statusChecks: [ActionSpec] {
            let status = actions.filter { $0.name == "status" && $0.interval != nil }
            let chosen = status.isEmpty ? actions.filter { $0.name == "monitor" && $0.interval != nil } : status
            var byDepth: [Int: ActionSpec] = [:]
            for a in chosen where byDepth[a.depth] == nil { byDepth[a.depth] = a }
            return byDepth.keys.sorted().map { byDepth[$0]! }
        }
    }
}

// MARK: - Reading metadata

extension ResourceManager.Rule {
    /// A problem with an agent's metadata.
    public struct MetadataError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// Reads a rule from the `<resource-agent>` element an agent's `meta-data` printed. `type` is the element name
    /// the rule answers to in cluster.conf (the agent's own `name=` is not trusted for that).
    public static func parse(_ root: XMLElement, type: String) -> Result<ResourceManager.Rule, MetadataError> {
        guard root.name == "resource-agent" else {
            return .failure(MetadataError("the metadata's root element is <\(root.name)>, not <resource-agent>"))
        }
        var rule = ResourceManager.Rule(type: type, parameters: [])
        for p in root.firstElement(named: "parameters")?.elements(named: "parameter") ?? [] {
            guard let name = p[attribute: "name"], !name.isEmpty else {
                return .failure(MetadataError("a <parameter> has no name (line \(p.line))"))
            }
            let content = p.firstElement(named: "content")
            rule.parameters.append(Parameter(name, primary: flag(p[attribute: "primary"]), unique: flag(p[attribute: "unique"]),
                                             required: flag(p[attribute: "required"]),
                                             inherit: p[attribute: "inherit"].flatMap { $0.isEmpty ? nil : $0 },
                                             defaultValue: content?[attribute: "default"], reconfig: flag(p[attribute: "reconfig"])))
        }
        for a in root.firstElement(named: "actions")?.elements(named: "action") ?? [] {
            guard let name = a[attribute: "name"] else { continue }
            var spec = ActionSpec(name: name)
            if let t = a[attribute: "timeout"] {
                guard let d = parseDuration(t) else { return .failure(MetadataError("action \(name): bad timeout \"\(t)\"")) }
                spec.timeout = d
            }
            if let i = a[attribute: "interval"] {
                guard let d = parseDuration(i) else { return .failure(MetadataError("action \(name): bad interval \"\(i)\"")) }
                spec.interval = d > .zero ? d : nil
            }
            if let depth = a[attribute: "depth"] {
                guard let v = Int(depth), v >= 0 else { return .failure(MetadataError("action \(name): bad depth \"\(depth)\"")) }
                spec.depth = v
            }
            rule.actions.append(spec)
        }
        for special in root.elements(named: "special") where special[attribute: "tag"] == "rgmanager" {
            if let attrs = special.firstElement(named: "attributes") {
                rule.maxInstances = Int(attrs[attribute: "maxinstances"] ?? "0") ?? 0
                rule.isRoot = flag(attrs[attribute: "root"])
            }
            for c in special.elements(named: "child") {
                guard let t = c[attribute: "type"], !t.isEmpty else { continue }
                let start = Int(c[attribute: "start"] ?? "0") ?? -1
                let stop = Int(c[attribute: "stop"] ?? "0") ?? -1
                guard (0...ResourceManager.levelsMax).contains(start), (0...ResourceManager.levelsMax).contains(stop) else {
                    return .failure(MetadataError("child type \(t): levels must be 0...\(ResourceManager.levelsMax)"))
                }
                rule.children.append(ChildType(type: t, start: start, stop: stop, forbidden: flag(c[attribute: "forbid"])))
            }
        }
        if rule.parameters.filter(\.primary).count > 1 {
            return .failure(MetadataError("more than one parameter is primary"))
        }
        return .success(rule)
    }

    /// rgmanager's time values: a number of seconds, or a number with `ms`, `s`, `m`, `h` or `d` (OCF's `20s`).
    public static func parseDuration(_ text: String) -> Duration? {
        let t = text.trimmingWhitespace
        let digits = t.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let n = Int64(digits), n < 100_000_000 else { return nil }
        switch t.dropFirst(digits.count).lowercased() {
        case "", "s", "sec": return .seconds(n)
        case "ms", "msec": return .milliseconds(n)
        case "m", "min": return .seconds(n * 60)
        case "h", "hr": return .seconds(n * 3600)
        case "d": return .seconds(n * 86_400)
        default: return nil
        }
    }

    private static func flag(_ v: String?) -> Bool { v.flatMap(ResourceManager.parseBool) ?? false }
}

extension ResourceManager {
    /// rgmanager's booleans: 1/yes/on/true and 0/no/off/false, any case.
    public static func parseBool(_ raw: String) -> Bool? {
        switch raw.trimmingWhitespace.lowercased() {
        case "1", "yes", "on", "true": true
        case "0", "no", "off", "false": false
        default: nil
        }
    }
}
