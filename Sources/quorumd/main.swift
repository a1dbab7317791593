// SPDX-License-Identifier: Apache-2.0
// quorumd: votes, quorum and the cman API for this node, on top of totemd.
import ArgumentParser
import ClusterConfig
import ClusterDaemonSupport
import ClusterIPC
import ClusterSystem
import Foundation
import Logging
import QuorumService

struct Quorumd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quorumd",
        abstract: "The cman role: quorum, Disallowed nodes, staged shutdown, config versions, the libcman API.",
        discussion: "Runs in the foreground (systemd Type=notify) as a client of this node's totemd.")

    @Option(name: [.customShort("f"), .customLong("config")], help: "cluster.conf to use (default: $CLUSTER_CONF or /etc/cluster/cluster.conf).")
    var config: String?

    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance name (or $CLUSTER_INSTANCE).")
    var instance: String?

    @Option(name: [.customShort("n"), .customLong("node")], help: "This node's name in cluster.conf (or $CLUSTER_NODE_NAME).")
    var node: String?

    @Flag(name: .customShort("d"), help: "Debug logging to stderr.")
    var debug = false

    func run() throws {
        EventLoop.unblockAllSignals()
        let instance: NodeInstance
        do { instance = try NodeInstance.resolve(instance: self.instance, config: config) } catch {
            FileHandle.standardError.write(Data("quorumd: \(error)\n".utf8))
            throw ExitCode(DaemonExitCode.usage.rawValue)
        }
        let loaded = ConfigLoader.load(path: instance.configPath)
        guard let conf = loaded.valid else {
            for d in loaded.diagnostics.errors { FileHandle.standardError.write(Data("quorumd: \(d)\n".utf8)) }
            FileHandle.standardError.write(Data("quorumd: \(instance.configPath) is not valid; not starting\n".utf8))
            throw ExitCode(DaemonExitCode.configInvalid.rawValue)
        }
        ClusterLogging.bootstrap(ClusterLogging.Settings(daemon: "quorumd", config: conf.logging, debug: debug,
                                                         logDirectory: instance.name.isEmpty ? nil : instance.logDirectory))
        let logger = Logger(label: "cluster.quorum")
        let daemon: QuorumDaemon
        do {
            daemon = try QuorumDaemon(instance: instance, config: conf, configBytes: loaded.bytes,
                                      nodeName: node ?? ProcessInfo.processInfo.environment["CLUSTER_NODE_NAME"], logger: logger)
        } catch {
            logger.critical("\(error.description)")
            FileHandle.standardError.write(Data("quorumd: \(error.description)\n".utf8))
            throw ExitCode(error.exitCode.rawValue)
        }
        throw ExitCode(daemon.run().rawValue)
    }
}

Quorumd.main()
