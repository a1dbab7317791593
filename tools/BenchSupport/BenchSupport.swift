// SPDX-License-Identifier: Apache-2.0
// Shared by totembench and cpgbench: a local cluster of real daemons and load generators that measure delivery.
import ClusterClient
import TotemLink
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path

/// N totemd processes (and optionally groupd) on loopback.
public final class BenchCluster: @unchecked Sendable {  // shared read-only with sender threads after start
    public let dir: String
    public let n: Int
    /// Also start groupd on every node.
    public let groups: Bool
    let port = UInt16.random(in: 20_000...50_000)
    let tag = "bench\(getpid())"
    public var processes: [Int: Process] = [:]
    var groupProcesses: [Int: Process] = [:]

    /// `rings` > 1 adds redundant rings (`<altname>` on 127.0.R.k), in `rrpMode` (active or passive).
    public init(n: Int, token: Int, groups: Bool = false, rings: Int = 1, rrpMode: String = "active") throws {
        self.n = n
        self.groups = groups
        dir = NSTemporaryDirectory() + "totembench-\(getpid())-\(n)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var conf = "<cluster name=\"bench\" config_version=\"1\"><cman transport=\"udpu\" port=\"\(port)\"/>"
        conf += "<totem token=\"\(token)\" token_coefficient=\"0\" netmtu=\"65000\" rrp_mode=\"\(rings > 1 ? rrpMode : "none")\"/><logging to_syslog=\"no\" to_logfile=\"no\" to_stderr=\"yes\"\(ProcessInfo.processInfo.environment["BENCH_DEBUG"] == nil ? "" : " debug=\"on\"")/><clusternodes>"
        for k in 1...n {
            conf += "<clusternode name=\"127.0.0.\(k)\" nodeid=\"\(k)\">"
            for r in 1..<max(rings, 1) { conf += "<altname name=\"127.0.\(r).\(k)\"/>" }
            conf += "</clusternode>"
        }
        conf += "</clusternodes></cluster>"
        try conf.write(toFile: dir + "/cluster.conf", atomically: true, encoding: .utf8)
    }

    public func instance(_ k: Int) -> NodeInstance {
        NodeInstance(name: "\(tag)n\(k)", configPath: dir + "/cluster.conf", runDirectory: "\(dir)/n\(k)/run",
                     stateDirectory: "\(dir)/n\(k)/state", logDirectory: "\(dir)/n\(k)/log")
    }

    public func start(_ k: Int) throws {
        processes[k] = try spawn(k, "totemd")
        if groups { groupProcesses[k] = try spawn(k, "groupd") }
    }

    private func spawn(_ k: Int, _ daemon: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/" + daemon)
        let i = instance(k)
        var env = ProcessInfo.processInfo.environment
        env["CLUSTER_INSTANCE"] = i.name
        env["CLUSTER_CONF"] = i.configPath
        env["CLUSTER_STATE_DIR"] = i.stateDirectory
        env["CLUSTER_LOG_DIR"] = i.logDirectory
        env["CLUSTER_NODE_NAME"] = "127.0.0.\(k)"
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: "\(dir)/n\(k).\(daemon).err", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: "\(dir)/n\(k).\(daemon).err")
        try p.run()
        return p
    }

    public func status(_ k: Int) -> TotemIPC.Status? {
        guard let c = try? TotemClient(instance: instance(k)) else { return nil } // not up yet
        return try? c.status() // gone mid-call: not answering
    }

    /// Waits for one ring of exactly `nodes`; returns when it saw it (monotonic ns), polling every millisecond.
    public func waitForRing(_ nodes: [Int], timeout: Double = 30) -> UInt64? {
        let want = nodes.map { NodeID(UInt32($0)) }
        let end = now() + UInt64(timeout * 1e9)
        while now() < end {
            let s = nodes.map { status($0) }
            if s.allSatisfy({ $0?.state == "operational" && $0?.members == want }) { return now() }
            usleep(1_000)
        }
        return nil
    }

    /// Waits until groupd answers on every node in `nodes`.
    public func waitForGroups(_ nodes: [Int], timeout: Double = 30) -> Bool {
        let end = now() + UInt64(timeout * 1e9)
        while now() < end {
            if nodes.allSatisfy({ k in (try? GroupClient(instance: instance(k)).localNodeID()) != nil }) { return true } // not up yet
            usleep(10_000)
        }
        return false
    }

    /// Resident memory of node `k`'s totemd (or its groupd).
    public func rssKiB(_ k: Int, groupd: Bool = false) -> Int {
        guard let pid = (groupd ? groupProcesses[k] : processes[k])?.processIdentifier,
              let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 } // process gone
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// The daemons' stderr, for failure reports.
    public func errors() -> String {
        let daemons = groups ? ["totemd", "groupd"] : ["totemd"]
        return (1...n).flatMap { k in
            daemons.map { d in "n\(k) \(d): " + ((try? String(contentsOfFile: "\(dir)/n\(k).\(d).err", encoding: .utf8)) ?? "") } // report only
        }.joined(separator: "\n")
    }

    public func stop() {
        let all = Array(processes.values) + Array(groupProcesses.values)
        for p in all where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in all { p.waitUntilExit() }
        if ProcessInfo.processInfo.environment["BENCH_KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) } // best effort; BENCH_KEEP=1 keeps logs
    }
}

