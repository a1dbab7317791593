// SPDX-License-Identifier: Apache-2.0
// totembench: figures for totemd on a local cluster (a benchmark, not a test).
//
//   totembench [--nodes 3,5] [--sizes 64,1024,16384] [--seconds 3] [--token 1000] [--json]
//
// For each cluster size it starts that many totemd processes on 127.0.0.1..N (with the binaries next to this one),
// and prints: time from start to the first full ring; messages/s and MB/s delivered at node 1 with one sender and
// with every node sending, with p50/p99 delivery latency under that load; p50/p99 at light load (100 msgs/s); time
// from SIGKILL of one node to a new ring on the survivors (the ICMP fast path) and from SIGSTOP (token timeout);
// and each totemd's resident memory.
import ClusterClient
import ClusterIPC
import ClusterIPCProtocol
import ClusterSystem
import ClusterTypes
import Foundation
#if canImport(Glibc)
import Glibc
#endif

var nodeCounts = [3, 5]
var sizes = [64, 1024, 16_384]
var seconds = 3.0
var token = 1000
var json = false
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--nodes": nodeCounts = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    case "--sizes": sizes = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    case "--seconds": seconds = Double(args.removeFirst()) ?? seconds
    case "--token": token = Int(args.removeFirst()) ?? token
    case "--json": json = true
    default:
        FileHandle.standardError.write(Data("usage: totembench [--nodes 3,5] [--sizes 64,1024,16384] [--seconds S] [--token MS] [--json]\n".utf8))
        exit(64)
    }
}

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path

/// N totemd processes on loopback.
final class BenchCluster: @unchecked Sendable {  // shared read-only with sender threads after start
    let dir: String
    let n: Int
    let port = UInt16.random(in: 20_000...50_000)
    let tag = "bench\(getpid())"
    var processes: [Int: Process] = [:]

    init(n: Int, token: Int) throws {
        self.n = n
        dir = NSTemporaryDirectory() + "totembench-\(getpid())-\(n)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var conf = "<cluster name=\"bench\" config_version=\"1\"><cman transport=\"udpu\" port=\"\(port)\"/>"
        conf += "<totem token=\"\(token)\" token_coefficient=\"0\" netmtu=\"65000\"/><logging to_syslog=\"no\" to_logfile=\"no\"/><clusternodes>"
        for k in 1...n { conf += "<clusternode name=\"127.0.0.\(k)\" nodeid=\"\(k)\"/>" }
        conf += "</clusternodes></cluster>"
        try conf.write(toFile: dir + "/cluster.conf", atomically: true, encoding: .utf8)
    }

    func instance(_ k: Int) -> NodeInstance {
        NodeInstance(name: "\(tag)n\(k)", configPath: dir + "/cluster.conf", runDirectory: "\(dir)/n\(k)/run",
                     stateDirectory: "\(dir)/n\(k)/state", logDirectory: "\(dir)/n\(k)/log")
    }

    func start(_ k: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/totemd")
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
        FileManager.default.createFile(atPath: "\(dir)/n\(k).err", contents: nil)
        p.standardError = FileHandle(forWritingAtPath: "\(dir)/n\(k).err")
        try p.run()
        processes[k] = p
    }

    func status(_ k: Int) -> TotemIPC.Status? {
        guard let c = try? TotemClient(instance: instance(k)) else { return nil } // not up yet
        return try? c.status() // gone mid-call: not answering
    }

    /// Waits for one ring of exactly `nodes`; returns when it saw it (monotonic ns), polling every millisecond.
    func waitForRing(_ nodes: [Int], timeout: Double = 30) -> UInt64? {
        let want = nodes.map { NodeID(UInt32($0)) }
        let end = now() + UInt64(timeout * 1e9)
        while now() < end {
            let s = nodes.map { status($0) }
            if s.allSatisfy({ $0?.state == "operational" && $0?.members == want }) { return now() }
            usleep(1_000)
        }
        return nil
    }

    func rssKiB(_ k: Int) -> Int {
        guard let pid = processes[k]?.processIdentifier,
              let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 } // process gone
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// The daemons' stderr, for failure reports.
    func errors() -> String {
        (1...n).map { k in "n\(k): " + ((try? String(contentsOfFile: "\(dir)/n\(k).err", encoding: .utf8)) ?? "") }.joined(separator: "\n") // report only
    }

    func stop() {
        for p in processes.values where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        for p in processes.values { p.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: dir) // best effort
    }
}

struct Load: Encodable {
    var nodes: Int
    var payloadBytes: Int
    var senders: Int
    var messagesPerSecond: Double
    var megabytesPerSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double
}

