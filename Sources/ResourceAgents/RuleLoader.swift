// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ResourceCore

/// Loads resource rules by running each agent's `meta-data` action.
public struct RuleLoader: Sendable {
    public var runner: AgentRunner
    /// How long `meta-data` may take.
    public static let metadataTimeout: Duration = .seconds(10)

    public init(runner: AgentRunner) { self.runner = runner }

    /// A rule that could not be loaded, and why.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var type: String
        public var agent: String
        public var reason: String
        public var description: String { "resource type \(type) (\(agent)): \(reason)" }
    }

    /// The rules of every project agent and of the `ocf.*` types in `extraTypes`.
    public func load(extraTypes: [String] = []) -> (rules: [String: ResourceManager.Rule], failures: [Failure]) {
        var rules: [String: ResourceManager.Rule] = [:]
        var failures: [Failure] = []
        let types = runner.locator.projectTypes() + Set(extraTypes.filter { AgentLocator.ocfAgent($0) != nil }).sorted()
        for type in types {
            switch loadRule(type) {
            case .success(let r): rules[type] = r
            case .failure(let f): failures.append(f)
            }
        }
        return (rules, failures)
    }

    /// Every element type `<rm>` uses (in its shared resources and its services), for `load(extraTypes:)`.
    public static func usedTypes(_ rm: ResourceManagerConfig) -> [String] {
        var out: [String] = []
        func walk(_ n: ResourceNode) {
            out.append(n.type)
            n.children.forEach(walk)
        }
        (rm.resources + rm.services).forEach(walk)
        return out
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// One type's rule.
    public func loadRule(_ type: String) -> Result<ResourceManager.Rule, Failure> {
        let path = runner.locator.executable(for: type)
        func fail(_ why: String) -> Result<ResourceManager.Rule, Failure> { .failure(Failure(type: type, agent: path, reason: why)) }
        let placeholder = ResourceManager.Resource(type: type, primaryValue: "meta-data", attributes: [])
        let (result, text) = runner.run(AgentCall(resource: placeholder, action: "meta-data", timeout: Self.metadataTimeout), output: .capture)
        guard result.succeeded else { return fail("meta-data failed: \(result)") }
        // The XML starts at its declaration or root; agents may print warnings before it.
        let bytes = Array(text.utf8)
        guard let start = Self.find(Array("<?xml".utf8), in: bytes) ?? Self.find(Array("<resource-agent".utf8), in: bytes) else {
            return fail("meta-data printed no <resource-agent> XML")
        }
        let xml = Array(bytes[start...])
        let doc: XMLDocument
        switch XMLDocumentParser.parse(xml, file: "\(path) meta-data") {
        case .success(let d): doc = d
        case .failure(let f): return fail("meta-data is not XML: \(f.diagnostics.first?.message ?? "parse error")")
        }
        switch ResourceManager.Rule.parse(doc.root, type: type) {
        case .failure(let e): return fail("meta-data: \(e.message)")
        case .success(var rule):
            if AgentLocator.ocfAgent(type) != nil {
                // An OCF agent applies its own defaults (and some are placeholders, like Dummy's state file), and
                // has no name parameter: the tree names it with name=.
                for i in rule.parameters.indices {
                    rule.parameters[i].defaultValue = nil
                    rule.parameters[i].primary = false
                }
                rule.parameters.insert(.init("name", primary: true, unique: true, required: true), at: 0)
                rule.children = []
            }
            return .success(rule)
        }
    }
}
