// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// Syslog priorities, in the names `<logging>` accepts.
public enum LogPriority: String, Sendable, Hashable, CaseIterable, Comparable {
    case emerg, alert, crit, err, warning, notice, info, debug

    /// The syslog(3) numeric level.
    public var level: Int32 {
        switch self {
        case .emerg: 0
        case .alert: 1
        case .crit: 2
        case .err: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug: 7
        }
    }

    public static func < (lhs: LogPriority, rhs: LogPriority) -> Bool { lhs.level < rhs.level }

    static func parse(_ raw: String) -> LogPriority? {
        switch raw.lowercased() {
        case "error": .err
        case "warn": .warning
        case "critical": .crit
        case "emergency", "panic": .emerg
        default: LogPriority(rawValue: raw.lowercased())
        }
    }
}

/// Syslog facilities `<logging syslog_facility>` accepts.
public enum SyslogFacility: String, Sendable, Hashable, CaseIterable {
    case daemon, user, local0, local1, local2, local3, local4, local5, local6, local7

    /// The syslog(3) facility code.
    public var code: Int32 {
        switch self {
        case .user: 1 << 3
        case .daemon: 3 << 3
        case .local0: 16 << 3
        case .local1: 17 << 3
        case .local2: 18 << 3
        case .local3: 19 << 3
        case .local4: 20 << 3
        case .local5: 21 << 3
        case .local6: 22 << 3
        case .local7: 23 << 3
        }
    }
}

/// One set of logging options: the `<logging>` element itself, or a `<logging_daemon>` override. Nil means
/// "inherit" (from `<logging>`, then from the built-in defaults).
public struct LoggingOptions: Sendable, Hashable {
    public var toStderr: Bool?
    public var toLogfile: Bool?
    public var logfile: String?
    public var toSyslog: Bool?
    public var syslogFacility: SyslogFacility?
    public var syslogPriority: LogPriority?
    public var logfilePriority: LogPriority?
    public var debug: Bool?
    public var timestamp: Bool?

    public init() {}

    /// These options with every nil filled from `base`.
    public func inheriting(from base: LoggingOptions) -> LoggingOptions {
        var o = self
        o.toStderr = toStderr ?? base.toStderr
        o.toLogfile = toLogfile ?? base.toLogfile
        o.logfile = logfile ?? base.logfile
        o.toSyslog = toSyslog ?? base.toSyslog
        o.syslogFacility = syslogFacility ?? base.syslogFacility
        o.syslogPriority = syslogPriority ?? base.syslogPriority
        o.logfilePriority = logfilePriority ?? base.logfilePriority
        o.debug = debug ?? base.debug
        o.timestamp = timestamp ?? base.timestamp
        return o
    }

    static func read(_ r: ElementReader) -> LoggingOptions {
        var o = LoggingOptions()
        o.toStderr = r.bool("to_stderr")
        o.toLogfile = r.bool("to_logfile") ?? r.bool("to_file")
        if let f = r.string("logfile", nonEmpty: true) {
            if f.hasPrefix("/") { o.logfile = f } else { r.error("\(r.label): logfile \"\(f)\" must be an absolute path") }
        }
        o.toSyslog = r.bool("to_syslog")
        if let raw = r.string("syslog_facility") {
            if let f = SyslogFacility(rawValue: raw.lowercased()) { o.syslogFacility = f } else {
                r.error("\(r.label): syslog_facility \"\(raw)\" is not one of \(SyslogFacility.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        func priority(_ name: String) -> LogPriority? {
            guard let raw = r.string(name) else { return nil }
            guard let p = LogPriority.parse(raw) else {
                r.error("\(r.label): \(name) \"\(raw)\" is not one of \(LogPriority.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return p
        }
        o.syslogPriority = priority("syslog_priority")
        o.logfilePriority = priority("logfile_priority")
        if let raw = r.string("debug") {
            switch raw.lowercased() {
            case "on", "yes", "1", "true", "trace": o.debug = true
            case "off", "no", "0", "false": o.debug = false
            default: r.error("\(r.label): debug must be on or off, not \"\(raw)\"")
            }
        }
        if let raw = r.string("timestamp") {
            switch raw.lowercased() {
            case "on", "yes", "1", "true", "hires": o.timestamp = true
            case "off", "no", "0", "false": o.timestamp = false
            default: r.error("\(r.label): timestamp must be on or off, not \"\(raw)\"")
            }
        }
        return o
    }
}

/// `<logging_daemon name= subsys=>` (cluster 3) or `<logger ident=>` (openais): options for one daemon.
public struct DaemonLoggingConfig: Sendable, Hashable {
    public var name: String
    public var subsystem: String?
    public var options: LoggingOptions
    public var line: Int
}

/// `<logging>`: where daemons log.
public struct LoggingConfig: Sendable, Hashable {
    public var options = LoggingOptions()
    public var daemons: [DaemonLoggingConfig] = []
    public var line: Int = 0
    public var extraAttributes: [XMLAttribute] = []

    public init() {}

    /// The default log file of a daemon: `/var/log/cluster/<daemon>.log`.
    public static func defaultLogfile(daemon: String) -> String { "/var/log/cluster/\(daemon).log" }

    /// The effective options for `daemon`: its `<logging_daemon>` (without subsys) over `<logging>` over defaults
    /// (syslog on at facility daemon, priority info; log file on at /var/log/cluster/DAEMON.log; debug off).
    public func effectiveOptions(daemon: String) -> LoggingOptions {
        var defaults = LoggingOptions()
        defaults.toStderr = false
        defaults.toLogfile = true
        defaults.logfile = Self.defaultLogfile(daemon: daemon)
        defaults.toSyslog = true
        defaults.syslogFacility = .daemon
        defaults.syslogPriority = .info
        defaults.logfilePriority = .info
        defaults.debug = false
        defaults.timestamp = true
        let global = options.inheriting(from: defaults)
        let own = daemons.first { $0.name == daemon && $0.subsystem == nil }
        return own.map { $0.options.inheriting(from: global) } ?? global
    }

    static func read(_ r: ElementReader) -> LoggingConfig {
        var l = LoggingConfig()
        l.line = r.line
        l.options = LoggingOptions.read(r)
        r.accept("fileline", "function_name", "blackbox")
        for d in r.children("logging_daemon") {
            if let name = d.string("name", required: true, nonEmpty: true) {
                let subsys = d.string("subsys")
                l.daemons.append(DaemonLoggingConfig(name: name, subsystem: subsys, options: LoggingOptions.read(d), line: d.line))
            }
            _ = d.unknownAttributes()
        }
        for d in r.children("logger") {
            if let ident = d.string("ident", required: true, nonEmpty: true) {
                l.daemons.append(DaemonLoggingConfig(name: ident.lowercased(), subsystem: ident, options: LoggingOptions.read(d), line: d.line))
            }
            _ = d.unknownAttributes()
            _ = d.unknownChildren()
        }
        l.extraAttributes = r.unknownAttributes()
        _ = r.unknownChildren()
        return l
    }
}