/// Receives on node 1 while `senders` multicast as fast as flow control allows (or at `rate` per second).
func measure(_ cluster: BenchCluster, size: Int, senders: [Int], rate: Double?, duration: Double) throws -> Load {
    let receiver = try TotemClient(instance: cluster.instance(1))
    _ = try receiver.open(channels: [7])
    let stopAt = now() + UInt64(duration * 1e9)
    let threads = senders.map { k in
        Thread {
            guard let c = try? TotemClient(instance: cluster.instance(k)) else { return } // node down: no load from it
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
                    try c.multicast(channel: 7, payload: payload)
                    sent += 1
                } catch {
                    usleep(100)
                }
            }
        }
    }
    for t in threads { t.start() }
    var latencies: [UInt64] = []
    var count = 0
    var bytes = 0
    let warmup = now() + UInt64(min(0.5, duration / 4) * 1e9)
    var measureStart: UInt64 = 0
    while now() < stopAt + 200_000_000 {
        guard let e = try receiver.nextEvent(timeoutMilliseconds: 50) else { continue }
        guard case .delivery(_, _, _, let p) = e, p.count >= 8 else { continue }
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
    return Load(nodes: cluster.n, payloadBytes: size, senders: senders.count, messagesPerSecond: Double(count) / elapsed,
                megabytesPerSecond: Double(bytes) / elapsed / 1e6, p50Milliseconds: pct(0.5), p99Milliseconds: pct(0.99))
}

struct Report: Encodable {
    var nodes: Int
    var startupMilliseconds: Double
    var loads: [Load]
    var lightLoad: Load
    var killToRingMilliseconds: Double
    var stopToRingMilliseconds: Double
    var rssKiB: [Int]
}

var reports: [Report] = []
for n in nodeCounts {
    let cluster = try BenchCluster(n: n, token: token)
    defer { cluster.stop() }
    let t0 = now()
    for k in 1...n { try cluster.start(k) }
    guard let formed = cluster.waitForRing(Array(1...n)) else {
        FileHandle.standardError.write(Data("totembench: no ring of \(n) nodes formed\n".utf8))
        exit(1)
    }
    let startup = Double(formed - t0) / 1e6
    var loads: [Load] = []
    let light: Load
    do {
        for size in sizes {
            loads.append(try measure(cluster, size: size, senders: [1], rate: nil, duration: seconds))
            loads.append(try measure(cluster, size: size, senders: Array(1...n), rate: nil, duration: seconds))
        }
        light = try measure(cluster, size: 64, senders: [2], rate: 100, duration: seconds)
    } catch {
        FileHandle.standardError.write(Data("totembench: \(error)\n\(cluster.errors())\n".utf8))
        exit(1)
    }
    let rss = (1...n).map { cluster.rssKiB($0) }
    // SIGKILL of the last node: its port closes, the kernel answers with port unreachable.
    let killAt = now()
    kill(cluster.processes[n]!.processIdentifier, SIGKILL)
    let killed = cluster.waitForRing(Array(1..<n)) ?? killAt
    let killMs = Double(killed - killAt) / 1e6
    // SIGSTOP of another node: silence, so only the token timeout finds it.
    var stopMs = 0.0
    if n > 2 {
        let victim = n - 1
        let stopAt = now()
        kill(cluster.processes[victim]!.processIdentifier, SIGSTOP)
        let stopped = cluster.waitForRing(Array(1..<victim)) ?? stopAt
        stopMs = Double(stopped - stopAt) / 1e6
        kill(cluster.processes[victim]!.processIdentifier, SIGCONT)
    }
    reports.append(Report(nodes: n, startupMilliseconds: startup, loads: loads, lightLoad: light, killToRingMilliseconds: killMs,
                          stopToRingMilliseconds: stopMs, rssKiB: rss))
}

if json {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try enc.encode(reports), as: UTF8.self))
    exit(0)
}
func f(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }
print("totembench: token \(token) ms (token_coefficient 0), udpu on loopback, netmtu 65000, \(seconds) s per load, \(ProcessInfo.processInfo.activeProcessorCount) CPUs")
for r in reports {
    print("")
    print("== \(r.nodes) nodes: first full ring \(f(r.startupMilliseconds)) ms after start; RSS per totemd \(r.rssKiB.map { "\($0 / 1024) MiB" }.joined(separator: ", "))")
    print("  bytes  senders       msgs/s      MB/s   p50 ms   p99 ms")
    for l in r.loads {
        print(String(l.payloadBytes).leftPad(7) + String(l.senders).leftPad(9) + f(l.messagesPerSecond, 0).leftPad(13)
              + f(l.megabytesPerSecond).leftPad(10) + f(l.p50Milliseconds, 2).leftPad(9) + f(l.p99Milliseconds, 2).leftPad(9))
    }
    print("  light load (100 msgs/s, 64 B): p50 \(f(r.lightLoad.p50Milliseconds, 3)) ms, p99 \(f(r.lightLoad.p99Milliseconds, 3)) ms")
    print("  SIGKILL of one node to a new ring on the survivors: \(f(r.killToRingMilliseconds)) ms (ICMP fast path)")
    if r.nodes > 2 { print("  SIGSTOP of one node to a new ring on the survivors: \(f(r.stopToRingMilliseconds)) ms (token timeout + consensus)") }
}

extension String {
    func leftPad(_ w: Int) -> String { count >= w ? self : String(repeating: " ", count: w - count) + self }
}
