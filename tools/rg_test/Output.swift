// SPDX-License-Identifier: Apache-2.0
import ResourceCore

/// A tree as JSON: type, attributes (in order, null for nothing inherited) and children.
struct TreeJSON: Encodable {
    let type: String
    let attributes: [[String: String?]]
    let children: [TreeJSON]

    init(_ r: ResourceManager.Resource) {
        type = r.type
        attributes = r.attributes.map { ["name": $0.name, "value": $0.value] }
        children = r.children.map(TreeJSON.init)
    }

    static func forest(_ f: ResourceManager.Forest) -> [String: [TreeJSON]] {
        ["services": f.services.map(TreeJSON.init)]
    }
}

/// A rule as JSON.
struct RuleJSON: Encodable {
    struct Parameter: Encodable {
        let name: String
        let primary, unique, required: Bool
        let inherit, defaultValue: String?
    }
    struct Action: Encodable {
        let name: String
        let timeoutSeconds, intervalSeconds: Int64?
        let depth: Int
    }
    struct Child: Encodable {
        let type: String
        let start, stop: Int
        let forbidden: Bool
    }
    let type, agent: String
    let maxInstances: Int
    let parameters: [Parameter]
    let actions: [Action]
    let children: [Child]

    init(_ r: ResourceManager.Rule, agent: String) {
        type = r.type
        self.agent = agent
        maxInstances = r.maxInstances
        parameters = r.parameters.map { Parameter(name: $0.name, primary: $0.primary, unique: $0.unique, required: $0.required,
                                                  inherit: $0.inherit, defaultValue: $0.defaultValue) }
        actions = r.actions.map { Action(name: $0.name, timeoutSeconds: $0.timeout?.components.seconds, intervalSeconds: $0.interval?.components.seconds, depth: $0.depth) }
        children = r.children.map { Child(type: $0.type, start: $0.startLevel, stop: $0.stopLevel, forbidden: $0.forbidden) }
    }
}

/// A rule as text, one block per type.
enum RuleText {
    static func format(_ r: ResourceManager.Rule, agent: String) -> String {
        var out = "Resource Rules for \"\(r.type)\"\n  Agent: \(agent)\n"
        if r.maxInstances > 0 { out += "  Max instances: \(r.maxInstances)\n" }
        out += "  Attributes:\n"
        for p in r.parameters {
            var flags: [String] = []
            if p.primary { flags.append("primary") }
            if p.unique { flags.append("unique") }
            if p.required { flags.append("required") }
            if let i = p.inherit { flags.append("inherit(\"\(i)\")") }
            if let d = p.defaultValue { flags.append("default=\"\(d)\"") }
            out += "    \(p.name)\(flags.isEmpty ? "" : " [\(flags.joined(separator: " "))]")\n"
        }
        out += "  Actions:\n"
        for a in r.actions {
            var s = "    \(a.name)"
            if let t = a.timeout { s += " timeout=\(t.components.seconds)s" }
            if let i = a.interval { s += " interval=\(i.components.seconds)s" }
            if a.depth != 0 { s += " depth=\(a.depth)" }
            out += s + "\n"
        }
        if !r.children.isEmpty {
            out += "  Child types:\n"
            for c in r.children {
                out += c.forbidden ? "    \(c.type) (forbidden)\n" : "    \(c.type) start=\(c.startLevel) stop=\(c.stopLevel)\n"
            }
        }
        return out
    }
}
