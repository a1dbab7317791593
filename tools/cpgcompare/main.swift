// SPDX-License-Identifier: Apache-2.0
// cpgcompare: corosync's CPG and ours, side by side in the same topology (run through tools/cpg-compare, which
// installs corosync, builds, and makes the network namespaces; root). Not a test.
//
//   cpgcompare --prefix NETNS_PREFIX --bin DIR --work DIR [--nodes 3,5] [--sizes 64,1024,16384] [--stacks knet,udpu,udp,ours,ours-udp]
//              [--crypto off,on] [--seconds 5] [--runs 3] [--no-failures] [--failures-only] [--json FILE] [--ours-totem 'ATTR="V" ...']
//
// For each crypto setting and cluster size it starts each stack in turn on nodes 1..N (one network namespace per
// node, veth through a bridge, MTU 1500; token 1000 ms with corosync's token_coefficient 650 on both), drives it with
// cpgload on every node (one sender, then every node sending; 64 B, 1 KiB, 16 KiB; then 100 msgs/s of 64 B), and
// measures SIGKILL and SIGSTOP of a node to the survivors' new group view (SIGKILL twice: of the node holding the
// idle token, and of another node), and with 5 nodes a 3/2 split and its heal (`--failures-only`: no loads). corosync's udp (multicast) and udpu have no crypto, so the crypto table compares knet with ours. Prints
// one table per setting with each of ours (unicast: `ours`, multicast: `ours-udp`) ÷ the best corosync of the row.
import BenchSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

var nodeCounts = [3, 5]
var sizes = [64, 1024, 16_384]
var stacks: [Stack] = [.knet, .udpu, .ours]
var cryptoModes = [false, true]
var seconds = 5.0
var runs = 3
var failures = true
var loads = true
var jsonPath: String?
/// Extra attributes of our `<totem>` (experiments with window_size, max_messages and the like).
var oursTotemAttributes = ""
/// window_size and max_messages, set on both stacks: ours' default (120/60) unless `--window` says otherwise, so that
/// corosync runs with the same window as ours.
var window: (size: Int, maxMessages: Int)? = (120, 60)
var prefix = ""
var binDirectory = ""
var work = NSTemporaryDirectory() + "cpgcompare-\(getpid())"
var args = Array(CommandLine.arguments.dropFirst())
while let a = args.first {
    args.removeFirst()
    if a == "--no-failures" { failures = false; continue }
    if a == "--failures-only" { loads = false; continue }
    guard let v = args.first else { log("\(a) needs a value"); exit(64) }
    args.removeFirst()
    switch a {
    case "--prefix": prefix = v
    case "--bin": binDirectory = v
    case "--work": work = v
    case "--nodes": nodeCounts = v.split(separator: ",").compactMap { Int($0) }
    case "--sizes": sizes = v.split(separator: ",").compactMap { Int($0) }
    case "--stacks": stacks = v.split(separator: ",").compactMap { Stack(rawValue: String($0)) }
    case "--crypto": cryptoModes = v.split(separator: ",").map { $0 == "on" }
    case "--seconds": seconds = Double(v) ?? seconds
    case "--runs": runs = max(1, Int(v) ?? runs)
    case "--json": jsonPath = v
    case "--ours-totem": oursTotemAttributes = v
    case "--window":  // SIZE/MAX_MESSAGES, on both stacks
        let parts = v.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 > 0 }) else { log("--window takes SIZE/MAX_MESSAGES, e.g. 120/60"); exit(64) }
        window = (parts[0], parts[1])
    default: log("unknown option \(a)"); exit(64)
    }
}
guard !prefix.isEmpty, !binDirectory.isEmpty else { log("--prefix and --bin are required (run tools/cpg-compare)"); exit(64) }
let env = Environment(prefix: prefix, binDirectory: binDirectory, work: work, oursTotemAttributes: oursTotemAttributes, window: window)

// MARK: - One load

/// A load's figures over every receiver: the slowest receiver's rate, the worst latencies, every anomaly summed.
struct LoadResult: Codable {
    var messagesPerSecond: Double
    var megabytesPerSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var maxMilliseconds: Double
    var anomalies: UInt64
    /// Membership changes seen by the clients during the load although nothing failed.
    var ringChanges: Int
    var cpuMicrosecondsPerMessage: Double
    /// The machine's 1-minute load average as the load started (other engineers' work and what came before).
    var loadAverage: Double
    /// Cores busy with processes other than this load's daemons and clients, averaged over the load.
    var othersCores: Double
    /// Where the tail is: each receiver's p99 (by node, in order), and each sender's p99 at its slowest receiver.
    var p99ByReceiver: [Double]?
    var p99BySender: [UInt32: Double]?
}

