// SPDX-License-Identifier: Apache-2.0
// totembench: figures for totemd on a local cluster (a benchmark, not a test).
//
//   totembench [--nodes 3,5] [--sizes 64,1024,16384] [--seconds 3] [--token 1000] [--rings 1] [--rrp-mode active] [--json]
//
// For each cluster size it starts that many totemd processes on 127.0.0.1..N (with the binaries next to this one),
// and prints: time from start to the first full ring; messages/s and MB/s delivered at node 1 with one sender and
// with every node sending, with p50/p99 delivery latency under that load; p50/p99 at light load (100 msgs/s); time
// from SIGKILL of one node to a new ring on the survivors (the ICMP fast path) and from SIGSTOP (token timeout);
// and each totemd's resident memory.
import BenchSupport
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
var rings = 1
var rrpMode = "active"
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--nodes": nodeCounts = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    case "--sizes": sizes = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    case "--seconds": seconds = Double(args.removeFirst()) ?? seconds
    case "--token": token = Int(args.removeFirst()) ?? token
    case "--rings": rings = Int(args.removeFirst()) ?? rings
    case "--rrp-mode": rrpMode = args.removeFirst()
    case "--json": json = true
    default:
        FileHandle.standardError.write(Data("usage: totembench [--nodes 3,5] [--sizes 64,1024,16384] [--seconds S] [--token MS] [--rings N] [--rrp-mode active|passive] [--json]\n".utf8))
        exit(64)
    }
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
    let cluster = try BenchCluster(n: n, token: token, rings: rings, rrpMode: rrpMode)
    defer { cluster.stop() }
    let t0 = now()
    for k in 1...n { try cluster.start(k) }
    guard let formed = cluster.waitForRing(Array(1...n)) else {
        FileHandle.standardError.write(Data("totembench: no ring of \(n) nodes formed\n".utf8))
        cluster.stop() // exit skips the defer
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
        cluster.stop() // exit skips the defer
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
    try printJSON(reports)
    exit(0)
}
print(benchHeader("totembench", token: token, seconds: seconds) + (rings > 1 ? ", \(rings) rings (\(rrpMode))" : ""))
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

