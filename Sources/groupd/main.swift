// SPDX-License-Identifier: Apache-2.0
// groupd: closed process groups (CPG) for this node's processes, on top of totemd.
import ArgumentParser
import ClusterConfig
import ClusterDaemonSupport
import ClusterIPC
import ClusterSystem
import Foundation
import GroupService
import Logging

struct Groupd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groupd",
        abstract: "Closed process groups in virtual synchrony for local processes (the CPG role).",
        discussion: "Runs in the foreground (systemd Type=notify) as a client of this node's totemd.")

    @Option(name: [.customShort("f"), .customLong("config")], help: "cluster.conf to use (default: $CLUSTER_CONF or /etc/cluster/cluster.conf).")
    var config: String?

    @Option(name: [.customShort("I"), .customLong("instance")], help: "Node instance name (or $CLUSTER_INSTANCE).")
    var instance: String?

    @Flag(name: .customShort("d"), help: "Debug logging to stderr.")
    var debug = false

    func run() throws {
        EventLoop.unblockAllSignals()
        let instance: NodeInstance
        do { instance = try NodeInstance.resolve(instance: self.instance, config: config) } catch {
            FileHandle.standardError.write(Data("groupd: \(error)\n".utf8))
            throw ExitCode(DaemonExitCode.usage.rawValue)
        }
        let loaded = ConfigLoader.load(path: instance.configPath)
        guard let conf = loaded.valid else {
            for d in loaded.diagnostics.errors { FileHandle.standardError.write(Data("groupd: \(d)\n".utf8)) }
            FileHandle.standardError.write(Data("groupd: \(instance.configPath) is not valid; not starting\n".utf8))
            throw ExitCode(DaemonExitCode.configInvalid.rawValue)
        }
        ClusterLogging.bootstrap(ClusterLogging.Settings(daemon: "groupd", config: conf.logging, debug: debug,
                                                         logDirectory: instance.name.isEmpty ? nil : instance.logDirectory))
        let daemon = GroupDaemon(instance: instance, logger: Logger(label: "cluster.groups"))
        throw ExitCode(daemon.run().rawValue)
    }
}

Groupd.main()
