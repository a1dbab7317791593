// SPDX-License-Identifier: Apache-2.0
// ipcbench: IPC round trips per second and latency percentiles over libqb, server and client in one process on
// two threads. A benchmark, not a test: it prints figures.
//
//   ipcbench [--count N] [--sizes 16,256,1024] [--unpinned] [--json]
import ClusterIPC
import ClusterIPCProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

final class Echo: IPCServiceHandler {
    func received(messageID: Int32, body: [UInt8], from connection: IPCConnection) {
        connection.respond(messageID: messageID, status: .ok, body: body)
    }
    func disconnected(_ connection: IPCConnection) {}
}

/// Re-executes this program under `taskset -c 0`, so server and client threads share one CPU (cross-CPU wake-ups
/// on this VM cost ~60 µs and would dominate the figures).
func reexecPinned() {
    guard ProcessInfo.processInfo.environment["IPCBENCH_PINNED"] == nil else { return }
    setenv("IPCBENCH_PINNED", "1", 1)
    let argv = ["taskset", "-c", "0"] + CommandLine.arguments
    var cargs = argv.map { strdup($0) } + [nil]
    execvp("taskset", &cargs)
    FileHandle.standardError.write(Data("ipcbench: cannot run taskset; running unpinned\n".utf8))
}

var count = 20_000
var sizes = [16, 256, 1024]
var pinned = true
var json = false
var args = Array(CommandLine.arguments.dropFirst())
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--count": count = Int(args.removeFirst()) ?? count
    case "--sizes": sizes = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    case "--unpinned": pinned = false
    case "--json": json = true
    default:
        FileHandle.standardError.write(Data("usage: ipcbench [--count N] [--sizes 16,256] [--unpinned] [--json]\n".utf8))
        exit(64)
    }
}

if pinned { reexecPinned() }
let name = "ipcbench-\(getpid())"
let ready = DispatchSemaphore(value: 0)
let thread = Thread {
    let loop = EventLoop()
    let echo = Echo()
    let server = IPCServer(name: name, loop: loop, handler: echo)
    do { try server.start() } catch {
        FileHandle.standardError.write(Data("ipcbench: \(error)\n".utf8))
        Glibc.exit(1)
    }
    ready.signal()
    loop.run()
}
thread.start()
ready.wait()

struct Result: Encodable {
    let payloadBytes: Int
    let roundTripsPerSecond: Double
    let p50Microseconds: Double
    let p99Microseconds: Double
}

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

var results: [Result] = []
do {
    let client = try IPCClient(service: name)
    for size in sizes {
        let payload = [UInt8](repeating: 0xAB, count: size)
        for _ in 0..<min(1000, count) { _ = try client.call(messageID: 1, body: payload) }
        var latencies = [UInt64]()
        latencies.reserveCapacity(count)
        let start = now()
        for _ in 0..<count {
            let t0 = now()
            _ = try client.call(messageID: 1, body: payload)
            latencies.append(now() - t0)
        }
        let total = Double(now() - start) / 1e9
        latencies.sort()
        results.append(Result(payloadBytes: size, roundTripsPerSecond: Double(count) / total,
                              p50Microseconds: Double(latencies[count / 2]) / 1000,
                              p99Microseconds: Double(latencies[count * 99 / 100]) / 1000))
    }
} catch {
    FileHandle.standardError.write(Data("ipcbench: \(error)\n".utf8))
    exit(1)
}

if json {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try enc.encode(results), as: UTF8.self))
} else {
    print("libqb IPC request/response, \(count) round trips per size, \(pinned ? "client and server pinned to CPU 0" : "unpinned")")
    print("bytes".leftPadded(8) + "round-trips/s".leftPadded(16) + "p50 µs".leftPadded(10) + "p99 µs".leftPadded(10))
    for r in results {
        print(String(r.payloadBytes).leftPadded(8) + String(format: "%.0f", r.roundTripsPerSecond).leftPadded(16)
              + String(format: "%.1f", r.p50Microseconds).leftPadded(10) + String(format: "%.1f", r.p99Microseconds).leftPadded(10))
    }
}
exit(0)

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
