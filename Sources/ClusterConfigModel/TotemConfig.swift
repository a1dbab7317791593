// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Redundant ring mode (`<totem rrp_mode>`).
public enum RedundantRingMode: String, Sendable, Hashable, CaseIterable {
    case none
    case active
    case passive
}

/// `<totem>`: protocol timeouts and limits. Absent values are nil; totemd supplies its documented defaults.
public struct TotemConfig: Sendable, Hashable {
    public var token: Duration?
    public var tokenRetransmit: Duration?
    public var hold: Duration?
    public var tokenRetransmitsBeforeLossConst: UInt32?
    public var join: Duration?
    public var sendJoin: Duration?
    public var consensus: Duration?
    public var merge: Duration?
    public var downcheck: Duration?
    public var failRecvConst: UInt32?
    public var seqnoUnchangedConst: UInt32?
    public var windowSize: UInt32?
    public var maxMessages: UInt32?
    public var missCountConst: UInt32?
    /// Added to `token` for every node beyond two (corosync's token_coefficient).
    public var tokenCoefficient: Duration?
    public var rrpMode: RedundantRingMode?
    /// Authentication and encryption of packets; on unless explicitly turned off.
    public var secauth: Bool?
    public var netmtu: UInt32?
    public var line: Int = 0
    public var extraAttributes: [XMLAttribute] = []

    public init() {}

    static func read(_ r: ElementReader) -> TotemConfig {
        var t = TotemConfig()
        t.line = r.line
        t.token = r.milliseconds("token", min: 10)
        t.tokenRetransmit = r.milliseconds("token_retransmit", min: 1)
        t.hold = r.milliseconds("hold", min: 0)
        t.tokenRetransmitsBeforeLossConst = r.unsigned("token_retransmits_before_loss_const", max: 1000, min: 1).map { UInt32($0) }
        t.join = r.milliseconds("join", min: 1)
        t.sendJoin = r.milliseconds("send_join")
        t.consensus = r.milliseconds("consensus", min: 1)
        t.merge = r.milliseconds("merge", min: 1)
        t.downcheck = r.milliseconds("downcheck", min: 1)
        t.failRecvConst = r.unsigned("fail_recv_const", max: 1_000_000, min: 1).map { UInt32($0) }
        t.seqnoUnchangedConst = r.unsigned("seqno_unchanged_const", max: 1_000_000, min: 1).map { UInt32($0) }
        t.windowSize = r.unsigned("window_size", max: 10_000, min: 1).map { UInt32($0) }
        t.maxMessages = r.unsigned("max_messages", max: 10_000, min: 1).map { UInt32($0) }
        t.missCountConst = r.unsigned("miss_count_const", max: 1000, min: 1).map { UInt32($0) }
        t.tokenCoefficient = r.milliseconds("token_coefficient")
        t.rrpMode = r.choice("rrp_mode", as: RedundantRingMode.self)
        t.secauth = r.bool("secauth")
        t.netmtu = r.unsigned("netmtu", max: 65_536, min: 576).map { UInt32($0) }
        r.accept("vsftype", "threads", "nodeid", "version", "clear_node_high_bit", "crypto_cipher", "crypto_hash",
                 "heartbeat_failures_allowed", "max_network_delay", "token_warning", "rrp_problem_count_timeout",
                 "keyfile", "interface", "cluster_name", "transport")
        if let token = t.token, let consensus = t.consensus, consensus < token {
            r.warning("<totem>: consensus (\(consensus.millisecondsClamped) ms) should be at least token (\(token.millisecondsClamped) ms); corosync uses 1.2 × token")
        }
        if let token = t.token, let hold = t.hold, hold >= token {
            r.error("<totem>: hold (\(hold.millisecondsClamped) ms) must be less than token (\(token.millisecondsClamped) ms)")
        }
        if let token = t.token, let rt = t.tokenRetransmit, rt >= token {
            r.error("<totem>: token_retransmit (\(rt.millisecondsClamped) ms) must be less than token (\(token.millisecondsClamped) ms)")
        }
        if let ws = t.windowSize, let mm = t.maxMessages, mm > ws {
            r.warning("<totem>: max_messages (\(mm)) is larger than window_size (\(ws)) and will be capped")
        }
        t.extraAttributes = r.unknownAttributes()
        _ = r.unknownChildren(warn: false)
        return t
    }
}
