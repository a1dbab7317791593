// SPDX-License-Identifier: Apache-2.0
import CXML2
import ClusterConfigModel

/// Parses XML text with libxml2 into the pure `XMLDocument` tree.
///
/// The network is never touched (`XML_PARSE_NONET`), entities are not substituted, no external DTD is loaded, and a
/// document that declares entities or an internal DTD subset is refused.
public enum XMLDocumentParser {
    /// The parsed document, or the diagnostics explaining why it could not be parsed.
    public static func parse(_ bytes: [UInt8], file: String) -> Result<XMLDocument, ParseFailure> {
        LibXML.initialize()
        let collector = ErrorCollector(file: file)
        return collector.capturing {
            guard let ctxt = xmlNewParserCtxt() else {
                return .failure(ParseFailure([ConfigDiagnostic(.error, file: file, line: 0, path: "", message: "out of memory creating the XML parser")]))
            }
            defer { xmlFreeParserCtxt(ctxt) }
            let options = Int32(XML_PARSE_NONET.rawValue)
            let doc = bytes.withUnsafeBufferPointer { buf in
                buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buf.count, 1)) {
                    xmlCtxtReadMemory(ctxt, $0, Int32(buf.count), file, nil, options)
                }
            }
            guard let doc else {
                var diags = collector.diagnostics
                if diags.isEmpty { diags = [ConfigDiagnostic(.error, file: file, line: 0, path: "", message: "not a well-formed XML document")] }
                return .failure(ParseFailure(diags))
            }
            defer { xmlFreeDoc(doc) }
            if let dtd = doc.pointee.intSubset, dtd.pointee.children != nil {
                return .failure(ParseFailure([ConfigDiagnostic(.error, file: file, line: Int(xmlGetLineNo(UnsafeMutableRawPointer(dtd).assumingMemoryBound(to: xmlNode.self))), path: "",
                                                               message: "DOCTYPE declarations (entities, internal DTD subsets) are not allowed in cluster.conf")]))
            }
            guard let rootNode = xmlDocGetRootElement(doc) else {
                return .failure(ParseFailure([ConfigDiagnostic(.error, file: file, line: 0, path: "", message: "the document has no root element")]))
            }
            var prologue: [XMLNode] = []
            var epilogue: [XMLNode] = []
            var seenRoot = false
            var root: XMLElement?
            var problems: [ConfigDiagnostic] = []
            var cursor = doc.pointee.children
            while let node = cursor {
                if node == rootNode {
                    root = convertElement(node, file: file, problems: &problems)
                    seenRoot = true
                } else if let converted = convert(node, file: file, problems: &problems) {
                    if seenRoot { epilogue.append(converted) } else { prologue.append(converted) }
                }
                cursor = node.pointee.next
            }
            if !problems.isEmpty { return .failure(ParseFailure(problems)) }
            return .success(XMLDocument(prologue: prologue, root: root!, epilogue: epilogue))
        }
    }

    private static func convert(_ node: xmlNodePtr, file: String, problems: inout [ConfigDiagnostic]) -> XMLNode? {
        switch node.pointee.type {
        case XML_ELEMENT_NODE: return .element(convertElement(node, file: file, problems: &problems))
        case XML_TEXT_NODE: return .text(content(node))
        case XML_CDATA_SECTION_NODE: return .cdata(content(node))
        case XML_COMMENT_NODE: return .comment(content(node))
        case XML_PI_NODE: return .processingInstruction(target: string(node.pointee.name), data: content(node))
        case XML_ENTITY_REF_NODE:
            problems.append(ConfigDiagnostic(.error, file: file, line: Int(xmlGetLineNo(node)), path: "",
                                             message: "entity reference &\(string(node.pointee.name)); is not allowed in cluster.conf"))
            return nil
        default: return nil
        }
    }

    private static func convertElement(_ node: xmlNodePtr, file: String, problems: inout [ConfigDiagnostic]) -> XMLElement {
        var element = XMLElement(name: string(node.pointee.name), line: Int(xmlGetLineNo(node)))
        var attr = node.pointee.properties
        while let a = attr {
            let name = string(a.pointee.name)
            var value = ""
            if let raw = xmlNodeListGetString(node.pointee.doc, a.pointee.children, 1) {
                value = String(cString: raw)
                cxml_free(raw)
            }
            var child = a.pointee.children
            while let c = child {
                if c.pointee.type == XML_ENTITY_REF_NODE {
                    problems.append(ConfigDiagnostic(.error, file: file, line: element.line, path: "",
                                                     message: "entity reference &\(string(c.pointee.name)); in attribute '\(name)' is not allowed"))
                }
                child = c.pointee.next
            }
            element.attributes.append(XMLAttribute(name, value))
            attr = a.pointee.next
        }
        var child = node.pointee.children
        while let c = child {
            if let converted = convert(c, file: file, problems: &problems) { element.children.append(converted) }
            child = c.pointee.next
        }
        return element
    }

    private static func content(_ node: xmlNodePtr) -> String {
        guard let raw = xmlNodeGetContent(node) else { return "" }
        defer { cxml_free(raw) }
        return String(cString: raw)
    }

    private static func string(_ p: UnsafePointer<xmlChar>?) -> String { p.map { String(cString: $0) } ?? "" }
}

/// Why a document could not be parsed, as diagnostics with lines.
public struct ParseFailure: Error, Sendable {
    public var diagnostics: [ConfigDiagnostic]
    public init(_ diagnostics: [ConfigDiagnostic]) { self.diagnostics = diagnostics }
}
