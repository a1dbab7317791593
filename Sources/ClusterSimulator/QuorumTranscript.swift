// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes
import QuorumCore
import TotemCore

/// Scripted quorum scenarios over real totem and quorum cores whose operator-visible output is compared with a
/// checked-in golden file: every line quorumd logs for an operator (`Quorum.OperatorLog`, the daemon's own words),
/// what `cman_tool` answers, and `cman_tool status` / `nodes` exactly as the tool prints them (`CmanIPC.Status.lines`,
/// `CmanIPC.Node.table`). Each node's quorum core runs in a `CoreHost`, as in quorumd, on the deterministic network
/// of `TotemTranscript`.
///
/// Commands (K, J: node numbers):
/// - `start N [token=MS] [votes=1,1,3] [expected=E] [two_node] [shutdown_timeout=MS] [last_man_standing=MS]`
///   `[wait_for_all] [auto_tie_breaker]`: N nodes (all configured), running until the ring and quorum settle;
/// - `run DURATION`, `partition 1,2,3 4,5`, `heal`, `crash K`, `restart K` (a new quorumd: config version 1);
/// - `dirty K|all` (a daemon holds state), `expected K E`, `votes K V [node=J]`, `kill K J`;
/// - `register K NAME` (a client for notifications), `reply K NAME yes|no`, `gone K NAME` (its connection closes),
///   `leave K [remove] [force]` (`cman_tool leave`), `sigterm K`;
/// - `version K V [without=J] [broken] [name=OTHER]`: `cman_tool version -r` of file version V from node K (every
///   node reads the same table of files: V with node J left out, unparsable, or another cluster's);
/// - `status K`, `nodes K`.
///
/// A command that sends something then runs the network for `settle` (100 ms), so what it set off is printed with it.
public final class QuorumTranscript {
    private let network = TranscriptNetwork()
    private var hosts: [CoreHost<Quorum.StateMachine>?] = []
    private var output: [String] = []
    private var settings = Quorum.Settings(clusterName: "transcript", nodes: [])
    /// The files `version` made, by version: what every node's shell reads when one is proposed.
    private var files: [UInt64: Quorum.ProposedConfig] = [:]
    /// Registered clients per node: handle by name.
    private var clients: [[String: Quorum.Client]] = []
    private var nextClient: Quorum.Client = 1
    /// Requesters of `leave` and `version`, to print the answer when it comes.
    private static let leaveRequester: Quorum.Client = 1_000
    private var pendingVersion: [Int: UInt64] = [:]
    /// quorumd multicasts waiting for totem: a totem output is carried out completely (every upcall handed to the
    /// quorum core) before a new submission is handled, as totemd's loop reads its clients after delivering.
    private var outbox: [(node: Int, bytes: [UInt8])] = []
    /// Multicasts waiting at once before the script is called runaway.
    static let outboxCountMax = 1 << 16
    private var totemDepth = 0
    private var flushing = false
    /// How long the network runs after a command that sends something (a few token rotations of a quiet ring).
    static let settle = Duration.milliseconds(100)
    /// Wall-clock seconds at virtual time 0 (join times in `nodes`).
    static let epoch: UInt64 = 1_700_000_000

    public init() {
        network.onOutput = { [unowned self] i, out in totemOutput(i, out) }
        network.upperDeadline = { [unowned self] in hosts.compactMap { $0?.nextDeadline }.min() }
        network.onUpperDeadline = { [unowned self] in
            for i in hosts.indices where (hosts[i]?.nextDeadline).map({ $0 <= network.now }) ?? false { feed(i, .deadlineReached) }
        }
    }

    /// Runs every block of `script` and returns the script with each block's output (the golden file's text).
    public static func render(_ script: String) -> String {
        let t = QuorumTranscript()
        return TranscriptScript.render(script) { t.run($0) }
    }