/// Milliseconds for a log line: "[12, 40, 9]".
func milliseconds(_ values: [Double]) -> String { "[" + values.map { String(Int($0.rounded())) }.joined(separator: ", ") + "]" }

/// The 1-minute load average (`uptime`'s first figure).
func loadAverage() -> Double {
    let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
    return Double(text.split(separator: " ").first ?? "") ?? 0
}

/// Nanoseconds of CPU the whole machine spent busy (not idle or waiting for I/O), from /proc/stat.
func machineBusyNanoseconds() -> UInt64 {
    let text = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
    let v = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
    guard v.count >= 8 else { return 0 }
    // user nice system idle iowait irq softirq steal
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    return busy * 1_000_000_000 / UInt64(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU time of the children this process has waited for (the cpgload clients), in nanoseconds.
func childrenCPUNanoseconds() -> UInt64 {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &u)
    let us = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1_000_000 + Int(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
    return UInt64(us) * 1_000
}

@MainActor func load(_ c: Cluster, size: Int, senders: Int, rate: Double?) -> LoadResult? {
    let start = monotonic() + 2_500_000_000
    let loadAtStart = loadAverage()
    let busyBefore = machineBusyNanoseconds(), clientsBefore = childrenCPUNanoseconds(), wallBefore = monotonic()
    var processes: [(Process, Pipe)] = []
    for k in 1...c.n {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        var a = ["netns", "exec", env.namespace(k), binDirectory + "/cpgload", "load", "--backend", c.stack.backend, "--group", "cpgbench",
                 "--members", "\(c.n)", "--size", "\(size)", "--start", "\(start)", "--seconds", "\(seconds)", "--senders", "\(senders)"]
        if k <= senders { a.append("--send") }
        if let rate { a += ["--rate", "\(rate)"] }
        p.arguments = a
        p.environment = ProcessInfo.processInfo.environment.merging(c.clientEnvironment(k)) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        processes.append((p, pipe))
    }
    let cpuBefore = c.daemonCPU
    var results: [CPGLoadResult] = []
    for (p, pipe) in processes {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if let r = try? JSONDecoder().decode(CPGLoadResult.self, from: data) { results.append(r) } // a client that failed: no result
    }
    let cpu = c.daemonCPU - cpuBefore
    let busy = machineBusyNanoseconds() - busyBefore, clients = childrenCPUNanoseconds() - clientsBefore
    let others = Double(busy > cpu + clients ? busy - cpu - clients : 0) / Double(monotonic() - wallBefore)
    guard results.count == c.n else { return nil }
    let sent = results.reduce(0) { $0 + $1.sent }
    let anomalies = results.reduce(UInt64(0)) { $0 + $1.gaps + $1.duplicates + $1.lost + UInt64($1.sendersUnfinished) }
        + UInt64(results.filter { $0.membersAtStart < c.n }.count)
    return LoadResult(messagesPerSecond: results.map(\.messagesPerSecond).min()!, megabytesPerSecond: results.map(\.megabytesPerSecond).min()!,
                      p50Milliseconds: results.map(\.p50Milliseconds).max()!, p99Milliseconds: results.map(\.p99Milliseconds).max()!,
                      maxMilliseconds: results.map(\.maxMilliseconds).max()!, anomalies: anomalies,
                      ringChanges: results.map(\.ringChanges).max()!,
                      cpuMicrosecondsPerMessage: sent == 0 ? 0 : Double(cpu) / 1e3 / Double(sent),
                      loadAverage: loadAtStart, othersCores: others, p99ByReceiver: results.map(\.p99Milliseconds),
                      p99BySender: results.reduce(into: [:]) { all, r in all.merge(r.p99BySender ?? [:]) { max($0, $1) } })
}

// MARK: - Failures

/// The node holding the idle token, the ring idle for half a second: ours says so in totemd's status (`token_held`,
/// read with `cman_tool ring -v`); where no node says (corosync, and our builds before the counter) node 1, the
/// representative, which holds the idle token there.
@MainActor func idleTokenHolder(_ c: Cluster) -> Int {
    usleep(500_000)
    guard c.stack.isOurs else { return 1 }
    for _ in 0..<5 {  // the token may be between two members for a moment
        var reported = false
        for k in 1...c.n {
            let lines = c.output(k, [binDirectory + "/cman_tool", "ring", "-v"]).split(separator: "\n")
            if lines.contains("token_held: 1") { return k }
            reported = reported || lines.contains("token_held: 0")
        }
        guard reported else { return 1 }
        usleep(7_000)
    }
    return 1
}

/// Signals node `victim` and returns the milliseconds until every survivor's view lost it; then brings it back.
@MainActor func failure(_ c: Cluster, victim: Int, signal sig: Int32) -> Double? {
    let ms = failureOnce(c, victim: victim, signal: sig)
    log("  \(sig == SIGKILL ? "SIGKILL" : "SIGSTOP") of node \(victim): \(ms.map { String(format: "%.1f ms", $0) } ?? "no new view")")
    return ms
}

@MainActor func failureOnce(_ c: Cluster, victim: Int, signal sig: Int32) -> Double? {
    let all = Set(1...c.n)
    let survivors = all.subtracting([victim])
    let t0 = monotonic()
    if sig == SIGKILL {
        c.signal(victim, SIGKILL)
    } else {
        c.signal(victim, sig)
    }
    let seen = c.waitForView(survivors, on: survivors, after: t0, timeout: 30)
    if sig == SIGKILL {
        c.stop(victim)
    } else {
        c.signal(victim, SIGCONT)
    }
    // Back to the full view; a node that does not merge back within 20 s is restarted.
    if c.waitForView(all, on: all, after: monotonic(), timeout: 20) == nil && c.watchers[victim]?.current != all {
        c.stop(victim)
        try? c.start(victim) // a failure shows as the next wait timing out
        _ = c.waitForView(all, on: all, after: 0, timeout: 30)
    }
    return seen.map { Double($0 - t0) / 1e6 }
}

/// Splits nodes 4 and 5 onto a bridge of their own; returns (settle, heal) in milliseconds.
@MainActor func splitAndHeal(_ c: Cluster) -> (Double?, Double?) {
    let a: Set<Int> = [1, 2, 3], b: Set<Int> = [4, 5]
    let t0 = monotonic()
    for k in b { run(["ip", "-n", "\(prefix)-br", "link", "set", "p\(k)", "master", "br1"]) }
    let sa = c.waitForView(a, on: a, after: t0, timeout: 30)
    let sb = c.waitForView(b, on: b, after: t0, timeout: 30)
    let settle = (sa != nil && sb != nil) ? Double(max(sa!, sb!) - t0) / 1e6 : nil
    usleep(2_000_000)
    let t1 = monotonic()
    for k in b { run(["ip", "-n", "\(prefix)-br", "link", "set", "p\(k)", "master", "br0"]) }
    let healed = c.waitForView(Set(1...5), on: Set(1...5), after: t1, timeout: 30)
    let heal = healed.map { Double($0 - t1) / 1e6 }
    log("  3/2 split settled: \(settle.map { String(format: "%.1f ms", $0) } ?? "no views"); heal: \(heal.map { String(format: "%.1f ms", $0) } ?? "no view of 5")")
    return (settle, heal)
}

// MARK: - A configuration

struct StackReport: Codable {
    var stack: Stack
    var loads: [String: LoadResult] = [:]
    var light: LoadResult?
    var killMilliseconds: Double?
    /// SIGKILL of the node holding the idle token.
    var killHolderMilliseconds: Double?
    var stopMilliseconds: Double?
    var splitMilliseconds: Double?
    var healMilliseconds: Double?
    var startupMilliseconds: Double?
    var rssKiB: Int = 0
}

func key(_ size: Int, _ senders: Int) -> String { "\(size)x\(senders)" }

func median<T>(_ values: [T], by f: (T) -> Double) -> T? {
    let s = values.sorted { f($0) < f($1) }
    return s.isEmpty ? nil : s[s.count / 2]
}

@MainActor func measure(stack: Stack, crypto: Bool, nodes n: Int) -> StackReport? {
    log("\(stack.title), \(n) nodes, crypto \(crypto ? "on" : "off")")
    guard let c = try? Cluster(env, stack: stack, crypto: crypto, nodes: n) else { return nil }
    defer { c.stopAll() }
    let t0 = monotonic()
    for k in 1...n {
        do { try c.start(k) } catch { log("cannot start node \(k): \(error)"); return nil }
    }
    guard let formed = c.waitForView(Set(1...n), on: Set(1...n), after: 0, timeout: 60) else {
        log("\(stack.title): no full view within 60 s\n\((1...n).map { c.errors($0) }.joined(separator: "\n"))")
        return nil
    }
    var report = StackReport(stack: stack)
    report.startupMilliseconds = Double(formed - t0) / 1e6
    for size in loads ? sizes : [] {
        for senders in [1, n] {
            let rs = (0..<runs).compactMap { _ in load(c, size: size, senders: senders, rate: nil) }
            report.loads[key(size, senders)] = median(rs) { $0.messagesPerSecond }
            if let r = report.loads[key(size, senders)] {
                log("  \(size) B × \(senders): \(Int(r.messagesPerSecond)) msgs/s, p50 \(r.p50Milliseconds) ms, p99 \(r.p99Milliseconds) ms, anomalies \(r.anomalies), ring changes \(r.ringChanges), CPU \(Int(r.cpuMicrosecondsPerMessage)) µs/msg, load \(r.loadAverage), others \(String(format: "%.2f", r.othersCores)) cores, p99 by receiver \(milliseconds(r.p99ByReceiver ?? [])), by sender \(milliseconds((r.p99BySender ?? [:]).sorted { $0.key < $1.key }.map(\.value)))")
            }
        }
    }
    if loads {
        report.light = median((0..<runs).compactMap { _ in load(c, size: 64, senders: 1, rate: 100) }) { $0.p50Milliseconds }
    }
    report.rssKiB = (1...n).map { c.rssKiB($0) }.max() ?? 0
    if failures {
        report.killHolderMilliseconds = median((0..<runs).compactMap { _ in
            failure(c, victim: idleTokenHolder(c), signal: SIGKILL)
        }) { $0 }
        report.killMilliseconds = median((0..<runs).compactMap { _ in
            failure(c, victim: idleTokenHolder(c) == n ? n - 1 : n, signal: SIGKILL)
        }) { $0 }
        report.stopMilliseconds = median((0..<runs).compactMap { _ in failure(c, victim: n - 1, signal: SIGSTOP) }) { $0 }
        if n == 5 {
            let sh = (0..<runs).map { _ in splitAndHeal(c) }
            report.splitMilliseconds = median(sh.compactMap(\.0)) { $0 }
            report.healMilliseconds = median(sh.compactMap(\.1)) { $0 }
        }
    }
    return report
}

// MARK: - The table

func grouped(_ x: Double) -> String {
    let n = Int(x.rounded())
    let s = String(n)
    var out = ""
    for (i, ch) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return String(out.reversed())
}

func cell(_ r: LoadResult?, megabytes: Bool) -> String {
    guard let r else { return "—" }
    let rate = megabytes ? String(format: "%.1f", r.megabytesPerSecond) : grouped(r.messagesPerSecond)
    return "\(rate) (\(grouped(r.p50Milliseconds)) / \(grouped(r.p99Milliseconds)))\(r.anomalies > 0 ? " !\(r.anomalies)" : "")"
        + (r.ringChanges > 0 ? " ↻\(r.ringChanges)" : "")
}

func table(crypto: Bool, nodes n: Int, _ reports: [StackReport], sizes: [Int]) -> String {
    let corosync = reports.filter { !$0.stack.isOurs }
    // One ratio column per stack of ours (unicast, multicast), each against the best corosync of the row.
    let ours = reports.filter { $0.stack.isOurs }
    let ratioTitles = ours.map { "\($0.stack.title) ÷ best" }
    var lines: [String] = []
    lines.append("| \(n) nodes, CPG, MTU 1500, crypto \(crypto ? "on (aes256/sha256 vs AES-GCM)" : "off"), SCHED_OTHER | "
                 + (reports.map(\.stack.title) + ratioTitles).joined(separator: " | ") + " |")
    lines.append("|---|" + (reports.map { _ in "---|" } + ratioTitles.map { _ in "---|" }).joined())
    /// The ratios of `value` for each of ours against the best corosync (`lowerIsBetter`: the lowest is best).
    func ratios(_ value: (StackReport) -> Double?, lowerIsBetter: Bool, suffix: String = "") -> String {
        let values = corosync.compactMap(value)
        let best = lowerIsBetter ? values.min() : values.max()
        return ours.map { o in
            guard let b = best, let v = value(o) else { return "—" }
            return String(format: "%.2f", v / b) + suffix
        }.joined(separator: " | ")
    }
    for size in sizes {
        for senders in [1, n] {
            let mb = size >= 16_384
            let label = "\(size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"), \(senders == 1 ? "1 sender" : "\(senders) senders"), \(mb ? "MB/s" : "msgs/s") (p50 / p99 ms)"
            let ratio = ratios({ $0.loads[key(size, senders)]?.messagesPerSecond }, lowerIsBetter: false)
            lines.append("| \(label) | " + reports.map { cell($0.loads[key(size, senders)], megabytes: mb) }.joined(separator: " | ") + " | \(ratio) |")
        }
    }
    for size in sizes {
        for senders in [1, n] {
            let label = "daemon CPU per message, \(size >= 1024 ? "\(size / 1024) KiB" : "\(size) B") × \(senders) (µs, all nodes)"
            let ratio = ratios({ $0.loads[key(size, senders)]?.cpuMicrosecondsPerMessage }, lowerIsBetter: true)
            lines.append("| \(label) | " + reports.map { $0.loads[key(size, senders)].map { grouped($0.cpuMicrosecondsPerMessage) } ?? "—" }.joined(separator: " | ") + " | \(ratio) |")
        }
    }
    func row(_ label: String, _ value: (StackReport) -> Double?, _ format: (Double) -> String, lowerIsBetter: Bool = true) {
        lines.append("| \(label) | " + reports.map { value($0).map(format) ?? "—" }.joined(separator: " | ")
                     + " | \(ratios(value, lowerIsBetter: lowerIsBetter)) |")
    }
    let lightRatio = ratios({ $0.light?.p50Milliseconds }, lowerIsBetter: true, suffix: " (p50)")
    lines.append("| 100 msgs/s, 64 B: p50 / p99 µs | "
                 + reports.map { r in r.light.map { "\(grouped($0.p50Milliseconds * 1000)) / \(grouped($0.p99Milliseconds * 1000))" } ?? "—" }
                     .joined(separator: " | ") + " | \(lightRatio) |")
    row("SIGKILL of the idle token's holder → new view (ms)", { $0.killHolderMilliseconds }, grouped)
    row("SIGKILL of another node → new view (ms)", { $0.killMilliseconds }, grouped)
    row("SIGSTOP of a node → new view (ms)", { $0.stopMilliseconds }, grouped)
    if n == 5 {
        row("3/2 split → both sides settled (ms)", { $0.splitMilliseconds }, grouped)
        row("heal → one view of 5 (ms)", { $0.healMilliseconds }, grouped)
    }
    let loads = reports.map { r in r.loads.values.map(\.loadAverage) }
    let others = reports.map { r in r.loads.values.map(\.othersCores) }
    lines.append("| machine during the loads: 1-min load average (min–max) / cores used by other processes (mean) | "
                 + zip(loads, others).map { l, o in
                     l.isEmpty ? "—" : String(format: "%.1f–%.1f / %.2f", l.min()!, l.max()!, o.reduce(0, +) / Double(o.count))
                 }.joined(separator: " | ") + " |" + ours.map { _ in " |" }.joined())
    row("first full view after start (ms)", { $0.startupMilliseconds }, grouped)
    row("resident memory per node (MiB, daemons)", { Double($0.rssKiB) / 1024 }) { String(format: "%.1f", $0) }
    return lines.joined(separator: "\n")
}

// MARK: - Main

struct Configuration: Codable {
    var crypto: Bool
    var nodes: Int
    var reports: [StackReport]
}
var configurations: [Configuration] = []
for crypto in cryptoModes {
    for n in nodeCounts {
        let chosen = stacks.filter { !crypto || $0.hasCrypto } // corosync's udp and udpu have no crypto
        let reports = chosen.compactMap { measure(stack: $0, crypto: crypto, nodes: n) }
        configurations.append(Configuration(crypto: crypto, nodes: n, reports: reports))
        print(table(crypto: crypto, nodes: n, reports, sizes: sizes))
        print("")
        fflush(nil)
    }
}
var uts = utsname()
uname(&uts)
let machine = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
print("\(ProcessInfo.processInfo.activeProcessorCount) CPUs, kernel \(machine); \(seconds) s per load (the first \(min(1, seconds / 4)) s not counted), median of \(runs) run(s); msgs/s and MB/s at the slowest receiver, latencies the worst receiver's; \"!N\": N sequence anomalies (gaps, duplicates, losses); CPU: the daemons' user+system time on every node per multicast message.")
if let jsonPath {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    try enc.encode(configurations).write(to: URL(fileURLWithPath: jsonPath))
}
