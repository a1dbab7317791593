// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import Dispatch
import Glibc

/// A control daemon in the manner of dlm_controld (seed 003): it follows the cluster's membership and quorum through
/// quorumd, tells its `ControlSubsystem` the nodes as they come and go, manages groups of nodes through groupd with
/// the recovery protocol of `Control.GroupStateMachine` (a failed member is fenced — fenced says so — before the
/// group starts again), answers staged shutdown (refused while it holds groups) and serves an administrative socket
/// (`ControlSocket`) for its tool: `join NAME`, `leave NAME`, `ls [json]`, `nodes [json]`, `pin NODE HOLDER`,
/// `unpin NODE HOLDER`, and whatever the subsystem adds.
///
/// Everything happens on one loop, in `run()`: the daemons' events, the socket's requests and a one-second tick
/// (retries of joins groupd asked to repeat, reconnecting to fenced) are queued into one stream and handled in turn.
public struct ControlDaemon<Subsystem: ControlSubsystem> {
    /// How the daemon behaves.
    public struct Configuration: Sendable {
        /// The daemon's name: quorumd knows it by it (a refused shutdown names it) and its socket is `<name>.sock`.
        public var name: String
        /// Groups are named `<prefix>:<group>` in groupd, so daemons of different kinds never share one.
        public var groupPrefix: String
        /// The groups' recovery level: 1 for lockspaces, 2 for file-system mounts (fencing is 0). A group starts
        /// only when fencing, and this daemon's groups of lower levels, have recovered.
        public var level: Int
        /// Wait until fenced has fenced a failed member before starting again (dlm's `enable_fencing`).
        public var requireFencing: Bool
        /// Wait for quorum before starting (dlm's `enable_quorum`).
        public var requireQuorum: Bool
        public var instance: NodeInstance
        /// Where the daemon says what it does; one line each.
        public var log: @Sendable (String) -> Void

        public init(name: String, groupPrefix: String, level: Int = 1, requireFencing: Bool = true, requireQuorum: Bool = false,
                    instance: NodeInstance, log: @escaping @Sendable (String) -> Void = ControlDaemonLog.standardError) {
            self.name = name
            self.groupPrefix = groupPrefix
            self.level = level
            self.requireFencing = requireFencing
            self.requireQuorum = requireQuorum
            self.instance = instance
            self.log = log
        }
    }

    public let configuration: Configuration
    private var subsystem: Subsystem

    public init(_ configuration: Configuration, subsystem: Subsystem) {
        self.configuration = configuration
        self.subsystem = subsystem
    }

    /// How long a control daemon waits at start for quorumd and groupd to serve (under systemd they are up already;
    /// a local cluster, or an administrator, may start everything at once).
    public static var startupWait: Duration { .seconds(30) }

