// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// A node of a resource tree: a `<service>`, `<vm>` or any resource agent element (`<ip>`, `<fs>`, `<script>` …),
/// inline or as a `ref=` to a definition in `<resources>`.
public struct ResourceNode: Sendable, Hashable {
    /// The element name, which is the resource agent type.
    public var type: String
    /// The attributes as written, in order (agent parameters and rgmanager's `__` options).
    public var attributes: [XMLAttribute]
    public var children: [ResourceNode]
    public var line: Int

    public init(type: String, attributes: [XMLAttribute], children: [ResourceNode] = [], line: Int = 0) {
        self.type = type
        self.attributes = attributes
        self.children = children
        self.line = line
    }

    public subscript(attribute name: String) -> String? { attributes.first { $0.name == name }?.value }

    /// The `ref=` target, if this node refers to a shared resource definition.
    public var reference: String? { self[attribute: "ref"] }

    /// The value that identifies this resource among its type: `name`, or `address` for ip-like agents.
    public var primaryValue: String? { self[attribute: "name"] ?? self[attribute: "address"] }

    /// `type:primary`, as rg_test and clustat print resources (e.g. `ip:10.0.0.1/24`, `service:www`).
    public var displayName: String { "\(type):\(reference ?? primaryValue ?? "?")" }

    static func read(_ r: ElementReader) -> ResourceNode {
        let children = r.element.elements.enumerated().map { i, child in
            ResourceNode.read(ElementReader(child, path: "\(r.path)/\(child.name)[\(i + 1)]", sink: r.sink))
        }
        return ResourceNode(type: r.element.name, attributes: r.element.attributes, children: children, line: r.line)
    }
}

/// `<failoverdomainnode name= priority=>`.
public struct FailoverDomainNode: Sendable, Hashable {
    public var name: String
    /// Lower numbers are preferred; read only when the domain is ordered.
    public var priority: UInt32
    public var line: Int
}

/// `<failoverdomain name= ordered= restricted= nofailback=>`: where a service may run and in what preference.
public struct FailoverDomain: Sendable, Hashable {
    public var name: String
    public var ordered: Bool
    public var restricted: Bool
    public var noFailback: Bool
    public var nodes: [FailoverDomainNode]
    public var line: Int
}

/// `<rm>`: rgmanager's settings, failover domains, shared resources and services.
public struct ResourceManagerConfig: Sendable, Hashable {
    public var logLevel: UInt32?
    public var logFacility: String?
    public var transitionThrottling: UInt32?
    public var centralProcessing: Bool = false
    public var statusPollInterval: Duration = .seconds(10)
    public var statusChildMax: UInt32?
    public var failoverDomains: [FailoverDomain] = []
    /// Shared definitions in `<resources>`, referred to with `ref=`.
    public var resources: [ResourceNode] = []
    /// `<resource-defaults>` attributes.
    public var resourceDefaults: [XMLAttribute] = []
    /// Top-level `<service>` and `<vm>` trees, in file order.
    public var services: [ResourceNode] = []
    public var line: Int = 0
    public var extraAttributes: [XMLAttribute] = []
    public var extraElements: [XMLElement] = []

    public init() {}

    /// The service-like root element types.
    public static let rootTypes: Set<String> = ["service", "vm"]

    static func read(_ r: ElementReader) -> ResourceManagerConfig {
        var rm = ResourceManagerConfig()
        rm.line = r.line
        rm.logLevel = r.unsigned("log_level", max: 7).map { UInt32($0) }
        rm.logFacility = r.string("log_facility")
        rm.transitionThrottling = r.unsigned("transition_throttling").map { UInt32($0) }
        rm.centralProcessing = r.bool("central_processing") ?? false
        rm.statusPollInterval = r.seconds("status_poll_interval", max: 86_400) ?? rm.statusPollInterval
        rm.statusChildMax = r.unsigned("status_child_max", max: 10_000, min: 1).map { UInt32($0) }
        r.accept("statusmax")
        if let fods = r.child("failoverdomains") {
            for d in fods.children("failoverdomain") {
                let name = d.string("name", required: true, nonEmpty: true) ?? ""
                let nodes = d.children("failoverdomainnode").compactMap { n -> FailoverDomainNode? in
                    defer { _ = n.unknownAttributes() }
                    guard let nn = n.string("name", required: true, nonEmpty: true) else { return nil }
                    return FailoverDomainNode(name: nn, priority: n.unsigned("priority", max: 100, min: 1).map { UInt32($0) } ?? 1,
                                              line: n.line)
                }
                rm.failoverDomains.append(FailoverDomain(name: name, ordered: d.bool("ordered") ?? false,
                                                         restricted: d.bool("restricted") ?? false,
                                                         noFailback: d.bool("nofailback") ?? false, nodes: nodes, line: d.line))
                _ = d.unknownAttributes()
                _ = d.unknownChildren()
            }
            _ = fods.unknownChildren()
        }
        if let res = r.child("resources") {
            rm.resources = res.element.elements.enumerated().map { i, child in
                ResourceNode.read(ElementReader(child, path: "\(res.path)/\(child.name)[\(i + 1)]", sink: r.sink))
            }
        }
        if let defaults = r.child("resource-defaults") { rm.resourceDefaults = defaults.remainingAttributes() }
        for type in ["service", "vm"] {
            for s in r.children(type) { rm.services.append(ResourceNode.read(s)) }
        }
        rm.services.sort { $0.line < $1.line }
        r.acceptChildren("events")
        rm.extraAttributes = r.unknownAttributes()
        rm.extraElements = r.unknownChildren()
        return rm
    }
}