    /// Runs `command` and returns what it printed.
    public func run(_ command: String) -> String {
        output = []
        let words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { return "error: empty command" }
        let args = Array(words.dropFirst())
        let error: String?
        switch verb {
        case "start": error = start(args)
        case "crash", "restart": error = nodeCommand(verb, args)
        case "dirty", "expected", "votes", "kill": error = admin(verb, args)
        case "register", "reply", "gone", "leave", "sigterm": error = shutdown(verb, args)
        case "version": error = version(args)
        case "status", "nodes": error = show(verb, args)
        default:
            switch network.common(verb, args) {
            case .unknown: error = "unknown command \(verb)"
            case .failed(let usage): error = usage
            case .done(let lines):
                output += lines
                error = nil
            }
        }
        if let error { return "error: \(error)" }
        if ["dirty", "expected", "votes", "kill", "register", "reply", "gone", "leave", "sigterm", "version"].contains(verb) {
            // What the command set off travels through totem before the next command.
            network.advance(until: { false }, limit: Self.settle)
        }
        return output.isEmpty ? "ok" : output.joined(separator: "\n")
    }

    // MARK: - Commands

    private func start(_ args: [String]) -> String? {
        guard let n = args.first.flatMap(Int.init), (1...16).contains(n) else { return "start N (1...16) [options]" }
        let options = Dictionary(args.dropFirst().map { a -> (String, String) in
            let kv = a.split(separator: "=", maxSplits: 1).map(String.init)
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }, uniquingKeysWith: { _, b in b })
        let votes = options["votes"].map { $0.split(separator: ",").compactMap { UInt32($0) } } ?? []
        let nodes = (1...n).map { Quorum.ConfiguredNode(id: NodeID(UInt32($0)), name: "node\($0)", votes: $0 <= votes.count ? votes[$0 - 1] : 1) }
        var s = Quorum.Settings(clusterName: "transcript", nodes: nodes, expectedVotes: options["expected"].flatMap { UInt32($0) },
                                twoNode: options["two_node"] != nil, waitForAll: options["wait_for_all"] != nil,
                                autoTieBreaker: options["auto_tie_breaker"] != nil)
        if let lms = options["last_man_standing"].flatMap({ Int64($0) }) {
            s.lastManStanding = true
            s.lastManStandingWindow = .milliseconds(lms)
        }
        if let t = options["shutdown_timeout"].flatMap({ Int64($0) }) { s.shutdownTimeout = .milliseconds(t) }
        settings = s
        files = [1: .valid(configVersion: 1, settings: s)]
        hosts = Array(repeating: nil, count: n)
        clients = Array(repeating: [:], count: n)
        for i in 0..<n { hosts[i] = CoreHost(makeCore(i)) }
        network.start(n, token: .milliseconds(args.dropFirst().first { $0.hasPrefix("token=") }.flatMap { Int64($0.dropFirst(6)) } ?? 1000))
        network.advance(until: { false }, limit: .milliseconds(100))
        return nil
    }

    private func makeCore(_ i: Int) -> Quorum.StateMachine {
        Quorum.StateMachine(nodeID: NodeID(UInt32(i + 1)), settings: settings, configVersion: 1,
                            joinTime: Self.epoch + network.now.nanoseconds / 1_000_000_000, configBytes: Self.file(1))
    }

    /// The bytes of file version `v` (what totem carries; the table says what they contain).
    static func file(_ v: UInt64) -> [UInt8] { Array("cluster.conf version \(v)".utf8) }

    private func nodeCommand(_ verb: String, _ args: [String]) -> String? {
        switch verb {
        case "crash":
            guard let k = node(args.first) else { return "crash K" }
            stopQuorumd(k)
            network.crash(k, icmp: false)
            output.append(network.stamp("n\(k + 1) crashed"))
        default:
            guard let k = node(args.first) else { return "restart K" }
            guard network.nodes[k] == nil || hosts[k] == nil else { return "n\(k + 1) is running" }
            output.append(network.stamp("n\(k + 1) restarts"))
            clients[k] = [:]
            hosts[k] = CoreHost(makeCore(k))
            if let m = network.nodes[k], m.state == .operational {
                // Only quorumd restarts: it learns the current configuration when it opens its channel.
                feed(k, .configuration(ConfigurationChange(kind: .regular, ringID: m.ringID, members: m.members)))
            } else {
                network.restart(k)
            }
        }
        return nil
    }