    /// Calls `connect` until the daemon it reaches serves, up to `startupWait`; says once that it waits.
    static func waitFor<T>(_ daemon: String, log: (String) -> Void, _ connect: () throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + startupWait
        var said = false
        while true {
            do {
                return try connect()
            } catch {
                guard let e = error as? ClusterError, e.code == .notRunning || e.code == .tryAgain, ContinuousClock.now < deadline else { throw error }
                if !said { log("waiting for \(daemon) to serve (\(e.code))") }
                said = true
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Connects to quorumd and groupd (waiting for them while they start), registers, tells the subsystem the current members, then serves until
    /// quorumd or groupd goes away (thrown: the daemon cannot go on without them) or the subsystem fails.
    ///
    /// `requests`, if given, are joins and leaves from another source than the administrative socket (the kernel's
    /// uevents); they are handled in turn with everything else, and one that fails goes to the subsystem's
    /// `refused(_:error:)`.
    public func run(requests: AsyncStream<ControlGroupRequest>? = nil) async throws {
        let c = configuration
        let cman = try await Self.waitFor("quorumd", log: c.log) {
            let cman = try CmanClient(instance: c.instance)
            try cman.register(name: c.name)
            return cman
        }
        let groups = try await Self.waitFor("groupd", log: c.log) { try GroupClient(instance: c.instance) }
        let (inputs, feed) = AsyncStream<ControlInput>.makeStream(bufferingPolicy: .unbounded)
        let socketPath = ControlSocket.path(daemon: c.name, instance: c.instance)
        try ConfigfsTree(root: c.instance.runDirectory).makeItem("")  // the run directory, if systemd did not make it
        let listener = try ControlSocket.Listener(path: socketPath) { feed.yield(.admin($0)) }
        defer { listener.close() }
        var loop = try ControlLoop(configuration: c, subsystem: subsystem, cman: cman, groups: groups, feed: feed)
        c.log("\(c.name): node \(loop.cluster.localNode) of cluster \(loop.cluster.name), socket \(socketPath)")

        let cmanEvents = Task {
            do { for try await e in cman.events { feed.yield(.cman(e)) } } catch {}
            feed.yield(.ended("quorumd"))
        }
        let groupEvents = Task {
            do { for try await e in groups.events { feed.yield(.group(e)) } } catch {}
            feed.yield(.ended("groupd"))
        }
        let requestInputs = Task {
            guard let requests else { return }
            for await r in requests { feed.yield(.request(r)) }
        }
        let signals = ControlSignals(feed: feed)
        let ticks = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                feed.yield(.tick)
            }
        }
        defer {
            cmanEvents.cancel()
            groupEvents.cancel()
            requestInputs.cancel()
            ticks.cancel()
            signals.cancel()
            loop.close()
        }
        ServiceNotify.send("READY=1")
        let watchdog = getenv("WATCHDOG_USEC") != nil
        for await input in inputs {
            switch input {
            case .tick:
                // The loop turns: systemd's watchdog (WatchdogSec=) hears so once a second.
                if watchdog { ServiceNotify.send("WATCHDOG=1") }
                try loop.handle(input)
            case .ended(let who):
                throw ClusterError(.disconnected, "\(c.name): \(who) went away")
            case .terminate(let signal):
                // As dlm_controld: a daemon holding groups does not go away on a signal (its node would be fenced).
                let held = loop.heldGroups
                guard held.isEmpty else {
                    c.log("\(c.name): signal \(signal) ignored: still holding \(held.joined(separator: ", ")); leave them first")
                    continue
                }
                c.log("\(c.name): signal \(signal), no groups held: exiting")
                ServiceNotify.send("STOPPING=1")
                return
            default:
                try loop.handle(input)
            }
        }
    }
}

/// Where `ControlDaemon` logs by default.
public enum ControlDaemonLog {
    /// One line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// One thing for the loop to handle.
enum ControlInput: Sendable {
    case cman(CmanIPC.Event)
    case group(GroupIPC.Event)
    case fence(FenceIPC.Event)
    case admin(ControlSocket.Request)
    /// A join or leave from `run(requests:)`.
    case request(ControlGroupRequest)
    case tick
    /// fenced's connection ended (it is reconnected on a later tick).
    case fenceGone
    /// A daemon the control daemon cannot do without went away.
    case ended(String)
    /// SIGTERM or SIGINT.
    case terminate(Int32)
}

/// SIGTERM and SIGINT as inputs of the loop (dispatch signal sources; the default action is turned off).
final class ControlSignals: @unchecked Sendable {  // sources are immutable after init; cancel is thread-safe
    private let sources: [any DispatchSourceSignal]

    init(feed: AsyncStream<ControlInput>.Continuation) {
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { feed.yield(.terminate(number)) }
            source.resume()
            return source
        }
    }

    func cancel() { for s in sources { s.cancel() } }
}

/// systemd's readiness protocol without libsystemd: one datagram to `$NOTIFY_SOCKET`, if set.
public enum ServiceNotify {
    /// Sends `state` (`READY=1`, `STOPPING=1`, `STATUS=…`); does nothing outside systemd.
    public static func send(_ state: String) {
        guard let path = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !path.isEmpty, path.utf8.count < 108 else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            // An abstract socket is written with a leading '@' and sent with a leading NUL.
            for (i, b) in path.utf8.enumerated() { raw[i] = (i == 0 && b == UInt8(ascii: "@")) ? 0 : b }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.utf8.count)
        let bytes = Array(state.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), a, length) }
            }
        }
    }
}
