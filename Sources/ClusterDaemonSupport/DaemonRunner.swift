// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import ClusterConfig
import ClusterConfigModel
import ClusterIPC
import ClusterSystem
import Foundation
import Logging

/// What every daemon of the stack repeats, in one place: arguments, configuration loading (and reload on SIGHUP),
/// logging, exit codes, signals, the systemd watchdog and READY / STATUS / STOPPING, IPC services, and the one event
/// loop everything runs on. A daemon is then its pure core (driven by a `CoreDriver`) plus the code that performs
/// the core's effects.
///
/// Life cycle: `DaemonRunner.main` parses the arguments, builds the runner (an invalid cluster.conf ends the process
/// with exit 78 and every problem on stderr as FILE:LINE), lets the daemon set itself up on it, then runs the loop
/// until `stop` (SIGTERM and SIGINT call `onStop`, which by default stops at once) and exits with the code given.
public final class DaemonRunner {
    /// The daemon's name (`fenced`), used in logs, stderr and the systemd status.
    public let name: String
    public let arguments: DaemonArguments
    public let instance: NodeInstance
    public private(set) var config: ClusterConfiguration
    /// The configuration file's bytes as loaded (for distributing it, or comparing on reload).
    public private(set) var configBytes: [UInt8]
    public let logger: Logger
    public let loop = EventLoop()
    public let notifier = SystemdNotifier()
    public private(set) var exitCode = DaemonExitCode.ok
    /// Set once `stop` was called: effects should wind down, not start new work.
    public private(set) var isStopping = false
    public private(set) var isReady = false
    private var servers: [IPCServer] = []
    private var watchdogTimer: EventLoop.Timer?
    private var exitActions: [() -> Void] = []

    /// Called on SIGTERM or SIGINT with the signal's name. The default stops at once with exit 0; a daemon that
    /// must leave cleanly first (announce its departure, answer staged shutdown) does that, then calls `stop`.
    public var onStop: ((String) -> Void)?
    /// Called on SIGHUP with a newly loaded, valid configuration. Without it, SIGHUP is logged and ignored.
    public var onReload: ((ClusterConfiguration) -> Void)?
    /// What SIGHUP says when the daemon has no `onReload` (how this daemon takes a new configuration instead).
    public var reloadHint = "applies configuration changes only when quorumd distributes them"

    /// Loads and checks the configuration and sets up logging. Fails with `.configInvalid` (every error listed) or
    /// `.usage` (a bad instance name).
    public init(name: String, label: String, arguments: DaemonArguments) throws(StartupError) {
        self.name = name
        self.arguments = arguments
        do { instance = try NodeInstance.resolve(instance: arguments.instance, config: arguments.config) } catch {
            throw StartupError(error.description, .usage)
        }
        let loaded = ConfigLoader.load(path: instance.configPath)
        guard let conf = loaded.valid else {
            let problems = loaded.diagnostics.errors.map(\.description)
            throw StartupError((problems + ["\(instance.configPath) is not valid; not starting"]).joined(separator: "\n"), .configInvalid)
        }
        config = conf
        configBytes = loaded.bytes
        ClusterLogging.bootstrap(ClusterLogging.Settings(daemon: name, config: conf.logging, debug: arguments.debug,
                                                         logDirectory: instance.name.isEmpty ? nil : instance.logDirectory))
        logger = Logger(label: label)
        for d in loaded.diagnostics where d.severity == .warning { logger.warning("\(d)") }
    }

    /// This node's name: `-n`, else `$CLUSTER_NODE_NAME`, else nil (the daemon resolves it from the host).
    public var requestedNodeName: String? { arguments.node ?? ProcessInfo.processInfo.environment["CLUSTER_NODE_NAME"] }

    // MARK: - Services and status

    /// Starts serving the IPC service `service` (named for this instance) on the loop.
    /// Before its first service: the ring buffers of connections whose processes are all gone (a node whose
    /// daemons were killed together) are removed, or they would hold their memory until reboot.
    private func removeStaleRingBuffers() {
        let sweep = StaleRingBuffers.sweep()
        if sweep.removed > 0 {
            logger.info("removed \(sweep.removed) IPC ring buffer director\(sweep.removed == 1 ? "y" : "ies") of processes that are gone from /dev/shm (\(sweep.bytes / 1_048_576) MiB)")
        }
        for failure in sweep.failures { logger.warning("cannot remove a stale IPC ring buffer directory: \(failure)") }
    }

    @discardableResult
    public func serve(_ service: String, rootOnly: Bool = false, handler: any IPCServiceHandler) throws(StartupError) -> IPCServer {
        if servers.isEmpty { removeStaleRingBuffers() }
        let server = IPCServer(name: instance.ipcName(service), rootOnly: rootOnly, loop: loop, handler: handler)
        server.log = { [logger] in logger.warning("\($0)") }
        do { try server.start() } catch {
            throw StartupError("cannot serve IPC service \(instance.ipcName(service)): \(error)", .unavailable)
        }
        servers.append(server)
        return server
    }

