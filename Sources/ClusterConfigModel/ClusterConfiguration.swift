// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The whole of a cluster.conf as typed, immutable values.
///
/// Built by `ClusterConfiguration.decode(_:file:)` from a parsed `XMLDocument`, which is kept in `document` so that
/// tools can edit and write the file back without losing comments, layout or elements this model does not know.
public struct ClusterConfiguration: Sendable, Hashable {
    /// The longest cluster name cman accepts.
    public static let nameLengthMax = 16

    public var name: String
    public var configVersion: UInt64
    public var cman: CmanConfig
    public var totem: TotemConfig
    public var nodes: [ClusterNodeConfig]
    public var fenceDevices: [FenceDeviceConfig]
    public var fenceDaemon: FenceDaemonConfig
    public var quorumDisk: QuorumDiskConfig?
    public var logging: LoggingConfig
    public var dlm: DLMConfig
    public var resourceManager: ResourceManagerConfig?
    /// Top-level elements this model does not interpret, kept as written.
    public var extraElements: [XMLElement]
    public var extraAttributes: [XMLAttribute]
    /// The document this configuration was read from.
    public var document: XMLDocument

    /// The node called `name`, if configured.
    public func node(named name: String) -> ClusterNodeConfig? { nodes.first { $0.name == name } }

    /// The node with id `id`, if configured.
    public func node(id: UInt32) -> ClusterNodeConfig? { nodes.first { $0.nodeID == id } }

    /// The fence device called `name`, if configured.
    public func fenceDevice(named name: String) -> FenceDeviceConfig? { fenceDevices.first { $0.name == name } }

    /// `cluster_id` if set, otherwise derived from the name as cman does.
    public var effectiveClusterID: UInt16 { cman.clusterID ?? CmanConfig.derivedClusterID(fromName: name) }

    /// `<multicast addr>` if set, otherwise derived from the cluster id.
    public var effectiveMulticastAddress: String {
        cman.multicastAddress ?? CmanConfig.derivedMulticastAddress(clusterID: effectiveClusterID)
    }

    /// The sum of all configured node votes.
    public var totalConfiguredVotes: UInt32 { nodes.reduce(0) { $0 + $1.votes } }

    /// Decodes and validates `document`, collecting every problem found. The configuration is returned even when
    /// there are errors (as far as it could be read), so tools can show it; daemons must refuse to use it then.
    public static func decode(_ document: XMLDocument, file: String) -> (ClusterConfiguration, [ConfigDiagnostic]) {
        let sink = DiagnosticSink(file: file)
        let r = ElementReader(document.root, path: "/\(document.root.name)", sink: sink)
        if document.root.name != "cluster" {
            sink.error(document.root.line, r.path, "the root element is <\(document.root.name)>; cluster.conf must start with <cluster>")
        }
        var name = r.string("name", required: true, nonEmpty: true) ?? ""
        if name.utf8.count > nameLengthMax {
            r.error("cluster name \"\(name)\" is \(name.utf8.count) bytes long; at most \(nameLengthMax) are allowed")
        }
        if name.contains(where: { $0.isWhitespace }) {
            r.error("cluster name \"\(name)\" must not contain spaces")
            name = name.filter { !$0.isWhitespace }
        }
        let version = r.unsigned("config_version", required: true, max: UInt64(UInt32.max)) ?? 0
        r.accept("alias")

        let cman = r.child("cman").map(CmanConfig.read) ?? CmanConfig()
        let totem = r.child("totem").map(TotemConfig.read) ?? TotemConfig()
        var nodes: [ClusterNodeConfig] = []
        if let list = r.child("clusternodes") {
            nodes = list.children("clusternode").map(ClusterNodeConfig.read)
            _ = list.unknownChildren()
            _ = list.unknownAttributes()
        } else {
            r.error("<cluster> has no <clusternodes> section; at least one <clusternode> is required")
        }
        var devices: [FenceDeviceConfig] = []
        if let list = r.child("fencedevices") {
            devices = list.children("fencedevice").map(FenceDeviceConfig.read)
            _ = list.unknownChildren()
        }
        let fenceDaemon = r.child("fence_daemon").map(FenceDaemonConfig.read) ?? FenceDaemonConfig()
        let quorumDisk = r.child("quorumd").map(QuorumDiskConfig.read)
        let logging = r.child("logging").map(LoggingConfig.read) ?? LoggingConfig()
        let dlm = r.child("dlm").map(DLMConfig.read) ?? DLMConfig()
        let rm = r.child("rm").map(ResourceManagerConfig.read)
        // Sections other cluster-suite components own; kept without warnings.
        r.acceptChildren("gfs_controld", "group", "event", "aisexec", "amf", "fencing", "uidgid", "quorum")
        let extraElements = r.unknownChildren()

        var config = ClusterConfiguration(
            name: name, configVersion: version, cman: cman, totem: totem, nodes: nodes, fenceDevices: devices,
            fenceDaemon: fenceDaemon, quorumDisk: quorumDisk, logging: logging, dlm: dlm, resourceManager: rm,
            extraElements: extraElements, extraAttributes: [], document: document)
        config.extraAttributes = r.unknownAttributes()
        ConfigValidator(config: config, sink: sink).validate()
        return (config, sink.diagnostics.sortedForDisplay)
    }
}
