// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// `<heuristic program= score= interval= tko=>`: a check qdiskd runs to score this node's fitness.
public struct QuorumHeuristic: Sendable, Hashable {
    public var program: String
    public var score: UInt32 = 1
    public var interval: Duration = .seconds(2)
    public var tko: UInt32 = 1
    public var line: Int = 0
}

/// `<quorumd>`: the quorum disk (qdisk) settings.
public struct QuorumDiskConfig: Sendable, Hashable {
    public var interval: Duration = .seconds(1)
    public var tko: UInt32 = 10
    /// Intervals a node must be seen before it counts as up; default floor(tko/3).
    public var tkoUp: UInt32?
    public var upgradeWait: UInt32 = 2
    /// Intervals to wait for a master vote; default floor(tko/2).
    public var masterWait: UInt32?
    /// The device's votes; default node count − 1.
    public var votes: UInt32?
    /// The minimum heuristic score to be fit; default floor((n+1)/2) of the total.
    public var minScore: UInt32?
    public var reboot: Bool = true
    public var allowKill: Bool = true
    public var paranoid: Bool = false
    public var stopCman: Bool = false
    public var useUptime: Bool = true
    public var masterWins: Bool = false
    public var device: String?
    public var label: String?
    public var statusFile: String?
    public var heuristics: [QuorumHeuristic] = []
    public var line: Int = 0
    public var extraAttributes: [XMLAttribute] = []

    public static let heuristicsMax = 10

    public init() {}

    static func read(_ r: ElementReader) -> QuorumDiskConfig {
        var q = QuorumDiskConfig()
        q.line = r.line
        q.interval = r.seconds("interval", max: 3600).flatMap { $0 == .zero ? nil : $0 } ?? q.interval
        q.tko = r.unsigned("tko", max: 10_000, min: 1).map { UInt32($0) } ?? q.tko
        q.tkoUp = r.unsigned("tko_up", max: 10_000, min: 1).map { UInt32($0) }
        q.upgradeWait = r.unsigned("upgrade_wait", max: 10_000, min: 1).map { UInt32($0) } ?? q.upgradeWait
        q.masterWait = r.unsigned("master_wait", max: 10_000, min: 1).map { UInt32($0) }
        q.votes = r.unsigned("votes", max: 255).map { UInt32($0) }
        q.minScore = r.unsigned("min_score", max: 10_000).map { UInt32($0) }
        q.reboot = r.bool("reboot") ?? q.reboot
        q.allowKill = r.bool("allow_kill") ?? q.allowKill
        q.paranoid = r.bool("paranoid") ?? q.paranoid
        q.stopCman = r.bool("stop_cman") ?? q.stopCman
        q.useUptime = r.bool("use_uptime") ?? q.useUptime
        q.masterWins = r.bool("master_wins") ?? q.masterWins
        q.device = r.string("device", nonEmpty: true)
        q.label = r.string("label", nonEmpty: true)
        q.statusFile = r.string("status_file", nonEmpty: true)
        r.accept("scheduler", "priority", "log_level", "log_facility", "io_timeout", "cman_label", "max_error_cycles")
        if q.device == nil && q.label == nil {
            r.error("<quorumd> needs a device= or a label= naming the shared quorum disk")
        }
        if let tkoUp = q.tkoUp, tkoUp > q.tko {
            r.error("<quorumd>: tko_up (\(tkoUp)) must not exceed tko (\(q.tko))")
        }
        for h in r.children("heuristic") {
            guard let program = h.string("program", required: true, nonEmpty: true) else { continue }
            var heuristic = QuorumHeuristic(program: program, line: h.line)
            heuristic.score = h.unsigned("score", max: 1000, min: 1).map { UInt32($0) } ?? 1
            heuristic.interval = h.seconds("interval", max: 3600).flatMap { $0 == .zero ? nil : $0 } ?? .seconds(2)
            heuristic.tko = h.unsigned("tko", max: 10_000, min: 1).map { UInt32($0) } ?? 1
            q.heuristics.append(heuristic)
            _ = h.unknownAttributes()
        }
        if q.heuristics.count > heuristicsMax {
            r.error("<quorumd> has \(q.heuristics.count) heuristics; at most \(heuristicsMax) are allowed")
        }
        let total = q.heuristics.reduce(0) { $0 + $1.score }
        if let m = q.minScore, m > total, !q.heuristics.isEmpty {
            r.error("<quorumd>: min_score \(m) exceeds the total heuristic score \(total); the node could never be fit")
        }
        q.extraAttributes = r.unknownAttributes()
        _ = r.unknownChildren()
        return q
    }
}
