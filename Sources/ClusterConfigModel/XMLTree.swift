// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// One attribute of an element, in document order.
public struct XMLAttribute: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A node of a parsed XML document: the pure tree the config model is read from and written back as.
///
/// Whitespace, comments and unknown elements are kept, so an edit of cluster.conf changes only what it means to.
public enum XMLNode: Hashable, Sendable {
    case element(XMLElement)
    case text(String)
    case comment(String)
    case cdata(String)
    case processingInstruction(target: String, data: String)
}

/// An XML element with its attributes and children, and the line it started on (1-based, 0 if unknown).
public struct XMLElement: Hashable, Sendable {
    public var name: String
    public var attributes: [XMLAttribute]
    public var children: [XMLNode]
    public var line: Int

    public init(name: String, attributes: [XMLAttribute] = [], children: [XMLNode] = [], line: Int = 0) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.line = line
    }

    /// The value of the attribute `name`, if present.
    public subscript(attribute name: String) -> String? {
        get { attributes.first(where: { $0.name == name })?.value }
        set {
            if let index = attributes.firstIndex(where: { $0.name == name }) {
                if let newValue { attributes[index].value = newValue } else { attributes.remove(at: index) }
            } else if let newValue {
                attributes.append(XMLAttribute(name, newValue))
            }
        }
    }

    /// The element children, in order.
    public var elements: [XMLElement] {
        children.compactMap { if case .element(let e) = $0 { e } else { nil } }
    }

    /// The element children called `name`.
    public func elements(named name: String) -> [XMLElement] { elements.filter { $0.name == name } }

    /// The first element child called `name`.
    public func firstElement(named name: String) -> XMLElement? { elements.first { $0.name == name } }

    /// The concatenated text content of this element (text and CDATA children only).
    public var text: String {
        children.map {
            switch $0 {
            case .text(let s), .cdata(let s): s
            default: ""
            }
        }.joined()
    }
}

/// A whole document: the nodes before the root (comments, processing instructions), the root, and what follows.
public struct XMLDocument: Hashable, Sendable {
    public var prologue: [XMLNode]
    public var root: XMLElement
    public var epilogue: [XMLNode]

    public init(prologue: [XMLNode] = [], root: XMLElement, epilogue: [XMLNode] = []) {
        self.prologue = prologue
        self.root = root
        self.epilogue = epilogue
    }
}
