// SPDX-License-Identifier: Apache-2.0
// cpgbench: CPG throughput and latency through groupd, next to raw totemd figures on the same ring (a benchmark,
// not a test).
//
//   cpgbench [--nodes 3] [--sizes 64,1024,16384] [--senders 1,all] [--via totem,groups] [--seconds 3] [--token 1000] [--json]
//
// For each cluster size it starts totemd and groupd on 127.0.0.1..N (binaries next to this one). For each payload
// size and sender count it measures, at a receiver on node 1, messages/s, MB/s and p50/p99 latency first over
// totemd's raw channel and then over a CPG group (every sender joins "bench"), so the CPG layer's cost is visible.
// Light-load latency (100 msgs/s) and groupd's resident memory close the report.
import BenchSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

var nodeCounts = [3]
var sizes = [64, 1024, 16_384]
var senderCounts: [Int?] = [1, nil] // nil: every node
var paths: [BenchPath] = [.totem, .groups]
var seconds = 3.0
var token = 1000
var json = false
var args = Array(CommandLine.arguments.dropFirst())
func usage() -> Never {
    FileHandle.standardError.write(Data("usage: cpgbench [--nodes 3,5] [--sizes 64,1024,16384] [--senders 1,all] [--via totem,groups] [--seconds S] [--token MS] [--json]\n".utf8))
    exit(64)
}
while !args.isEmpty {
    let a = args.removeFirst()
    guard a == "--json" || !args.isEmpty else { usage() }
    switch a {
    case "--nodes": nodeCounts = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    case "--sizes": sizes = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    case "--senders": senderCounts = args.removeFirst().split(separator: ",").map { $0 == "all" ? nil : Int($0) }
    case "--via": paths = args.removeFirst().split(separator: ",").compactMap { BenchPath(rawValue: String($0)) }
    case "--seconds": seconds = Double(args.removeFirst()) ?? seconds
    case "--token": token = Int(args.removeFirst()) ?? token
    case "--json": json = true
    default: usage()
    }
}
if nodeCounts.isEmpty || sizes.isEmpty || senderCounts.isEmpty || paths.isEmpty { usage() }

struct Report: Encodable {
    var nodes: Int
    var loads: [Load]
    var lightLoad: [Load]
    var groupdRSSKiB: [Int]
}

var reports: [Report] = []
for n in nodeCounts {
    let cluster = try BenchCluster(n: n, token: token, groups: true)
    defer { cluster.stop() }
    for k in 1...n { try cluster.start(k) }
    guard cluster.waitForRing(Array(1...n)) != nil, cluster.waitForGroups(Array(1...n)) else {
        FileHandle.standardError.write(Data("cpgbench: the \(n)-node cluster did not come up\n\(cluster.errors())\n".utf8))
        cluster.stop() // exit skips the defer
        exit(1)
    }
    var loads: [Load] = []
    var light: [Load] = []
    do {
        for size in sizes {
            for count in senderCounts {
                let senders = Array(1...min(n, count ?? n))
                for path in paths {
                    loads.append(try measure(cluster, via: path, size: size, senders: senders, rate: nil, duration: seconds))
                }
            }
        }
        for path in paths {
            light.append(try measure(cluster, via: path, size: 64, senders: [min(2, n)], rate: 100, duration: seconds))
        }
    } catch {
        FileHandle.standardError.write(Data("cpgbench: \(error)\n\(cluster.errors())\n".utf8))
        cluster.stop() // exit skips the defer
        exit(1)
    }
    reports.append(Report(nodes: n, loads: loads, lightLoad: light, groupdRSSKiB: (1...n).map { cluster.rssKiB($0, groupd: true) }))
}

if json {
    try printJSON(reports)
    exit(0)
}
print(benchHeader("cpgbench", token: token, seconds: seconds))
for r in reports {
    print("")
    print("== \(r.nodes) nodes: RSS per groupd \(r.groupdRSSKiB.map { "\($0 / 1024) MiB" }.joined(separator: ", "))")
    print("  bytes  senders  path       msgs/s      MB/s   p50 ms   p99 ms")
    for l in r.loads {
        print(String(l.payloadBytes).leftPad(7) + String(l.senders).leftPad(9) + "  " + l.path.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
              + f(l.messagesPerSecond, 0).leftPad(13) + f(l.megabytesPerSecond).leftPad(10) + f(l.p50Milliseconds, 2).leftPad(9)
              + f(l.p99Milliseconds, 2).leftPad(9))
    }
    for l in r.lightLoad {
        print("  light load (100 msgs/s, 64 B) via \(l.path.rawValue): p50 \(f(l.p50Milliseconds, 3)) ms, p99 \(f(l.p99Milliseconds, 3)) ms")
    }
}
