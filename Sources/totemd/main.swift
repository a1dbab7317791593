// SPDX-License-Identifier: Apache-2.0
// totemd: the Totem single-ring ordering and membership protocol for this node.
import ArgumentParser
import ClusterConfig
import ClusterDaemonSupport
import ClusterIPC
import ClusterSystem
import Foundation
import Logging
import TotemService

struct Totemd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totemd",
        abstract: "Totem ordering and membership: the only cluster process on the network.",
        discussion: "Runs in the foreground (systemd Type=notify). Stops on SIGTERM after announcing its departure.")

    @Option(name: [.customShort("f"), .customLong("config")], help: "cluster.conf to use (default: $CLUSTER_CONF or /etc/cluster/cluster.conf).")
    var config: String?

    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance name, for several nodes on one host (or $CLUSTER_INSTANCE).")
    var instance: String?

    @Option(name: [.customShort("n"), .customLong("node")], help: "This node's name in cluster.conf (or $CLUSTER_NODE_NAME; default: the host name).")
    var node: String?

    @Flag(name: .customShort("d"), help: "Debug logging to stderr.")
    var debug = false

    func run() throws {
        EventLoop.unblockAllSignals()
        let instance: NodeInstance
        do { instance = try NodeInstance.resolve(instance: self.instance, config: config) } catch {
            FileHandle.standardError.write(Data("totemd: \(error)\n".utf8))
            throw ExitCode(DaemonExitCode.usage.rawValue)
        }
        let loaded = ConfigLoader.load(path: instance.configPath)
        guard let conf = loaded.valid else {
            for d in loaded.diagnostics.errors { FileHandle.standardError.write(Data("totemd: \(d)\n".utf8)) }
            FileHandle.standardError.write(Data("totemd: \(instance.configPath) is not valid; not starting\n".utf8))
            throw ExitCode(DaemonExitCode.configInvalid.rawValue)
        }
        ClusterLogging.bootstrap(ClusterLogging.Settings(daemon: "totemd", config: conf.logging, debug: debug,
                                                         logDirectory: instance.name.isEmpty ? nil : instance.logDirectory))
        let logger = Logger(label: "cluster.totem")
        for d in loaded.diagnostics where d.severity == .warning { logger.warning("\(d)") }
        let options = TotemDaemonOptions(instance: instance, nodeName: node ?? ProcessInfo.processInfo.environment["CLUSTER_NODE_NAME"],
                                         debug: debug)
        let daemon: TotemDaemon
        do { daemon = try TotemDaemon(options: options, config: conf, logger: logger) } catch {
            logger.critical("\(error.description)")
            FileHandle.standardError.write(Data("totemd: \(error.description)\n".utf8))
            throw ExitCode(error.exitCode.rawValue)
        }
        let code = daemon.run()
        throw ExitCode(code.rawValue)
    }
}

Totemd.main()