    /// Tells systemd the daemon can serve (once; later calls only update the status text).
    public func ready(_ status: String) {
        guard !isReady else { return self.status(status) }
        isReady = true
        notifier.ready(status: status)
        logger.info("\(name) ready: \(status)")
    }

    /// The one-line state systemd shows.
    public func status(_ text: String) { notifier.status(text) }

    /// Stops the loop; `run` then returns `code`.
    public func stop(reason: String, code: DaemonExitCode = .ok) {
        if !isStopping {
            isStopping = true
            exitCode = code
            notifier.stopping()
            if code == .ok { logger.notice("\(name) stopping: \(reason)") } else { logger.error("\(name) stopping: \(reason)") }
        }
        loop.stop()
    }

    // MARK: - Running

    /// Runs the loop until `stop`; returns the exit code.
    public func run() -> DaemonExitCode {
        for (signal, label) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            loop.onSignal(signal) { [unowned self] in
                if let onStop, !isStopping { onStop(label) } else { stop(reason: label) }
            }
        }
        loop.onSignal(SIGHUP) { [unowned self] in reload() }
        if let interval = notifier.watchdogInterval { pingWatchdog(every: interval) }
        loop.run()
        for s in servers { s.stop() }
        for action in exitActions.reversed() { action() }
        return exitCode
    }

    /// Makes `config` (whose file holds `bytes`) the running configuration: for a daemon that installs a new one
    /// itself (quorumd, once every member accepted it).
    public func adopt(_ config: ClusterConfiguration, bytes: [UInt8]) {
        self.config = config
        configBytes = bytes
    }

    /// Runs `body` once the loop has stopped (closing sockets, removing files), last registered first.
    public func atExit(_ body: @escaping () -> Void) { exitActions.append(body) }

    /// Pings the watchdog from the loop itself, so the ping proves the loop is alive, not just some thread.
    private func pingWatchdog(every interval: Duration) {
        notifier.watchdog()
        watchdogTimer = loop.schedule(after: interval) { [unowned self] in pingWatchdog(every: interval) }
    }

    /// SIGHUP: re-reads cluster.conf; an invalid file is reported and the running configuration kept.
    private func reload() {
        let loaded = ConfigLoader.load(path: instance.configPath)
        guard let conf = loaded.valid else {
            for d in loaded.diagnostics.errors { logger.error("\(d)") }
            logger.error("\(instance.configPath) is not valid; keeping the running configuration (version \(config.configVersion))")
            return
        }
        guard let onReload else {
            logger.notice("SIGHUP: \(name) \(reloadHint)")
            return
        }
        config = conf
        configBytes = loaded.bytes
        logger.notice("configuration reloaded (version \(conf.configVersion))")
        onReload(conf)
    }

    // MARK: - Entry point

    /// The whole `main` of a daemon: parse the arguments (`--help` describes them), build the runner, let `start`
    /// set the daemon up (the object it returns is kept alive while the loop runs), run, and exit with the code.
    /// A `StartupError` from either step ends the process with its code and message.
    public static func main(name: String, label: String, abstract: String, discussion: String = "",
                            start: (DaemonRunner) throws(StartupError) -> AnyObject) -> Never {
        EventLoop.unblockAllSignals()
        let arguments: DaemonArguments
        do {
            arguments = try DaemonArguments.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            let help = DaemonArguments.helpMessage(columns: 100).replacingOccurrences(of: "daemon_arguments", with: name)
            let message = DaemonArguments.message(for: error)
            let exit = DaemonArguments.exitCode(for: error)
            if exit == .success {
                print("\(name): \(abstract)\n\(discussion.isEmpty ? "" : "\(discussion)\n")\n\(help)")
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data("\(name): \(message)\n\(help)\n".utf8))
            Foundation.exit(DaemonExitCode.usage.rawValue)
        }
        let runner: DaemonRunner
        do { runner = try DaemonRunner(name: name, label: label, arguments: arguments) } catch {
            for line in error.description.split(separator: "\n") { FileHandle.standardError.write(Data("\(name): \(line)\n".utf8)) }
            Foundation.exit(error.exitCode.rawValue)
        }
        let daemon: AnyObject
        do { daemon = try start(runner) } catch {
            runner.logger.critical("\(error.description)")
            FileHandle.standardError.write(Data("\(name): \(error.description)\n".utf8))
            Foundation.exit(error.exitCode.rawValue)
        }
        let code = withExtendedLifetime(daemon) { runner.run() }
        Foundation.exit(code.rawValue)
    }
}