/// What a load goes through: totemd's raw channels, or CPG groups in groupd.
public enum BenchPath: String, Encodable, Sendable { case totem, groups }

public struct Load: Encodable, Sendable {
    public var path: BenchPath
    public var nodes: Int
    public var payloadBytes: Int
    public var senders: Int
    public var messagesPerSecond: Double
    public var megabytesPerSecond: Double
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
}

/// Receives on node 1 while `senders` multicast as fast as flow control allows (or at `rate` per second): raw totemd
/// channel 7, or the CPG group "bench" through groupd (every client joins it first; the cluster must run groupd).
public func measure(_ cluster: BenchCluster, via path: BenchPath = .totem, size: Int, senders: [Int], rate: Double?,
                    duration: Double) throws -> Load {
    let receive: (Int32) throws -> [UInt8]?
    let sender: (Int) -> (@Sendable ([UInt8]) throws -> Void)?
    if path == .groups {
        let receiver = try GroupClient(instance: cluster.instance(1))
        try receiver.join("bench")
        receive = { timeout in
            guard case .delivery(_, _, let p)? = try receiver.nextEvent(timeoutMilliseconds: timeout) else { return nil }
            return p
        }
        sender = { k in
            // One process may be a member once: node 1's sender shares the receiver's connection (calls do not wait on it).
            if k == 1 { return { try receiver.multicast("bench", $0) } }
            guard let c = try? GroupClient(instance: cluster.instance(k)), (try? c.join("bench")) != nil else { return nil } // node down
            return { payload in
                // A member gets every message too: read them, as a real client would, or groupd queues them.
                while try c.nextEvent(timeoutMilliseconds: 0) != nil {}
                try c.multicast("bench", payload)
            }
        }
    } else {
        let receiver = try TotemClient(instance: cluster.instance(1))
        _ = try receiver.open(channels: [7])
        receive = { timeout in
            guard case .delivery(_, _, _, let p, _)? = try receiver.nextEvent(timeoutMilliseconds: timeout) else { return nil }
            return p
        }
        sender = { k in
            guard let c = try? TotemClient(instance: cluster.instance(k)) else { return nil } // node down: no load from it
            let owned = HandedOff(c)
            return { try owned.value.multicast(channel: 7, payload: $0) }
        }
    }
    let sendFunctions = senders.compactMap { sender($0) }
    let stopAt = now() + UInt64(duration * 1e9)
    startSenders(sendFunctions, size: size, rate: rate, until: stopAt)
    var latencies: [UInt64] = []
    var count = 0
    var bytes = 0
    let warmup = now() + UInt64(min(0.5, duration / 4) * 1e9)
    var measureStart: UInt64 = 0
    while now() < stopAt + 200_000_000 {
        guard let p = try receive(50), p.count >= 8 else { continue }
        let t = now()
        guard t >= warmup else { continue }
        if measureStart == 0 { measureStart = t }
        let sentAt = p.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        if t < stopAt {
            count += 1
            bytes += p.count
            latencies.append(t &- sentAt)
        }
    }
    let elapsed = Double(stopAt - measureStart) / 1e9
    latencies.sort()
    func pct(_ q: Double) -> Double { latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))]) / 1e6 }
    return Load(path: path, nodes: cluster.n, payloadBytes: size, senders: sendFunctions.count, messagesPerSecond: Double(count) / elapsed,
                megabytesPerSecond: Double(bytes) / elapsed / 1e6, p50Milliseconds: pct(0.5), p99Milliseconds: pct(0.99))
}

