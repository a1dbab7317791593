// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Reads the attributes and children of one element into typed values, reporting bad values to a sink and
/// remembering which attributes and children were understood, so the rest can be kept and warned about.
final class ElementReader {
    let element: XMLElement
    let path: String
    let sink: DiagnosticSink
    private var consumedAttributes: Set<String> = []
    private var consumedChildren: Set<String> = []

    init(_ element: XMLElement, path: String, sink: DiagnosticSink) {
        self.element = element
        self.path = path
        self.sink = sink
    }

    var line: Int { element.line }
    var name: String { element.name }

    func error(_ message: String) { sink.error(line, path, message) }
    func warning(_ message: String) { sink.warning(line, path, message) }

    /// How the element is named in messages: `<clusternode name="n1">` style context.
    var label: String {
        if let n = element[attribute: "name"] { return "<\(element.name) name=\"\(n)\">" }
        return "<\(element.name)>"
    }

    // MARK: - Attributes

    func has(_ attribute: String) -> Bool { element[attribute: attribute] != nil }

    func string(_ attribute: String, required: Bool = false, nonEmpty: Bool = false) -> String? {
        consumedAttributes.insert(attribute)
        guard let value = element[attribute: attribute] else {
            if required { error("\(label) is missing the required attribute '\(attribute)'") }
            return nil
        }
        if nonEmpty && value.trimmingWhitespace.isEmpty {
            error("\(label): attribute '\(attribute)' must not be empty")
            return nil
        }
        return value
    }

    func integer(_ attribute: String, required: Bool = false, in range: ClosedRange<Int64>) -> Int64? {
        guard let raw = string(attribute, required: required) else { return nil }
        guard let value = Self.parseInteger(raw) else {
            error("\(label): attribute '\(attribute)' must be an integer, not '\(raw)'")
            return nil
        }
        guard range.contains(value) else {
            error("\(label): attribute '\(attribute)' is \(value), outside \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return value
    }

    func unsigned(_ attribute: String, required: Bool = false, max: UInt64 = UInt64(UInt32.max), min: UInt64 = 0) -> UInt64? {
        guard let raw = string(attribute, required: required) else { return nil }
        guard let value = Self.parseUnsigned(raw) else {
            error("\(label): attribute '\(attribute)' must be a non-negative integer, not '\(raw)'")
            return nil
        }
        guard value >= min, value <= max else {
            error("\(label): attribute '\(attribute)' is \(value), outside \(min)...\(max)")
            return nil
        }
        return value
    }

    func bool(_ attribute: String) -> Bool? {
        guard let raw = string(attribute) else { return nil }
        guard let value = Self.parseBool(raw) else {
            error("\(label): attribute '\(attribute)' must be a boolean (1/0, yes/no, on/off, true/false), not '\(raw)'")
            return nil
        }
        return value
    }

    func milliseconds(_ attribute: String, max: UInt64 = 86_400_000, min: UInt64 = 0) -> Duration? {
        unsigned(attribute, max: max, min: min).map { .milliseconds(Int64($0)) }
    }

    func seconds(_ attribute: String, max: UInt64 = 86_400) -> Duration? {
        unsigned(attribute, max: max).map { .seconds(Int64($0)) }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ attribute: String, as type: T.Type) -> T? where T.RawValue == String {
        guard let raw = string(attribute) else { return nil }
        guard let value = T(rawValue: raw.lowercased()) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            error("\(label): attribute '\(attribute)' must be one of \(allowed), not '\(raw)'")
            return nil
        }
        return value
    }

    /// Marks attributes as understood without reading them (e.g. ones another reader handles).
    func accept(_ attributes: String...) { consumedAttributes.formUnion(attributes) }

    /// The attributes nobody read, in document order; each gets a warning unless `warn` is false.
    func unknownAttributes(warn: Bool = true) -> [XMLAttribute] {
        let extra = element.attributes.filter { !consumedAttributes.contains($0.name) }
        if warn {
            for a in extra { warning("unknown attribute '\(a.name)' on \(label)") }
        }
        return extra
    }

    /// Every attribute not read so far, as free-form arguments (fence device and agent parameters).
    func remainingAttributes() -> [XMLAttribute] {
        let extra = element.attributes.filter { !consumedAttributes.contains($0.name) }
        consumedAttributes.formUnion(extra.map(\.name))
        return extra
    }

    // MARK: - Children

    func children(_ name: String) -> [ElementReader] {
        consumedChildren.insert(name)
        var index = 0
        return element.elements(named: name).map { child in
            index += 1
            return ElementReader(child, path: "\(path)/\(name)[\(index)]", sink: sink)
        }
    }

    func child(_ name: String) -> ElementReader? {
        let all = children(name)
        if all.count > 1 {
            sink.error(all[1].line, all[1].path, "<\(name)> may appear only once inside \(label)")
        }
        return all.first
    }

    func acceptChildren(_ names: String...) { consumedChildren.formUnion(names) }

    /// The child elements nobody read, kept for round trip; each gets a warning unless `warn` is false.
    func unknownChildren(warn: Bool = true) -> [XMLElement] {
        let extra = element.elements.filter { !consumedChildren.contains($0.name) }
        if warn {
            for e in extra { sink.warning(e.line, path, "unknown element <\(e.name)> inside \(label)") }
        }
        return extra
    }

    // MARK: - Value parsing

    static func parseUnsigned(_ raw: String) -> UInt64? {
        let s = raw.trimmingWhitespace
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
        return UInt64(s)
    }

    static func parseInteger(_ raw: String) -> Int64? {
        let s = raw.trimmingWhitespace
        return Int64(s)
    }

    static func parseBool(_ raw: String) -> Bool? {
        switch raw.trimmingWhitespace.lowercased() {
        case "1", "yes", "on", "true": true
        case "0", "no", "off", "false": false
        default: nil
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks.
    public var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
