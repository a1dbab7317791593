// SPDX-License-Identifier: Apache-2.0
// cpgload: one CPG client with two back ends (our groupd through GroupClient, corosync through libcpg), the load and
// the probe of tools/cpg-compare. One process per node, run inside that node's network namespace.
//
//   cpgload load --backend ours|corosync --group G --members N --size BYTES [--send] [--rate R] --start NS
//                --seconds S --senders K [--warmup S]
//       joins G, waits for N members, and from the monotonic instant NS multicasts (if --send) as fast as the stack
//       accepts (or R per second) for S seconds, then an end marker with its count. Every process counts what it
//       receives: messages and bytes in the measured window, one-way latency (the payload carries the send instant;
//       all nodes share the machine's clock), and per sender gaps, duplicates and the total against the sender's
//       count. Prints one JSON line when every sender's end marker has arrived (or 20 s after the end).
//   cpgload watch --backend ours|corosync --group G
//       joins G and prints a JSON line for every view change, with the monotonic instant it arrived.
//
// The corosync back end exists only where libcpg-dev was installed when the package was built.
import BenchSupport
import ClusterSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

func monotonic() -> UInt64 { now() }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("cpgload: \(message)\n".utf8))
    exit(1)
}

// MARK: - Arguments

var args = Array(CommandLine.arguments.dropFirst())
guard let mode = args.first, mode == "load" || mode == "watch" else {
    fail("usage: cpgload load|watch --backend ours|corosync --group G [...] (see the source's header)")
}
args.removeFirst()
var options: [String: String] = [:]
var flags: Set<String> = []
while let a = args.first {
    args.removeFirst()
    guard a.hasPrefix("--") else { fail("unexpected argument \(a)") }
    if a == "--send" { flags.insert("send"); continue }
    guard let v = args.first else { fail("\(a) needs a value") }
    args.removeFirst()
    options[String(a.dropFirst(2))] = v
}
@MainActor func option(_ name: String) -> String? { options[name] }
@MainActor func number(_ name: String, _ fallback: Double) -> Double { option(name).flatMap(Double.init) ?? fallback }

let backendName = option("backend") ?? "ours"
let group = option("group") ?? "cpgbench"

// MARK: - Connecting (the stack may still be starting)

@MainActor func connect() -> any CPGBackend {
    let deadline = monotonic() + 60_000_000_000
    var last = ""
    while monotonic() < deadline {
        do {
            let b: any CPGBackend
            switch backendName {
            case "ours":
                b = try GroupClientBackend(instance: try NodeInstance.resolve())
            case "corosync":
                #if canImport(CCPG)
                b = try LibCPGBackend()
                #else
                fail("built without libcpg-dev: no corosync back end")
                #endif
            default:
                fail("unknown back end \(backendName)")
            }
            if let why = b.join(group) {
                last = why
                b.close()
            } else {
                return b
            }
        } catch {
            last = "\(error)"
        }
        usleep(50_000)
    }
    fail("could not join \(group) through \(backendName): \(last)")
}

let backend = connect()

/// Waits for readiness of the connection up to `milliseconds`, then handles what waits.
@MainActor func pump(_ milliseconds: Int32) -> Bool {
    if milliseconds != 0 {
        var p = pollfd(fd: backend.fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, milliseconds)
    }
    return backend.dispatch()
}

// MARK: - watch

