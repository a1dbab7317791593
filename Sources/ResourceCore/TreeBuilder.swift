// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel

extension ResourceManager {
    /// The resolved trees of every service in `<rm>`, and every problem found on the way.
    ///
    /// A service with an error is left out (its name is in `brokenServices`); the others are built, so one bad
    /// service does not stop the rest of the cluster's.
    public struct Forest: Sendable, Hashable {
        public var services: [Resource]
        public var brokenServices: [String]
        public var diagnostics: [ConfigDiagnostic]

        public func service(_ name: String) -> Resource? { services.first { $0.primaryValue == name } }
    }

    /// Builds resource trees from `<rm>`: resolves `ref=` against `<resources>`, fills defaults from the rules,
    /// resolves inherited attributes, orders children, and checks forbidden children, required attributes,
    /// `maxinstances` and unknown types.
    public struct TreeBuilder {
        public let rules: [String: Rule]
        public let file: String
        private var diagnostics: [ConfigDiagnostic] = []
        /// Tree nodes using each shared or inline resource so far ("type:primary" -> count), for maxinstances.
        private var uses: [String: Int] = [:]
        private var definitions: [String: ResourceNode] = [:]

        public init(rules: [String: Rule], file: String) {
            self.rules = rules
            self.file = file
        }

        /// Builds every service of `rm`.
        public mutating func build(_ rm: ResourceManagerConfig) -> Forest {
            diagnostics = []
            uses = [:]
            definitions = [:]
            for def in rm.resources {
                guard let rule = rules[def.type] else {
                    error(def.line, "<\(def.type)> in <resources>: no resource agent handles this type (is it installed?)")
                    continue
                }
                let key = rule.primaryParameter.flatMap { def[attribute: $0] } ?? def.primaryValue
                if let key { definitions["\(def.type):\(key)"] = def }
            }
            var services: [Resource] = []
            var broken: [String] = []
            for svc in rm.services {
                let before = diagnostics.filter { $0.severity == .error }.count
                let name = svc[attribute: "name"] ?? "?"
                let tree = node(svc, ancestors: [], service: name)
                let after = diagnostics.filter { $0.severity == .error }.count
                if let tree, after == before {
                    services.append(tree)
                } else {
                    broken.append(name)
                }
            }
            return Forest(services: services, brokenServices: broken, diagnostics: diagnostics.sortedForDisplay)
        }

        // MARK: - One node

