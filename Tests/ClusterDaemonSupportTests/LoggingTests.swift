// SPDX-License-Identifier: Apache-2.0
@testable import ClusterDaemonSupport
import ClusterConfig
import ClusterConfigModel
import ClusterSystem
import Foundation
import Logging
import Testing
import TestSupportKit

@Suite("Logging driven by <logging>")
struct LoggingTests {
    func config(_ logging: String) throws -> LoggingConfig {
        let text = "<cluster name=\"c\" config_version=\"1\">\(logging)<clusternodes><clusternode name=\"a\" nodeid=\"1\"/></clusternodes></cluster>"
        let loaded = ConfigLoader.load(bytes: Array(text.utf8), file: "t.conf", useSchema: false)
        return try #require(loaded.valid).logging
    }

    @Test("defaults: log file at /var/log/cluster/DAEMON.log at info, syslog daemon.info, no stderr")
    func defaults() {
        let s = ClusterLogging.Settings(daemon: "totemd", config: nil, debug: false)
        #expect(s.logfile == "/var/log/cluster/totemd.log")
        #expect(s.syslogFacility == SyslogFacility.daemon.code)
        #expect(!s.toStderr)
        #expect(s.logfileLevel == .info && s.syslogLevel == .info)
    }

    @Test("<logging_daemon> overrides <logging>, and -d forces debug to stderr")
    func overrides() throws {
        let c = try config("""
            <logging to_syslog="no" logfile_priority="warning" syslog_facility="local4">
              <logging_daemon name="fenced" to_syslog="yes" logfile="/tmp/fenced.log" debug="on"/>
            </logging>
            """)
        let totem = ClusterLogging.Settings(daemon: "totemd", config: c, debug: false)
        #expect(totem.syslogFacility == nil)
        #expect(totem.logfileLevel == .warning)
        let fenced = ClusterLogging.Settings(daemon: "fenced", config: c, debug: false)
        #expect(fenced.syslogFacility == SyslogFacility.local4.code)
        #expect(fenced.logfile == "/tmp/fenced.log")
        #expect(fenced.logfileLevel == .debug)
        let forced = ClusterLogging.Settings(daemon: "totemd", config: c, debug: true)
        #expect(forced.toStderr && forced.stderrLevel == .debug && forced.logfileLevel == .debug)
    }

    @Test("a per-instance log directory replaces the default directory only")
    func instanceDirectory() throws {
        let s = ClusterLogging.Settings(daemon: "totemd", config: nil, debug: false, logDirectory: "/tmp/node2/log")
        #expect(s.logfile == "/tmp/node2/log/totemd.log")
        let c = try config("<logging logfile=\"/srv/all.log\"/>")
        #expect(ClusterLogging.Settings(daemon: "totemd", config: c, debug: false, logDirectory: "/x").logfile == "/srv/all.log")
    }

    @Test("lines at or above the threshold reach the log file, with level and subsystem")
    func writesFile() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var s = ClusterLogging.Settings(daemon: "testd", config: nil, debug: false, logDirectory: dir)
        s.syslogFacility = nil
        let sink = LogSink(s)
        var logger = Logger(label: "cluster.totem") { ClusterLogHandler(label: $0, sink: sink) }
        logger[metadataKey: "node.id"] = "3"
        logger.debug("hidden")
        logger.notice("ring formed")
        let text = String(decoding: try FileIO.read(dir + "/testd.log"), as: UTF8.self)
        #expect(text.contains("testd [TOTEM] notice: ring formed node.id=3"))
        #expect(!text.contains("hidden"))
        // cman_tool debug switches debug on at run time.
        sink.debugOverride.store(true, ordering: .relaxed)
        #expect(logger.logLevel == .debug)
        logger.debug("now visible")
        let after = String(decoding: try FileIO.read(dir + "/testd.log"), as: UTF8.self)
        #expect(after.contains("debug: now visible"))
    }
}
