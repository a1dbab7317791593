// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// How nodes reach each other: multicast to the cluster's group address, or unicast to every listed node.
public enum TransportMode: String, Sendable, Hashable, CaseIterable {
    /// UDP multicast (cman's default).
    case udp
    /// UDP unicast to each node in `<clusternodes>`.
    case udpu
}

/// `<cman>`: votes, quorum options and the network settings of the cluster manager.
public struct CmanConfig: Sendable, Hashable {
    /// The default UDP port (openais/corosync's; cman 2 moved here from 6809).
    public static let defaultPort: UInt16 = 5405

    public var twoNode: Bool = false
    /// `expected_votes`; when absent the sum of the configured votes is used.
    public var expectedVotes: UInt32?
    /// `cluster_id`; when absent it is derived from the cluster name as cman did.
    public var clusterID: UInt16?
    public var port: UInt16 = CmanConfig.defaultPort
    public var keyfile: String?
    /// `<multicast addr=>`; when absent it is derived from the cluster id (239.192.x.y).
    public var multicastAddress: String?
    public var transport: TransportMode = .udp
    public var quorumDevicePoll: Duration = .milliseconds(10_000)
    public var shutdownTimeout: Duration = .milliseconds(5_000)
    public var debugMask: UInt32 = 0
    /// Optional quorum modes beyond cman (votequorum's), all off by default.
    public var waitForAll: Bool = false
    public var lastManStanding: Bool = false
    public var lastManStandingWindow: Duration = .milliseconds(10_000)
    public var autoTieBreaker: Bool = false
    public var line: Int = 0
    public var extraAttributes: [XMLAttribute] = []

    public init() {}

    /// The cluster id cman derives from the cluster name when `cluster_id` is not set: each character is added to a
    /// running value that is shifted left by one bit per character, truncated to 16 bits.
    public static func derivedClusterID(fromName name: String) -> UInt16 {
        var value: UInt32 = 0
        for byte in name.utf8 {
            value = (value << 1) &+ UInt32(byte)
        }
        return UInt16(truncatingIfNeeded: value)
    }

    /// The multicast address cman derives from a cluster id: 239.192.(id >> 8).(id & 0xff).
    public static func derivedMulticastAddress(clusterID: UInt16) -> String {
        "239.192.\(clusterID >> 8).\(clusterID & 0xFF)"
    }

    static func read(_ r: ElementReader) -> CmanConfig {
        var c = CmanConfig()
        c.line = r.line
        c.twoNode = r.bool("two_node") ?? false
        c.expectedVotes = r.unsigned("expected_votes", max: UInt64(UInt32.max), min: 1).map { UInt32($0) }
        c.clusterID = r.unsigned("cluster_id", max: UInt64(UInt16.max)).map { UInt16($0) }
        c.port = r.unsigned("port", max: 65_535, min: 2).map { UInt16($0) } ?? defaultPort
        c.keyfile = r.string("keyfile", nonEmpty: true)
        if let t = r.choice("transport", as: TransportMode.self) { c.transport = t }
        c.quorumDevicePoll = r.milliseconds("quorum_dev_poll", min: 1) ?? c.quorumDevicePoll
        c.shutdownTimeout = r.milliseconds("shutdown_timeout", min: 1) ?? c.shutdownTimeout
        c.debugMask = r.unsigned("debug_mask").map { UInt32($0) } ?? 0
        c.waitForAll = r.bool("wait_for_all") ?? false
        c.lastManStanding = r.bool("last_man_standing") ?? false
        c.lastManStandingWindow = r.milliseconds("last_man_standing_window", min: 1) ?? c.lastManStandingWindow
        c.autoTieBreaker = r.bool("auto_tie_breaker") ?? false
        r.accept("ccsd_poll", "nodename", "broadcast", "upgrading", "disallowed", "hash_cluster_id")
        if let m = r.child("multicast") {
            if let addr = m.string("addr", required: true) {
                if let octets = IPv4.parse(addr) {
                    if !(224...239).contains(octets[0]) {
                        m.error("<multicast addr=\"\(addr)\"> is not an IPv4 multicast address (224.0.0.0/4)")
                    } else {
                        c.multicastAddress = addr
                    }
                } else if addr.contains(":") {
                    c.multicastAddress = addr
                } else {
                    m.error("<multicast addr=\"\(addr)\"> is not an IP address")
                }
            }
            _ = m.unknownAttributes()
        }
        c.extraAttributes = r.unknownAttributes()
        return c
    }
}

/// Minimal IPv4 dotted-quad parsing for validation (no name resolution).
public enum IPv4 {
    /// The four octets of `text`, or nil if it is not a dotted quad.
    public static func parse(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let v = UInt8(p) else { return nil }
            octets.append(v)
        }
        return octets
    }
}
