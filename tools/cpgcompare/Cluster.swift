// SPDX-License-Identifier: Apache-2.0
// The stacks under comparison, each started one node per network namespace: corosync (knet, udpu or udp multicast)
// or ours (totemd and groupd, unicast to every node or multicast), with the same token, crypto and MTU settings.
import BenchSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

func monotonic() -> UInt64 { now() }

func log(_ s: String) { FileHandle.standardError.write(Data("cpgcompare: \(s)\n".utf8)) }

enum Stack: String, CaseIterable, Codable {
    /// corosync's transports: kronosnet (its default), UDP unicast to every node, UDP multicast.
    case knet, udpu, udp
    /// Ours, unicast to every node (udpu) or to the cluster's multicast group.
    case ours, oursMulticast = "ours-udp"
    var isOurs: Bool { self == .ours || self == .oursMulticast }
    /// corosync's udp and udpu transports have no crypto.
    var hasCrypto: Bool { self != .udpu && self != .udp }
    var backend: String { isOurs ? "ours" : "corosync" }
    var title: String {
        switch self {
        case .ours: "ours"
        case .oursMulticast: "ours multicast"
        default: "corosync \(rawValue)"
        }
    }
}

/// Where things are: the network namespaces (made by tools/cpg-compare), our binaries, a scratch directory.
struct Environment {
    var prefix: String
    var binDirectory: String
    var work: String
    var oursTotemAttributes = ""
    /// window_size and max_messages for both stacks (nil: each one's default: ours 120 and 60, corosync's 50 and 17).
    var window: (size: Int, maxMessages: Int)?
    func namespace(_ k: Int) -> String { "\(prefix)-n\(k)" }
    func address(_ k: Int) -> String { "10.99.0.\(k)" }
}

/// Runs `arguments` and waits; returns the exit status.
@discardableResult
func run(_ arguments: [String]) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

/// One node's view changes, as its `cpgload watch` prints them.
final class Watcher: @unchecked Sendable {  // lines arrive on a dispatch queue; every access takes the lock
    struct Change { var t: UInt64; var members: Set<Int> }
    let process = Process()
    private let lock = NSLock()
    private var changes: [Change] = []
    private var partial = Data()