if mode == "watch" {
    backend.onViewChange = { v in
        let t = monotonic()
        let line = "{\"t\":\(t),\"members\":\(Set(v.members.map(\.node)).sorted()),\"left\":\(v.left.map { [$0.0.node, $0.1] }),\"joined\":\(v.joined.map { [$0.0.node, $0.1] })}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
    while pump(1000) {}
    exit(0)
}

// MARK: - load

let size = max(Int(number("size", 64)), 24)
let expectedMembers = Int(number("members", 1))
let senders = Int(number("senders", 1))
let sending = flags.contains("send")
let rate = option("rate").flatMap(Double.init)
let seconds = number("seconds", 5)
let warmup = number("warmup", min(1, seconds / 4))
let start = option("start").flatMap(UInt64.init) ?? (monotonic() + 2_000_000_000)
let end = start + UInt64(seconds * 1e9)
let windowStart = start + UInt64(warmup * 1e9)
let magic: UInt32 = 0x4350_4742

struct SenderState {
    var next: UInt64 = 0
    var received: UInt64 = 0
    var gaps: UInt64 = 0
    var duplicates: UInt64 = 0
    var announced: UInt64?
}

var members: Set<Member> = []
var bySender: [Member: SenderState] = [:]
var windowCount = 0
var windowBytes = 0
/// One-way latencies of the messages received in the window, by sender node.
var latenciesBySender: [UInt32: [UInt64]] = [:]

/// Members that left because their node went (reason 3) or came back (4) after the start: the ring re-formed.
var ringChanges = 0
backend.onViewChange = { v in
    members = Set(v.members)
    if monotonic() >= start { ringChanges += (v.left + v.joined).filter { $0.1 == 3 || $0.1 == 4 }.count }
}
backend.onDeliver = { sender, payload in
    let t = monotonic()
    guard payload.count >= 24, payload.loadUnaligned(fromByteOffset: 0, as: UInt32.self) == magic else { return }
    let flag = payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
    let seq = payload.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
    let sentAt = payload.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
    var s = bySender[sender] ?? SenderState()
    if flag == 1 {
        s.announced = seq
    } else {
        if seq == s.next {
            s.next += 1
        } else if seq > s.next {
            s.gaps += seq - s.next
            s.next = seq + 1
        } else {
            s.duplicates += 1
        }
        s.received += 1
        if t >= windowStart && t < end {
            windowCount += 1
            windowBytes += payload.count
            let l = t &- sentAt
            latenciesBySender[sender.node, default: []].append(l)
        }
    }
    bySender[sender] = s
}

// Everyone in the group before anyone sends, so every receiver sees each sender's first message.
while members.count < expectedMembers && monotonic() < start {
    if !pump(10) { fail("the connection closed while waiting for \(expectedMembers) members") }
}
let membersAtStart = members.count
while monotonic() < start {
    if !pump(Int32(max(1, min(10, Int((start - monotonic()) / 1_000_000))))) { fail("the connection closed before the start") }
}

var payload = [UInt8](repeating: 0x5A, count: size)
var sent: UInt64 = 0
var tryAgains: UInt64 = 0
var sendFailure: String?
var endSent = !sending
let hardDeadline = end + 20_000_000_000

@MainActor func send(flag: UInt32, seq: UInt64) -> SendResult {
    payload.withUnsafeMutableBytes { p in
        p.storeBytes(of: magic, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: flag, toByteOffset: 4, as: UInt32.self)
        p.storeBytes(of: seq, toByteOffset: 8, as: UInt64.self)
        p.storeBytes(of: monotonic(), toByteOffset: 16, as: UInt64.self)
    }
    return payload.withUnsafeBytes { backend.multicast($0) }
}

@MainActor func everySenderDone() -> Bool {
    bySender.values.filter { $0.announced != nil }.count >= senders
}

while true {
    let now = monotonic()
    var blocked = false
    if sending && now < end {
        let due = rate.map { UInt64(Double(now - start) / 1e9 * $0) + 1 } ?? UInt64.max
        var burst = 0
        while sent < due && burst < 256 {
            switch send(flag: 0, seq: sent) {
            case .sent: sent += 1
            case .tryAgain:
                tryAgains += 1
                blocked = true
            case .failed(let why):
                sendFailure = why
                blocked = true
            }
            if blocked { break }
            burst += 1
        }
    } else if !endSent {
        switch send(flag: 1, seq: sent) {
        case .sent: endSent = true
        case .tryAgain: blocked = true
        case .failed(let why):
            sendFailure = why
            endSent = true
        }
    }
    if now >= end && endSent && everySenderDone() { break }
    if now >= hardDeadline { break }
    let wait: Int32 = blocked ? 1 : (sending && now < end ? (rate == nil ? 0 : 1) : 20)
    if !pump(wait) { fail("the connection closed during the run") }
}

/// The `q` quantile of sorted nanoseconds, in milliseconds (0 for none).
func percentile(_ q: Double, of sorted: [UInt64]) -> Double {
    sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) / 1e6
}
let latencies = latenciesBySender.values.joined().sorted()
let p99BySender = latenciesBySender.mapValues { percentile(0.99, of: $0.sorted()) }
let window = Double(end - windowStart) / 1e9
var lost: UInt64 = 0
var gaps: UInt64 = 0
var duplicates: UInt64 = 0
var unannounced = 0
for s in bySender.values {
    gaps += s.gaps
    duplicates += s.duplicates
    if let a = s.announced { lost += a > s.received ? a - s.received : 0 } else { unannounced += 1 }
}
let result = CPGLoadResult(backend: backendName, membersAtStart: membersAtStart, sent: sent, tryAgains: tryAgains, received: windowCount,
                    messagesPerSecond: Double(windowCount) / window, megabytesPerSecond: Double(windowBytes) / window / 1e6,
                    p50Milliseconds: percentile(0.5, of: latencies), p99Milliseconds: percentile(0.99, of: latencies),
                    maxMilliseconds: Double(latencies.last ?? 0) / 1e6,
                    gaps: gaps, duplicates: duplicates, lost: lost, sendersHeard: bySender.count, sendersUnfinished: unannounced,
                    ringChanges: ringChanges, sendFailure: sendFailure,
                    p99BySender: p99BySender)
let encoder = JSONEncoder()
encoder.outputFormatting = [.sortedKeys]
FileHandle.standardOutput.write((try? encoder.encode(result)) ?? Data()) // the Result always encodes
FileHandle.standardOutput.write(Data("\n".utf8))
backend.close()
exit(0)