        private mutating func node(_ element: ResourceNode, ancestors: [Resource], service: String) -> Resource? {
            guard let rule = rules[element.type] else {
                error(element.line, "service \"\(service)\": <\(element.type)>: no resource agent handles this type (is it installed?)")
                return nil
            }
            if ancestors.isEmpty && !ResourceManagerConfig.rootTypes.contains(element.type) && !rule.isRoot {
                error(element.line, "<\(element.type)> cannot be the root of a service tree")
                return nil
            }
            var source = element
            var reference: String?
            if let ref = element.reference {
                guard let def = definitions["\(element.type):\(ref)"] else {
                    error(element.line, "service \"\(service)\": <\(element.type) ref=\"\(ref)\"> refers to a resource that is not defined in <resources>")
                    return nil
                }
                source = def
                reference = ref
                // Attributes beside ref= (other than rgmanager's __ options) are not used: say so.
                for a in element.attributes where a.name != "ref" && !a.name.hasPrefix("__") {
                    warning(element.line, "service \"\(service)\": \(a.name)= on <\(element.type) ref=\"\(ref)\"> is ignored; set it in <resources>")
                }
            }
            var attributes: [Resource.Attribute] = []
            for p in rule.parameters {
                if let v = source[attribute: p.name] {
                    attributes.append(.init(p.name, v, source: .configured))
                } else if let spec = p.inherit {
                    attributes.append(.init(p.name, Self.inherited(spec, ancestors: ancestors), source: .inherited))
                } else if let d = p.defaultValue {
                    attributes.append(.init(p.name, d, source: .metadataDefault))
                } else if p.required || p.primary {
                    error(source.line, "service \"\(service)\": <\(element.type)> needs \(p.name)=")
                    return nil
                }
            }
            let known = Set(rule.parameters.map(\.name))
            for a in source.attributes where !known.contains(a.name) && a.name != "ref" && !a.name.hasPrefix("__") {
                warning(source.line, "service \"\(service)\": <\(element.type)> has no parameter \(a.name)= (the agent ignores it)")
            }
            let primary = rule.primaryParameter.flatMap { n in attributes.first { $0.name == n }?.value } ?? attributes.first?.value ?? ""
            let key = "\(element.type):\(primary)"
            uses[key, default: 0] += 1
            if reference == nil && uses[key]! > 1 {
                error(element.line, "service \"\(service)\": \(key) is defined more than once; define it once in <resources> and use ref=")
                return nil
            }
            if rule.maxInstances > 0 && uses[key]! > rule.maxInstances {
                error(element.line, "service \"\(service)\": \(key) is used \(uses[key]!) times; its agent allows \(rule.maxInstances)")
                return nil
            }
            var resource = Resource(type: element.type, primaryValue: primary, attributes: attributes,
                                    options: options(element, definition: source, service: service, isRoot: ancestors.isEmpty),
                                    line: element.line, reference: reference)
            // Children come from the tree element only, as in rgmanager: a definition's own children are not used.
            let childElements = element.children
            var typed: [[Resource]] = Array(repeating: [], count: rule.children.count)
            var untyped: [Resource] = []
            let chain = ancestors + [resource]
            for c in childElements {
                if let entry = rule.children.firstIndex(where: { $0.type == c.type }) {
                    if rule.children[entry].forbidden {
                        error(c.line, "service \"\(service)\": <\(c.type)> may not be nested in <\(element.type)>")
                        continue
                    }
                    guard let child = node(c, ancestors: chain, service: service) else { continue }
                    typed[entry].append(child)
                } else {
                    guard let child = node(c, ancestors: chain, service: service) else { continue }
                    untyped.append(child)
                }
            }
            resource.children = typed.flatMap { $0 } + untyped
            if ancestors.isEmpty && resource.count > ResourceManager.resourcesPerServiceMax {
                error(element.line, "service \"\(service)\" has \(resource.count) resources; at most \(ResourceManager.resourcesPerServiceMax)")
                return nil
            }
            return resource
        }

        /// rgmanager's inheritance: `type%attr` takes `attr` from the nearest ancestor of that type; a plain `attr`
        /// takes it from the parent. Either gives nothing if that node lacks the attribute.
        static func inherited(_ spec: String, ancestors: [Resource]) -> String? {
            let parts = spec.split(separator: "%", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                guard let holder = ancestors.last(where: { $0.type == parts[0] }) else { return nil }
                return holder[parts[1]]
            }
            return ancestors.last?[spec]
        }

        private mutating func options(_ element: ResourceNode, definition: ResourceNode, service: String, isRoot: Bool) -> Resource.Options {
            var o = Resource.Options()
            func value(_ name: String) -> String? { element[attribute: name] ?? definition[attribute: name] }
            if let v = value("__independent_subtree"), !isRoot {
                switch v.lowercased() {
                case "1", "yes": o.independentSubtree = true
                case "2", "non-critical":
                    o.independentSubtree = true
                    o.nonCritical = true
                case "0", "no": break
                default: warning(element.line, "service \"\(service)\": __independent_subtree must be 0, 1 or 2, not \"\(v)\"")
                }
            }
            if let v = value("__enforce_timeouts") { o.enforceTimeouts = ResourceManager.parseBool(v) ?? false }
            o.maxRestarts = value("__max_restarts").flatMap { Int($0) } ?? 0
            o.restartExpireTime = value("__restart_expire_time").flatMap(Rule.parseDuration) ?? .zero
            o.maxFailures = value("__max_failures").flatMap { Int($0) } ?? 0
            o.failureExpireTime = value("__failure_expire_time").flatMap(Rule.parseDuration) ?? .zero
            return o
        }

        private mutating func error(_ line: Int, _ message: String) {
            diagnostics.append(ConfigDiagnostic(.error, file: file, line: line, path: "/cluster/rm", message: message))
        }

        private mutating func warning(_ line: Int, _ message: String) {
            diagnostics.append(ConfigDiagnostic(.warning, file: file, line: line, path: "/cluster/rm", message: message))
        }
    }
}