/// One thread per sender, sending timestamped payloads until `stopAt` (at `rate` per second, or as fast as the
/// stack accepts).
func startSenders(_ sends: [@Sendable ([UInt8]) throws -> Void], size: Int, rate: Double?, until stopAt: UInt64) {
    for send in sends {
        Thread {
            var payload = [UInt8](repeating: 0xA5, count: max(size, 8))
            var sent = 0
            let start = now()
            while now() < stopAt {
                if let rate, Double(now() - start) / 1e9 * rate < Double(sent) {
                    usleep(200)
                    continue
                }
                var t = now()
                withUnsafeBytes(of: &t) { for i in 0..<8 { payload[i] = $0[i] } }
                do {
                    try send(payload)
                    sent += 1
                } catch {
                    usleep(100) // ring saturated (try again): back off briefly
                }
            }
        }.start()
    }
}

/// `x` with `d` decimals.
public func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }

extension String {
    /// Right-aligned in `w` columns.
    public func leftPad(_ w: Int) -> String { count >= w ? self : String(repeating: " ", count: w - count) + self }
}

/// A value made on one thread and then used only by the one sender thread it is handed to.
final class HandedOff<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Prints `value` as sorted, pretty JSON.
public func printJSON<T: Encodable>(_ value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try enc.encode(value), as: UTF8.self))
}

/// The first line of a bench report: the settings every figure depends on.
public func benchHeader(_ tool: String, token: Int, seconds: Double) -> String {
    "\(tool): token \(token) ms (token_coefficient 0), udpu on loopback, netmtu 65000, \(seconds) s per load, \(ProcessInfo.processInfo.activeProcessorCount) CPUs"
}

/// What one `cpgload load` process reports (one JSON line), read back by `cpgcompare`.
public struct CPGLoadResult: Codable, Sendable {
    public var backend: String
    /// Members of the group when the load started (every node's client, or the run is flawed).
    public var membersAtStart: Int
    public var sent: UInt64
    public var tryAgains: UInt64
    /// Messages received in the measured window, and their rate.
    public var received: Int
    public var messagesPerSecond: Double
    public var megabytesPerSecond: Double
    /// One-way latency of the messages received in the window.
    public var p50Milliseconds: Double
    public var p99Milliseconds: Double
    public var maxMilliseconds: Double
    /// Sequence check over the whole run: messages skipped, received twice, or announced by a sender and never
    /// received, and senders whose end marker never came.
    public var gaps: UInt64
    public var duplicates: UInt64
    public var lost: UInt64
    public var sendersHeard: Int
    public var sendersUnfinished: Int
    /// Members that left or joined with node down or node up during the run: the ring re-formed under the load.
    public var ringChanges: Int
    public var sendFailure: String?
    /// p99 one-way latency of each sender's messages at this receiver, by sender node (which sender or which receiver
    /// makes the tail); nil from builds before it.
    public var p99BySender: [UInt32: Double]?

    public init(backend: String, membersAtStart: Int, sent: UInt64, tryAgains: UInt64, received: Int, messagesPerSecond: Double,
                megabytesPerSecond: Double, p50Milliseconds: Double, p99Milliseconds: Double, maxMilliseconds: Double, gaps: UInt64,
                duplicates: UInt64, lost: UInt64, sendersHeard: Int, sendersUnfinished: Int, ringChanges: Int, sendFailure: String?,
                p99BySender: [UInt32: Double]? = nil) {
        self.backend = backend
        self.membersAtStart = membersAtStart
        self.sent = sent
        self.tryAgains = tryAgains
        self.received = received
        self.messagesPerSecond = messagesPerSecond
        self.megabytesPerSecond = megabytesPerSecond
        self.p50Milliseconds = p50Milliseconds
        self.p99Milliseconds = p99Milliseconds
        self.maxMilliseconds = maxMilliseconds
        self.gaps = gaps
        self.duplicates = duplicates
        self.lost = lost
        self.sendersHeard = sendersHeard
        self.sendersUnfinished = sendersUnfinished
        self.ringChanges = ringChanges
        self.sendFailure = sendFailure
        self.p99BySender = p99BySender
    }
}
