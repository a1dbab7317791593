// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// `<altname name= mcast= port=>`: a node's address on an extra redundant ring.
public struct AltName: Sendable, Hashable {
    public var name: String
    public var multicastAddress: String?
    public var port: UInt16?
    public var line: Int
}

/// A reference from a node's fence method (or unfence list) to a `<fencedevice>`, with per-node arguments
/// (`port=`, `action=` …) passed to the agent.
public struct FenceDeviceReference: Sendable, Hashable {
    public var name: String
    public var arguments: [XMLAttribute]
    public var line: Int
}

/// `<method name=>`: a fencing method; all its devices must succeed for the method to succeed.
public struct FenceMethod: Sendable, Hashable {
    public var name: String
    public var devices: [FenceDeviceReference]
    public var line: Int
}

/// `<clusternode>`: one member of the cluster.
public struct ClusterNodeConfig: Sendable, Hashable {
    public var name: String
    public var nodeID: UInt32
    public var votes: UInt32
    public var weight: UInt32?
    /// Extra rings, in order (ring 1, ring 2, …).
    public var altNames: [AltName]
    /// Fence methods in the order they are tried.
    public var fenceMethods: [FenceMethod]
    /// Devices to unfence this node with at startup.
    public var unfenceDevices: [FenceDeviceReference]
    public var line: Int
    public var extraAttributes: [XMLAttribute]

    /// The most altnames (extra rings) a node may have.
    public static let altNamesMax = 9

    static func read(_ r: ElementReader) -> ClusterNodeConfig {
        let name = r.string("name", required: true, nonEmpty: true) ?? ""
        let nodeID = r.unsigned("nodeid", required: true, max: UInt64(Int32.max), min: 1)
        let votes = r.unsigned("votes", max: 255).map { UInt32($0) } ?? 1
        let weight = r.unsigned("weight").map { UInt32($0) }
        var altNames: [AltName] = []
        for a in r.children("altname") {
            if let n = a.string("name", required: true, nonEmpty: true) {
                var mcast = a.string("mcast")
                if let m = mcast, let o = IPv4.parse(m), !(224...239).contains(o[0]) {
                    a.error("\(r.label): altname mcast \"\(m)\" is not a multicast address")
                    mcast = nil
                }
                altNames.append(AltName(name: n, multicastAddress: mcast,
                                        port: a.unsigned("port", max: 65_535, min: 2).map { UInt16($0) }, line: a.line))
            }
            _ = a.unknownAttributes()
        }
        if altNames.count > altNamesMax {
            r.error("\(r.label) has \(altNames.count) <altname> entries; at most \(altNamesMax) are allowed")
        }
        var methods: [FenceMethod] = []
        if let fence = r.child("fence") {
            for (i, m) in fence.children("method").enumerated() {
                let mname = m.string("name") ?? String(i + 1)
                let devices = m.children("device").map(readDeviceReference)
                if devices.isEmpty { m.warning("fence method \"\(mname)\" of \(r.label) has no devices") }
                methods.append(FenceMethod(name: mname, devices: devices, line: m.line))
                _ = m.unknownAttributes()
                _ = m.unknownChildren()
            }
            _ = fence.unknownAttributes()
            _ = fence.unknownChildren()
        }
        var unfence: [FenceDeviceReference] = []
        if let u = r.child("unfence") {
            unfence = u.children("device").map(readDeviceReference)
            _ = u.unknownChildren()
        }
        let node = ClusterNodeConfig(name: name, nodeID: nodeID.map { UInt32($0) } ?? 0, votes: votes, weight: weight,
                                     altNames: altNames, fenceMethods: methods, unfenceDevices: unfence,
                                     line: r.line, extraAttributes: r.unknownAttributes())
        _ = r.unknownChildren()
        return node
    }

    private static func readDeviceReference(_ d: ElementReader) -> FenceDeviceReference {
        let name = d.string("name", required: true, nonEmpty: true) ?? ""
        return FenceDeviceReference(name: name, arguments: d.remainingAttributes(), line: d.line)
    }
}
