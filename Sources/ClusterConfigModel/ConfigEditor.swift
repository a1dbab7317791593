// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Why an edit of cluster.conf was refused.
public struct ConfigEditError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Edits of a cluster.conf document, as ccs_tool makes them.
///
/// Edits work on the parsed `XMLDocument`, so comments, layout and unknown elements survive. Every edit bumps
/// `config_version`. Callers validate the result before writing it; an edit that would make the file invalid is
/// refused and the original is left as it was.
public enum ConfigEditor {
    /// A new, minimal cluster.conf (`ccs_tool create`). With `twoNode`, `<cman two_node="1" expected_votes="1"/>`.
    public static func create(clusterName: String, twoNode: Bool) -> XMLDocument {
        var root = XMLElement(name: "cluster", attributes: [XMLAttribute("name", clusterName), XMLAttribute("config_version", "1")])
        if twoNode {
            appendChild(XMLElement(name: "cman", attributes: [XMLAttribute("two_node", "1"), XMLAttribute("expected_votes", "1")]), to: &root, parentIndent: "")
        }
        appendChild(XMLElement(name: "clusternodes"), to: &root, parentIndent: "")
        appendChild(XMLElement(name: "fencedevices"), to: &root, parentIndent: "")
        var rm = XMLElement(name: "rm")
        appendChild(XMLElement(name: "failoverdomains"), to: &rm, parentIndent: "  ")
        appendChild(XMLElement(name: "resources"), to: &rm, parentIndent: "  ")
        appendChild(rm, to: &root, parentIndent: "")
        return XMLDocument(root: root)
    }

    /// Adds a `<clusternode>` (`ccs_tool addnode`). `nodeID` nil picks the lowest unused id.
    public static func addNode(_ document: inout XMLDocument, name: String, nodeID: UInt32?, votes: UInt32?,
                               fenceDevice: String?, fenceArguments: [XMLAttribute]) throws(ConfigEditError) {
        guard !name.isEmpty else { throw ConfigEditError("a node name is required") }
        var nodes = document.root.firstElement(named: "clusternodes") ?? XMLElement(name: "clusternodes")
        let existing = nodes.elements(named: "clusternode")
        if existing.contains(where: { $0[attribute: "name"] == name }) {
            throw ConfigEditError("node \"\(name)\" already exists")
        }
        let usedIDs = Set(existing.compactMap { $0[attribute: "nodeid"].flatMap { UInt32($0) } })
        let id: UInt32
        if let nodeID {
            guard nodeID > 0 else { throw ConfigEditError("node ids start at 1") }
            guard !usedIDs.contains(nodeID) else {
                let owner = existing.first { $0[attribute: "nodeid"] == String(nodeID) }?[attribute: "name"] ?? "?"
                throw ConfigEditError("nodeid \(nodeID) is already used by node \"\(owner)\"")
            }
            id = nodeID
        } else {
            id = (1...).first { !usedIDs.contains(UInt32($0)) }.map { UInt32($0) } ?? 1
        }
        if let fenceDevice {
            let devices = document.root.firstElement(named: "fencedevices")?.elements(named: "fencedevice") ?? []
            guard devices.contains(where: { $0[attribute: "name"] == fenceDevice }) else {
                throw ConfigEditError("fence device \"\(fenceDevice)\" is not defined; add it first with 'ccs_tool addfence'")
            }
        }
        var node = XMLElement(name: "clusternode", attributes: [
            XMLAttribute("name", name), XMLAttribute("votes", String(votes ?? 1)), XMLAttribute("nodeid", String(id)),
        ])
        var fence = XMLElement(name: "fence")
        if let fenceDevice {
            var method = XMLElement(name: "method", attributes: [XMLAttribute("name", "single")])
            method.children = [.element(XMLElement(name: "device", attributes: [XMLAttribute("name", fenceDevice)] + fenceArguments))]
            fence.children = [.element(method)]
        }
        node.children = [.element(fence)]
        let hadSection = document.root.firstElement(named: "clusternodes") != nil
        let indent = childIndent(of: document.root, parentIndent: "")
        appendChild(node, to: &nodes, parentIndent: indent)
        if hadSection { replaceFirst("clusternodes", in: &document.root, with: nodes) } else { appendChild(nodes, to: &document.root, parentIndent: "") }
        bumpVersion(&document)
    }

    /// Removes the `<clusternode>` called `name` (`ccs_tool delnode`).
    public static func deleteNode(_ document: inout XMLDocument, name: String) throws(ConfigEditError) {
        guard var nodes = document.root.firstElement(named: "clusternodes"),
              removeChild(of: &nodes, where: { $0.name == "clusternode" && $0[attribute: "name"] == name })
        else { throw ConfigEditError("node \"\(name)\" is not in the configuration") }
        replaceFirst("clusternodes", in: &document.root, with: nodes)
        bumpVersion(&document)
    }