    private func admin(_ verb: String, _ args: [String]) -> String? {
        if verb == "dirty" {
            let targets = args.first == "all" ? Array(hosts.indices) : node(args.first).map { [$0] } ?? []
            guard !targets.isEmpty else { return "dirty K|all" }
            for k in targets { feed(k, .setDirty) }
            return nil
        }
        guard let k = node(args.first), args.count >= 2 else { return "\(verb) K ARGS" }
        let request: Quorum.Request
        switch verb {
        case "expected":
            guard let e = UInt32(args[1]) else { return "expected K E" }
            request = .setExpected(e)
        case "votes":
            guard let v = UInt32(args[1]) else { return "votes K V [node=J]" }
            let target = args.dropFirst(2).first { $0.hasPrefix("node=") }.flatMap { UInt32($0.dropFirst(5)) } ?? UInt32(k + 1)
            request = .setVotes(node: NodeID(target), votes: v)
        default:
            guard let j = UInt32(args[1]) else { return "kill K J" }
            request = .kill(NodeID(j))
        }
        let result = feed(k, .request(request))?.result ?? .refused("quorumd is not running")
        output.append(network.stamp("n\(k + 1) cman_tool \(verb) \(args.dropFirst().joined(separator: " ")): \(Self.describe(result))"))
        return nil
    }

    private func shutdown(_ verb: String, _ args: [String]) -> String? {
        guard let k = node(args.first) else { return "\(verb) K ..." }
        switch verb {
        case "register":
            guard args.count == 2 else { return "register K NAME" }
            clients[k][args[1]] = nextClient
            feed(k, .clientRegistered(nextClient, name: args[1]))
            nextClient += 1
        case "reply":
            guard args.count == 3, let c = clients[k][args[1]], ["yes", "no"].contains(args[2]) else { return "reply K NAME yes|no" }
            feed(k, .shutdownReply(c, allow: args[2] == "yes"))
        case "gone":
            guard args.count == 2, let c = clients[k].removeValue(forKey: args[1]) else { return "gone K NAME" }
            feed(k, .clientGone(c))
        case "leave":
            feed(k, .shutdownRequested(by: Self.leaveRequester, remove: args.contains("remove"), force: args.contains("force")))
        default:
            feed(k, .shutdownRequested(by: nil, remove: false, force: false))
        }
        return nil
    }

    private func version(_ args: [String]) -> String? {
        guard let k = node(args.first), args.count >= 2, let v = UInt64(args[1]) else { return "version K V [without=J] [broken] [name=OTHER]" }
        var s = settings
        if let j = args.first(where: { $0.hasPrefix("without=") }).flatMap({ UInt32($0.dropFirst(8)) }) {
            s.nodes.removeAll { $0.id == NodeID(j) }
        }
        if let name = args.first(where: { $0.hasPrefix("name=") }) { s.clusterName = String(name.dropFirst(5)) }
        files[v] = args.contains("broken") ? .invalid("cluster.conf:3: <clusternodes> is missing") : .valid(configVersion: v, settings: s)
        let result = feed(k, .request(.proposeConfig(version: v, bytes: Self.file(v))))?.result ?? .refused("quorumd is not running")
        if case .refused = result {
            output.append(network.stamp("n\(k + 1) cman_tool version -r \(v): \(Self.describe(result))"))
        } else {
            pendingVersion[k] = v
        }
        return nil
    }

    private func show(_ verb: String, _ args: [String]) -> String? {
        guard let k = node(args.first) else { return "\(verb) K" }
        guard let core = hosts[k]?.core else {
            output.append("cman_tool: quorumd is not running")
            return nil
        }
        let host = Quorum.HostFacts(version: "1.0.0", clusterID: 1, multicastAddresses: [],
                                    addresses: Dictionary(uniqueKeysWithValues: hosts.indices.map { (NodeID(UInt32($0 + 1)), "10.0.0.\($0 + 1)") }))
        if verb == "status" {
            output += core.cmanStatus(host).lines
        } else {
            output += CmanIPC.Node.table(core.cmanNodes(host), addresses: false, joined: Self.formatTime)
        }
        return nil
    }

    // MARK: - quorumd, simulated