    init(_ env: Environment, node k: Int, stack: Stack, extraEnvironment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", env.namespace(k), env.binDirectory + "/cpgload", "watch", "--backend", stack.backend,
                             "--group", "cpgwatch"]
        process.environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in self?.consume(h.availableData) }
        try process.run()
    }

    private func consume(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        partial.append(data)
        while let nl = partial.firstIndex(of: 0x0A) {
            let line = partial[partial.startIndex..<nl]
            partial = Data(partial[(nl + 1)...])
            guard let obj = try? JSONSerialization.jsonObject(with: line) as? [String: Any], // a torn line is skipped
                  let t = (obj["t"] as? NSNumber)?.uint64Value, let m = obj["members"] as? [NSNumber] else { continue }
            changes.append(Change(t: t, members: Set(m.map(\.intValue))))
        }
    }

    /// The first view after `after` whose members are exactly `members`, and when it arrived.
    func reached(_ members: Set<Int>, after: UInt64) -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        return changes.first { $0.t >= after && $0.members == members }?.t
    }

    /// The members of the latest view.
    var current: Set<Int> {
        lock.lock()
        defer { lock.unlock() }
        return changes.last?.members ?? []
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A running stack on nodes 1...n.
final class Cluster {
    let env: Environment
    let stack: Stack
    let crypto: Bool
    let n: Int
    let directory: String
    var daemons: [Int: [Process]] = [:]
    var watchers: [Int: Watcher] = [:]

    init(_ env: Environment, stack: Stack, crypto: Bool, nodes: Int) throws {
        self.env = env
        self.stack = stack
        self.crypto = crypto
        self.n = nodes
        directory = "\(env.work)/\(stack.rawValue)-\(crypto ? "crypto" : "plain")-\(nodes)"
        try? FileManager.default.removeItem(atPath: directory) // a previous run's leftovers, if any
        for k in 1...nodes { try FileManager.default.createDirectory(atPath: "\(directory)/n\(k)", withIntermediateDirectories: true) }
        var key = [UInt8](repeating: 0, count: 256)
        for i in key.indices { key[i] = UInt8.random(in: 0...255) }
        FileManager.default.createFile(atPath: "\(directory)/authkey", contents: Data(key), attributes: [.posixPermissions: 0o600])
        try writeConfiguration()
    }

    /// Our client's environment on node `k` (the corosync back end ignores it).
    func clientEnvironment(_ k: Int) -> [String: String] {
        ["CLUSTER_INSTANCE": "cmp\(k)", "CLUSTER_CONF": "\(directory)/cluster.conf", "CLUSTER_RUN_DIR": "\(directory)/n\(k)/run",
         "CLUSTER_STATE_DIR": "\(directory)/n\(k)/state", "CLUSTER_LOG_DIR": "\(directory)/n\(k)/log",
         "CLUSTER_NODE_NAME": env.address(k), "SWIFT_BACKTRACE": "enable=no"]
    }

    private func writeConfiguration() throws {
        if stack.isOurs {
            var c = "<?xml version=\"1.0\"?>\n<cluster name=\"cmp\" config_version=\"1\">\n"
            c += "  <cman transport=\"\(stack == .ours ? "udpu" : "udp")\"\(crypto ? " keyfile=\"\(directory)/authkey\"" : "")/>\n"
            let window = env.window.map { " window_size=\"\($0.size)\" max_messages=\"\($0.maxMessages)\"" } ?? ""
            c += "  <totem token=\"1000\"\(crypto ? "" : " secauth=\"off\"")\(window) \(env.oursTotemAttributes)/>\n"
            c += "  <logging to_syslog=\"no\" to_logfile=\"no\" to_stderr=\"yes\"/>\n  <clusternodes>\n"
            for k in 1...n { c += "    <clusternode name=\"\(env.address(k))\" nodeid=\"\(k)\"/>\n" }
            c += "  </clusternodes>\n</cluster>\n"
            try c.write(toFile: "\(directory)/cluster.conf", atomically: true, encoding: .utf8)
            return
        }
        for k in 1...n {
            var c = "totem {\n  version: 2\n  cluster_name: cmp\n  transport: \(stack.rawValue)\n  token: 1000\n"
            if stack == .udp { c += "  interface {\n    linknumber: 0\n    mcastaddr: 239.255.99.1\n    mcastport: 5405\n  }\n" }
            if let w = env.window { c += "  window_size: \(w.size)\n  max_messages: \(w.maxMessages)\n" }
            c += crypto ? "  crypto_cipher: aes256\n  crypto_hash: sha256\n  keyfile: \(directory)/authkey\n"
                        : "  crypto_cipher: none\n  crypto_hash: none\n"
            c += "}\nnodelist {\n"
            for j in 1...n { c += "  node {\n    ring0_addr: \(env.address(j))\n    nodeid: \(j)\n    name: node\(j)\n  }\n" }
            c += "}\nquorum {\n  provider: corosync_votequorum\n}\n"
            c += "logging {\n  to_stderr: no\n  to_syslog: no\n  to_logfile: yes\n  logfile: \(directory)/n\(k)/corosync.log\n  timestamp: on\n}\n"
            // SCHED_OTHER like our daemons (corosync's default is SCHED_RR 99); state in the node's own directory.
            c += "system {\n  sched_rr: no\n  state_dir: \(directory)/n\(k)\n}\n"
            try c.write(toFile: "\(directory)/n\(k)/corosync.conf", atomically: true, encoding: .utf8)
        }
    }

    /// `arguments` as a process in node `k`'s namespace with its client environment, not yet started.
    private func inNamespace(_ k: Int, _ arguments: [String]) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", env.namespace(k)] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(clientEnvironment(k)) { $1 }
        return p
    }

    private func spawn(_ k: Int, _ arguments: [String], log name: String) throws -> Process {
        let p = inNamespace(k, arguments)
        p.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: "\(directory)/n\(k)/\(name).err", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: "\(directory)/n\(k)/\(name).err")
        try p.run()
        return p
    }

    /// Runs `arguments` in node `k`'s namespace with its client environment and returns what it printed.
    func output(_ k: Int, _ arguments: [String]) -> String {
        let p = inNamespace(k, arguments)
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return "" }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Starts node `k`'s daemons and its watcher.
    func start(_ k: Int) throws {
        if stack.isOurs {
            daemons[k] = [try spawn(k, [env.binDirectory + "/totemd"], log: "totemd"), try spawn(k, [env.binDirectory + "/groupd"], log: "groupd")]
        } else {
            // corosync insists on /run/corosync.pid: each node gets a private /run in a mount namespace of its own.
            daemons[k] = [try spawn(k, ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                        "mount -t tmpfs tmpfs /run && exec corosync -f -c \(directory)/n\(k)/corosync.conf"], log: "corosync")]
        }
        watchers[k] = try Watcher(env, node: k, stack: stack, extraEnvironment: clientEnvironment(k))
    }

    func signal(_ k: Int, _ sig: Int32) {
        for p in daemons[k] ?? [] where p.isRunning { kill(p.processIdentifier, sig) }
    }

    /// Kills node `k` (daemons and watcher) and reaps it.
    func stop(_ k: Int) {
        signal(k, SIGCONT)
        signal(k, SIGKILL)
        for p in daemons[k] ?? [] { p.waitUntilExit() }
        watchers[k]?.stop()
        daemons[k] = nil
        watchers[k] = nil
    }

    func stopAll() { for k in daemons.keys.sorted() { stop(k) } }

    /// Waits until every node in `nodes` sees the watch group as exactly `nodes` (after `after`); returns the instant
    /// the last one did.
    func waitForView(_ nodes: Set<Int>, on watchersOf: Set<Int>, after: UInt64, timeout: Double) -> UInt64? {
        let deadline = monotonic() + UInt64(timeout * 1e9)
        while monotonic() < deadline {
            let seen = watchersOf.map { watchers[$0]?.reached(nodes, after: after) }
            if seen.allSatisfy({ $0 != nil }) { return seen.map { $0! }.max() }
            usleep(5_000)
        }
        return nil
    }

    /// The daemons' processor time so far (all nodes), in nanoseconds.
    var daemonCPU: UInt64 {
        let tick = UInt64(sysconf(Int32(_SC_CLK_TCK)))
        var total: UInt64 = 0
        for p in daemons.values.flatMap({ $0 }) {
            guard let stat = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/stat", encoding: .utf8), // gone: nothing to add
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command: state is field 3; utime and stime are fields 14 and 15.
            guard fields.count > 13, let u = UInt64(fields[11]), let s = UInt64(fields[12]) else { continue }
            total += (u + s) * 1_000_000_000 / tick
        }
        return total
    }

    /// Resident memory of node `k`'s daemons, in KiB.
    func rssKiB(_ k: Int) -> Int {
        (daemons[k] ?? []).reduce(0) { sum, p in
            guard let text = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8) else { return sum } // gone
            let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return sum + (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0)
        }
    }

    func errors(_ k: Int) -> String {
        let names = stack.isOurs ? ["totemd", "groupd"] : ["corosync"]
        return names.map { (try? String(contentsOfFile: "\(directory)/n\(k)/\($0).err", encoding: .utf8)) ?? "" }.joined() // report only
    }
}