    /// Adds a `<fencedevice name= agent= …>` (`ccs_tool addfence`).
    public static func addFenceDevice(_ document: inout XMLDocument, name: String, agent: String,
                                      arguments: [XMLAttribute]) throws(ConfigEditError) {
        guard !name.isEmpty, !agent.isEmpty else { throw ConfigEditError("a fence device needs a name and an agent") }
        for a in arguments where a.name == "name" || a.name == "agent" {
            throw ConfigEditError("'\(a.name)=' cannot be given as a device argument")
        }
        var devices = document.root.firstElement(named: "fencedevices") ?? XMLElement(name: "fencedevices")
        if devices.elements(named: "fencedevice").contains(where: { $0[attribute: "name"] == name }) {
            throw ConfigEditError("fence device \"\(name)\" already exists")
        }
        let device = XMLElement(name: "fencedevice", attributes: [XMLAttribute("name", name), XMLAttribute("agent", agent)] + arguments)
        let hadSection = document.root.firstElement(named: "fencedevices") != nil
        appendChild(device, to: &devices, parentIndent: childIndent(of: document.root, parentIndent: ""))
        if hadSection { replaceFirst("fencedevices", in: &document.root, with: devices) } else { appendChild(devices, to: &document.root, parentIndent: "") }
        bumpVersion(&document)
    }

    /// Removes the `<fencedevice>` called `name` (`ccs_tool delfence`). Refused while nodes still use it.
    public static func deleteFenceDevice(_ document: inout XMLDocument, name: String) throws(ConfigEditError) {
        let users = (document.root.firstElement(named: "clusternodes")?.elements(named: "clusternode") ?? []).filter { node in
            (node.firstElement(named: "fence")?.elements(named: "method") ?? []).contains { m in
                m.elements(named: "device").contains { $0[attribute: "name"] == name }
            }
        }.compactMap { $0[attribute: "name"] }
        if !users.isEmpty {
            throw ConfigEditError("fence device \"\(name)\" is still used by \(users.joined(separator: ", ")); remove those nodes' references first")
        }
        guard var devices = document.root.firstElement(named: "fencedevices"),
              removeChild(of: &devices, where: { $0.name == "fencedevice" && $0[attribute: "name"] == name })
        else { throw ConfigEditError("fence device \"\(name)\" is not in the configuration") }
        replaceFirst("fencedevices", in: &document.root, with: devices)
        bumpVersion(&document)
    }

    /// Increments `config_version` (treating a missing or unreadable value as 0).
    public static func bumpVersion(_ document: inout XMLDocument) {
        let current = document.root[attribute: "config_version"].flatMap { UInt64($0.trimmingWhitespace) } ?? 0
        document.root[attribute: "config_version"] = String(current + 1)
    }

    // MARK: - Layout-preserving tree helpers

    /// The indentation used for children of `parent` (from existing whitespace, else parent's plus two spaces).
    static func childIndent(of parent: XMLElement, parentIndent: String) -> String {
        for (i, child) in parent.children.enumerated() where i > 0 {
            if case .element = child, case .text(let ws) = parent.children[i - 1], let nl = ws.lastIndex(of: "\n") {
                return String(ws[ws.index(after: nl)...])
            }
        }
        return parentIndent + "  "
    }

    /// Appends `child` as the last element of `parent`, indented like its siblings, and lays out `child`'s own
    /// subtree if it has no whitespace yet.
    static func appendChild(_ child: XMLElement, to parent: inout XMLElement, parentIndent: String) {
        let indent = childIndent(of: parent, parentIndent: parentIndent)
        let laidOut = layOut(child, indent: indent)
        let onlyWhitespace = parent.children.allSatisfy {
            if case .text(let s) = $0 { return s.trimmingWhitespace.isEmpty } else { return false }
        }
        if onlyWhitespace {
            parent.children = [.text("\n" + indent), .element(laidOut), .text("\n" + parentIndent)]
            return
        }
        var insertAt = parent.children.count
        if case .text(let s) = parent.children.last, s.trimmingWhitespace.isEmpty { insertAt -= 1 }
        parent.children.insert(contentsOf: [.text("\n" + indent), .element(laidOut)], at: insertAt)
        if insertAt == parent.children.count - 2 { parent.children.append(.text("\n" + parentIndent)) }
    }

    /// `element` with whitespace between its element children, if it has none.
    static func layOut(_ element: XMLElement, indent: String) -> XMLElement {
        guard !element.children.isEmpty, element.children.allSatisfy({ if case .element = $0 { true } else { false } }) else {
            return element
        }
        var e = element
        let inner = indent + "  "
        e.children = []
        for child in element.children {
            if case .element(let c) = child { e.children += [.text("\n" + inner), .element(layOut(c, indent: inner))] }
        }
        e.children.append(.text("\n" + indent))
        return e
    }

    /// Removes the first element child matching `predicate` and the whitespace before it. Returns false if none.
    static func removeChild(of parent: inout XMLElement, where predicate: (XMLElement) -> Bool) -> Bool {
        guard let index = parent.children.firstIndex(where: { if case .element(let e) = $0 { predicate(e) } else { false } }) else {
            return false
        }
        parent.children.remove(at: index)
        if index > 0, case .text(let s) = parent.children[index - 1], s.trimmingWhitespace.isEmpty {
            parent.children.remove(at: index - 1)
        }
        if parent.children.allSatisfy({ if case .text(let s) = $0 { s.trimmingWhitespace.isEmpty } else { false } }) {
            parent.children = []
        }
        return true
    }

    static func replaceFirst(_ name: String, in parent: inout XMLElement, with element: XMLElement) {
        if let index = parent.children.firstIndex(where: { if case .element(let e) = $0 { e.name == name } else { false } }) {
            parent.children[index] = .element(element)
        }
    }
}