    /// Feeds node `i`'s quorum core (queued if one of its effects feeds it) and carries out its outputs.
    @discardableResult
    private func feed(_ i: Int, _ event: Quorum.Event) -> Quorum.Output? {
        guard let host = hosts[i] else { return nil }
        let out = host.feed(event, now: { network.now }) { [unowned self] _, out in carryOut(i, host, out) }
        if totemDepth == 0 { flush() }
        return out
    }

    /// Hands queued multicasts to totem, outside any totem output.
    private func flush() {
        guard !flushing else { return }
        flushing = true
        while !outbox.isEmpty {
            let (i, bytes) = outbox.removeFirst()
            network.handle(i, .submit(channel: Quorum.channel, payload: bytes, guarantee: .agreed))
        }
        flushing = false
    }

    private func carryOut(_ i: Int, _ host: CoreHost<Quorum.StateMachine>, _ out: Quorum.Output) {
        for line in Quorum.OperatorLog.lines(for: out) { output.append(network.stamp("n\(i + 1) \(line.level.rawValue): \(line.text)")) }
        for effect in out.effects {
            switch effect {
            case .multicast(let bytes):
                outbox.append((i, bytes))
                precondition(outbox.count <= Self.outboxCountMax, "quorum transcript: \(outbox.count) multicasts waiting")
            case .validateConfig(_, let version, _):
                host.feed(.configChecked(version: version, files[version] ?? .invalid("no such file")), now: { network.now }) { _, _ in }
            case .configDistributed(let version, let failure):
                guard pendingVersion[i] == version else { break }
                pendingVersion[i] = nil
                output.append(network.stamp("n\(i + 1) cman_tool version -r \(version): \(failure.map { "refused: \($0)" } ?? "ok")"))
            case .tryShutdown(let c):
                let name = clients[i].first { $0.value == c }?.key ?? "client \(c)"
                output.append(network.stamp("n\(i + 1) TRY_SHUTDOWN to \(name)"))
            case .leaveAnswered(_, let result):
                output.append(network.stamp("n\(i + 1) cman_tool leave: \(Self.describe(result))"))
            case .leaveCluster:
                stopQuorumd(i)
                network.handle(i, .leave)
            case .stopDaemon(let reason):
                output.append(network.stamp("n\(i + 1) quorumd stopping: \(reason)"))
                stopQuorumd(i)
            case .stateChanged, .installConfig, .notice, .portData, .portsChanged, .barrierReleased, .barrierFailed, .stopRefused,
                 .persistState:
                break
            }
        }
    }

    private func stopQuorumd(_ i: Int) {
        hosts[i]?.retire()
        hosts[i] = nil
    }

    /// Totem's configuration changes and quorum-channel deliveries, to the node's quorum core.
    private func totemOutput(_ i: Int, _ out: Totem.Output) {
        totemDepth += 1
        defer {
            totemDepth -= 1
            if totemDepth == 0 { flush() }
        }
        for u in out.upcalls {
            switch u {
            case .configurationChange(let c): feed(i, .configuration(c))
            case .message(let d) where d.channel == Quorum.channel: feed(i, .delivered(from: d.sender, bytes: d.payload))
            case .message: break
            }
        }
    }

    // MARK: - Helpers

    private func node(_ arg: String?) -> Int? {
        guard let k = arg.flatMap(Int.init), (1...hosts.count).contains(k) else { return nil }
        return k - 1
    }

    static func describe(_ r: Quorum.RequestResult) -> String {
        switch r {
        case .accepted: "ok"
        case .refused(let why): "refused: \(why)"
        }
    }

    /// `YYYY-MM-DD HH:MM:SS` in UTC (the tool shows local time; the transcript must not depend on the machine).
    static func formatTime(_ seconds: UInt64) -> String {
        guard seconds > 0 else { return "" }
        let days = Int64(seconds / 86_400), rest = Int(seconds % 86_400)
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { String(v).leftPadded(to: 2, with: "0") }
        return "\(y)-\(two(m))-\(two(d)) \(two(Int64(rest / 3600))):\(two(Int64(rest / 60 % 60))):\(two(Int64(rest % 60)))"
    }
}
