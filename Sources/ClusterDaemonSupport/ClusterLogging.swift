// SPDX-License-Identifier: Apache-2.0
import CSystemd
import ClusterConfigModel
import ClusterSystem
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The logging set-up every daemon and tool shares, driven by `<logging>` / `<logging_daemon>`.
///
/// Targets: stderr, a log file (`to_logfile` + `logfile`) and syslog (`to_syslog` + `syslog_facility`), each with
/// its own threshold (`logfile_priority`, `syslog_priority`); `debug="on"` (or `-d`) lowers them to debug. `-d`
/// also sends everything to stderr, as `cman_tool join -d` did.
public enum ClusterLogging {
    /// What the daemon logs where, after applying the config and command-line overrides.
    public struct Settings: Sendable, Hashable {
        public var daemon: String
        public var toStderr: Bool
        public var logfile: String?
        public var syslogFacility: Int32?
        public var stderrLevel: Logger.Level
        public var logfileLevel: Logger.Level
        public var syslogLevel: Logger.Level
        public var timestamps: Bool

        /// Settings for `daemon` from `config` (nil: built-in defaults), with `debug` forcing debug to stderr.
        /// `logDirectory` replaces the directory of the default log file (per-instance layouts).
        public init(daemon: String, config: LoggingConfig?, debug: Bool, logDirectory: String? = nil) {
            let o = (config ?? LoggingConfig()).effectiveOptions(daemon: daemon)
            self.daemon = daemon
            let configDebug = o.debug ?? false
            toStderr = debug || (o.toStderr ?? false)
            var file = (o.toLogfile ?? true) ? o.logfile : nil
            if let dir = logDirectory, file == LoggingConfig.defaultLogfile(daemon: daemon) { file = "\(dir)/\(daemon).log" }
            logfile = file
            syslogFacility = (o.toSyslog ?? true) ? (o.syslogFacility ?? .daemon).code : nil
            stderrLevel = (debug || configDebug) ? .debug : .info
            logfileLevel = (debug || configDebug) ? .debug : Self.level(o.logfilePriority ?? .info)
            syslogLevel = Self.level(o.syslogPriority ?? .info)
            timestamps = o.timestamp ?? true
        }

        static func level(_ p: LogPriority) -> Logger.Level {
            switch p {
            case .debug: .debug
            case .info: .info
            case .notice: .notice
            case .warning: .warning
            case .err: .error
            case .crit, .alert, .emerg: .critical
            }
        }
    }

    /// Installs the handler for this process. Call once, from the executable, before logging.
    public static func bootstrap(_ settings: Settings) {
        let sink = LogSink(settings)
        current.withLock { $0 = sink }
        LoggingSystem.bootstrap { label in ClusterLogHandler(label: label, sink: sink) }
    }

    private static let current = Mutex<LogSink?>(nil)

    /// Turns debug logging on or off at run time (`cman_tool debug`): every target logs from debug up while on.
    public static func setDebug(_ on: Bool) {
        current.withLock { $0?.debugOverride.store(on, ordering: .relaxed) }
    }

    /// A plain stderr set-up for tools.
    public static func bootstrapForTool(name: String, debug: Bool) {
        var s = Settings(daemon: name, config: nil, debug: debug)
        s.toStderr = true
        s.logfile = nil
        s.syslogFacility = nil
        s.stderrLevel = debug ? .debug : .warning
        bootstrap(s)
    }
}

/// Where log lines go. Each line is written with one `write(2)`, so concurrent writers never interleave within a line.
final class LogSink: Sendable {
    let settings: ClusterLogging.Settings
    let fileFD: Int32
    let minimumLevel: Logger.Level
    /// Set at run time to log everything from debug up.
    let debugOverride = Atomic<Bool>(false)

    init(_ settings: ClusterLogging.Settings) {
        self.settings = settings
        var fd: Int32 = -1
        if let path = settings.logfile {
            try? FileIO.makeDirectories(FileIO.directory(of: path)) // open() below reports the real problem
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd < 0 {
                let line = "\(settings.daemon): cannot open log file \(path): \(String(cString: strerror(errno)))\n"
                _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
            }
        }
        fileFD = fd
        if let _ = settings.syslogFacility {
            openlog(strdup(settings.daemon), LOG_PID | LOG_NDELAY, settings.syslogFacility ?? LOG_DAEMON)
        }
        var levels: [Logger.Level] = []
        if settings.toStderr { levels.append(settings.stderrLevel) }
        if fd >= 0 { levels.append(settings.logfileLevel) }
        if settings.syslogFacility != nil { levels.append(settings.syslogLevel) }
        minimumLevel = levels.min() ?? .critical
    }

    func emit(level: Logger.Level, label: String, message: String) {
        let debug = debugOverride.load(ordering: .relaxed)
        if settings.toStderr && level >= (debug ? .debug : settings.stderrLevel) {
            write(line: formatted(level: level, label: label, message: message, timestamp: settings.timestamps), to: 2)
        }
        if fileFD >= 0 && level >= (debug ? .debug : settings.logfileLevel) {
            write(line: formatted(level: level, label: label, message: message, timestamp: true), to: fileFD)
        }
        if let facility = settings.syslogFacility, level >= (debug ? .debug : settings.syslogLevel) {
            csd_syslog(facility | Self.syslogPriority(level), "[\(Self.subsystem(label))] \(message)")
        }
    }

    private func formatted(level: Logger.Level, label: String, message: String, timestamp: Bool) -> String {
        var out = ""
        if timestamp { out += Self.timestamp() + " " }
        out += "\(settings.daemon) [\(Self.subsystem(label))] \(level.rawValue): \(message)\n"
        return out
    }

    private func write(line: String, to fd: Int32) {
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
        bytes.removeAll()
    }

    static func subsystem(_ label: String) -> String {
        label.split(separator: ".").last.map { $0.uppercased() } ?? label.uppercased()
    }

    static func syslogPriority(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace, .debug: LOG_DEBUG
        case .info: LOG_INFO
        case .notice: LOG_NOTICE
        case .warning: LOG_WARNING
        case .error: LOG_ERR
        case .critical: LOG_CRIT
        }
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%b %d %H:%M:%S", &tmv)
        let base = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let ms = String(ts.tv_nsec / 1_000_000)
        return base + "." + String(repeating: "0", count: 3 - ms.count) + ms
    }
}

/// A swift-log handler writing through the shared `LogSink`.
public struct ClusterLogHandler: LogHandler {
    let label: String
    let sink: LogSink
    public var metadata: Logger.Metadata = [:]
    private var configuredLevel: Logger.Level

    init(label: String, sink: LogSink) {
        self.label = label
        self.sink = sink
        self.configuredLevel = sink.minimumLevel
    }

    /// The configured level, or debug while debugging is switched on at run time.
    public var logLevel: Logger.Level {
        get { sink.debugOverride.load(ordering: .relaxed) ? .debug : configuredLevel }
        set { configuredLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        var all = metadata
        if let explicit { all.merge(explicit) { $1 } }
        var text = message.description
        if !all.isEmpty {
            text += " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        sink.emit(level: level, label: label, message: text)
    }
}
