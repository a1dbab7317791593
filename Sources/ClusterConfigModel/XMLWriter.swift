// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Serialises an `XMLDocument` back to text.
///
/// Whitespace text nodes are written as they were parsed, so a document read and written unchanged keeps its layout.
/// Elements with no children are written as `<name/>`.
public enum XMLWriter {
    /// The document as UTF-8 text with an XML declaration.
    public static func serialize(_ document: XMLDocument) -> String {
        var out = "<?xml version=\"1.0\"?>\n"
        for node in document.prologue { write(node, into: &out); if case .text = node {} else { out += "\n" } }
        write(.element(document.root), into: &out)
        out += "\n"
        for node in document.epilogue { write(node, into: &out); if case .text = node {} else { out += "\n" } }
        return out
    }

    /// One element and its subtree.
    public static func serialize(_ element: XMLElement) -> String {
        var out = ""
        write(.element(element), into: &out)
        return out
    }

    private static func write(_ node: XMLNode, into out: inout String) {
        switch node {
        case .element(let e):
            out += "<" + e.name
            for a in e.attributes { out += " \(a.name)=\"\(escape(a.value, attribute: true))\"" }
            if e.children.isEmpty {
                out += "/>"
            } else {
                out += ">"
                for child in e.children { write(child, into: &out) }
                out += "</\(e.name)>"
            }
        case .text(let s): out += escape(s, attribute: false)
        case .comment(let s): out += "<!--\(s)-->"
        case .cdata(let s): out += "<![CDATA[\(s)]]>"
        case .processingInstruction(let target, let data): out += "<?\(target)\(data.isEmpty ? "" : " " + data)?>"
        }
    }

    /// Escapes the characters XML reserves; in attributes also quotes and line breaks.
    public static func escape(_ s: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            case "\n" where attribute: out += "&#10;"
            case "\t" where attribute: out += "&#9;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
