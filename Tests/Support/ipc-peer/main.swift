// SPDX-License-Identifier: Apache-2.0
// Test support: a small libqb IPC server and client used by the multi-process IPC tests, the sd_notify test and
// ipcbench. Not installed.
//
//   ipc-peer server NAME [--admin] [--stall-ms MS] [--flow-control-ms MS] [--stall-first-oneway-ms MS]
//                                                serve until SIGTERM; prints "ready" once listening; with
//                                                --flow-control-ms, flow control is on for the first MS ms; with
//                                                --stall-first-oneway-ms, it reads nothing for MS ms at the first
//                                                one-way message
//   ipc-peer client NAME echo SIZE COUNT         COUNT echo round trips of SIZE bytes, checked
//   ipc-peer client NAME delayed MS              a request the server answers after MS milliseconds
//   ipc-peer client NAME events COUNT            ask for COUNT events and check they arrive in order
//   ipc-peer client NAME ignore COUNT            ask for COUNT events and never read them
//   ipc-peer client NAME stats                   print "connections=N disconnects=M"
//   ipc-peer client NAME big SIZE                send SIZE bytes (to provoke "message too large")
//   ipc-peer client NAME ahead COUNT SIZE        COUNT numbered one-way messages of SIZE bytes under GroupClient's
//                                                send-ahead bound, then when the first was refused and the stats
//   ipc-peer client NAME oneway COUNT [PAUSE_MS]  COUNT one-way messages (PAUSE_MS after connecting), then a stats
//                                                call; prints how many sends were refused with "try again"
//   ipc-peer client NAME race ROUNDS             events read by a dispatch source on eventFD (as EventPump does)
//                                                while this thread makes calls on the same connection: each of
//                                                ROUNDS asks for a burst of events and makes checked echo calls;
//                                                prints "ok EVENTS events, CALLS calls" if every reply and event is
//                                                intact and in order
//   options: --as-uid UID (drop privileges first)
import ClusterDaemonSupport
import ClusterIPC
import ClusterIPCProtocol
import ClusterWire
import Foundation

enum Op: Int32 {
    case echo = 1, delayed = 2, events = 3, stats = 4, oneway = 5, crash = 6
}

/// Padding of event `i` in a mixed burst: mostly small events of varying size; every 500th one exactly fills a batch
/// on its own (header and body `IPCLimits.eventBatchBytesMax` bytes); every 500th, 250 later, is larger than a batch
/// may be, so it goes alone between two batches.
func mixedEventPad(_ i: UInt32) -> Int {
    switch i % 500 {
    case 499: IPCLimits.eventBatchBytesMax + 1000
    case 249: IPCLimits.eventBatchBytesMax - IPCConnection.responseHeaderBytes - 4
    default: 40 + Int(i % 7) * 13
    }
}

/// An event of a mixed burst, sent through the typed `sendEvent`.
struct PeerEvent: IPCMessage {
    var seq: UInt32
    var pad: Int
    init(seq: UInt32, pad: Int) {
        self.seq = seq
        self.pad = pad
    }
    var messageID: Int32 { 100 }
    func encodeBody(into w: inout ByteWriter) {
        w.write(seq)
        w.writeRaw(repeatElement(UInt8(truncatingIfNeeded: seq), count: pad))
    }
    init(messageID id: Int32, body: inout ByteReader) throws(WireError) {
        seq = try body.readUInt32()
        pad = body.remaining
    }
}

final class PeerService: IPCServiceHandler {
    let loop: EventLoop
    var disconnects = 0
    var oneways = 0
    /// One-way messages whose sequence number (the first 4 bytes, when 4 or more) was not the next expected.
    var misordered = 0
    /// With `--stall-first-oneway-ms`, the server stops reading for that long at the first one-way message.
    var stallAtFirstOneway: UInt32 = 0
    weak var server: IPCServer?

    init(loop: EventLoop) { self.loop = loop }

    func received(messageID: Int32, body: [UInt8], from c: IPCConnection) {
        switch Op(rawValue: messageID) {
        case .echo:
            c.respond(messageID: messageID, status: .ok, body: body)
        case .delayed:
            var r = ByteReader(body)
            let ms = (try? r.readUInt32()) ?? 0 // malformed input: answer at once
            loop.schedule(after: .milliseconds(Int64(ms))) { c.respond(messageID: messageID, status: .ok, body: body) }
        case .events:
            var r = ByteReader(body)
            let count = (try? r.readUInt32()) ?? 0 // malformed input: no events
            let mixed = (try? r.readUInt32()) == 1
            c.respond(messageID: messageID, status: .ok)
            for i in 0..<count {
                let pad = mixed ? mixedEventPad(i) : 64
                if mixed && i % 2 == 1 {
                    c.sendEvent(PeerEvent(seq: i, pad: pad)) // the typed path, encoded in place
                } else {
                    var w = ByteWriter()
                    w.write(i)
                    w.writeRaw([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: pad))
                    c.sendEvent(messageID: 100, body: w.bytes)
                }
            }
        case .stats:
            var w = ByteWriter()
            w.write(UInt32(server?.openConnections.count ?? 0))
            w.write(UInt32(disconnects))
            w.write(UInt32(oneways))
            w.write(c.uid)
            w.write(UInt32(bitPattern: c.pid))
            w.write(UInt32(misordered))
            c.respond(messageID: messageID, status: .ok, body: w.bytes)
        case .oneway:
            if oneways == 0 && stallAtFirstOneway > 0 { usleep(stallAtFirstOneway * 1_000) }
            if body.count >= 4 {
                var r = ByteReader(body)
                if (try? r.readUInt32()) != UInt32(truncatingIfNeeded: oneways) { misordered += 1 }
            }
            oneways += 1
        case .crash, nil:
            c.respond(messageID: messageID, status: .invalidRequest)
        }
    }

    func disconnected(_ connection: IPCConnection) { disconnects += 1 }
}

/// The event side of `client NAME race`: drains the connection on a dispatch queue, checking every event.
final class RaceReader: @unchecked Sendable {  // `received` and `next` are touched on the source's queue only
    let client: IPCClient
    let burst: UInt32
    let expected: Int
    let allArrived = DispatchSemaphore(value: 0)
    private var received = 0
    private var next: UInt32 = 0

    init(client: IPCClient, burst: UInt32, expected: Int) {
        self.client = client
        self.burst = burst
        self.expected = expected
    }

    func drain() {
        do {
            while let e = try client.receiveEvent(timeoutMilliseconds: 0) {
                var r = ByteReader(e.body)
                let seq = try r.readUInt32()
                let fill = e.body.dropFirst(4)
                guard e.messageID == 100, seq == next, fill.count == 64, fill.allSatisfy({ $0 == UInt8(truncatingIfNeeded: seq) }) else {
                    fail("event \(received): id \(e.messageID) seq \(seq) (expected \(next)), \(e.body.count) bytes")
                }
                next = next + 1 == burst ? 0 : next + 1
                received += 1
                if received == expected { allArrived.signal() }
            }
        } catch {
            fail("reading events: \(error)")
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ipc-peer: \(message)\n".utf8))
    exit(1)
}

var args = Array(CommandLine.arguments.dropFirst())
if let i = args.firstIndex(of: "--as-uid"), i + 1 < args.count, let uid = UInt32(args[i + 1]) {
    args.removeSubrange(i...(i + 1))
    guard setgid(uid) == 0, setuid(uid) == 0 else { fail("cannot switch to uid \(uid)") }
}
guard args.count >= 2 else { fail("usage: ipc-peer server|client NAME ...") }
let name = args[1]

switch args[0] {
case "server":
    EventLoop.unblockAllSignals()
    let loop = EventLoop()
    let service = PeerService(loop: loop)
    let server = IPCServer(name: name, rootOnly: args.contains("--admin"), loop: loop, handler: service)
    server.log = { FileHandle.standardError.write(Data("ipc-peer: \($0)\n".utf8)) }
    if let i = args.firstIndex(of: "--stall-ms"), i + 1 < args.count, let ms = Int64(args[i + 1]) {
        server.eventStallLimit = .milliseconds(ms)
    }
    service.server = server
    if let i = args.firstIndex(of: "--stall-first-oneway-ms"), i + 1 < args.count, let ms = UInt32(args[i + 1]) {
        service.stallAtFirstOneway = ms
    }
    do { try server.start() } catch { fail("\(error)") }
    if let i = args.firstIndex(of: "--flow-control-ms"), i + 1 < args.count, let ms = Int64(args[i + 1]) {
        server.setFlowControl(blocked: true)
        loop.schedule(after: .milliseconds(ms)) { server.setFlowControl(blocked: false) }
    }
    let notifier = SystemdNotifier()
    if let interval = notifier.watchdogInterval {
        func ping() {
            notifier.watchdog()
            loop.schedule(after: interval, ping)
        }
        ping()
    }
    loop.onSignal(SIGTERM) {
        notifier.stopping()
        loop.stop()
    }
    notifier.ready(status: "serving \(name)")
    print("ready")
    fflush(nil)
    loop.run()
    server.stop()
    exit(0)

case "client":
    guard args.count >= 3 else { fail("client needs an operation") }
    let client: IPCClient
    do { client = try IPCClient(service: name, sendAhead: args[2] == "ahead" ? .groupClient : nil) } catch {
        print("error: \(error)")
        exit(2)
    }
    func call(_ op: Op, _ body: [UInt8]) -> IPCReply {
        do { return try client.call(messageID: op.rawValue, body: body) } catch {
            print("error: \(error)")
            exit(3)
        }
    }
    switch args[2] {
    case "echo":
        let size = Int(args[3]) ?? 16, count = Int(args[4]) ?? 1
        for i in 0..<count {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ i) }
            let reply = call(.echo, payload)
            guard reply.status == .ok, reply.body == payload else { fail("echo \(i) came back wrong") }
        }
        print("ok")
    case "delayed":
        var w = ByteWriter()
        w.write(UInt32(args[3]) ?? 0)
        _ = call(.delayed, w.bytes)
        print("ok")
    case "events", "mixed-events":
        let count = UInt32(args[3]) ?? 0
        let mixed = args[2] == "mixed-events"
        var w = ByteWriter()
        w.write(count)
        if mixed { w.write(UInt32(1)) }
        _ = call(.events, w.bytes)
        var next: UInt32 = 0
        // Events read from a batch rather than from libqb one by one (the server batches a burst).
        var fromBatches = 0
        while next < count {
            do {
                if client.hasBufferedEvents { fromBatches += 1 }
                guard let e = try client.receiveEvent(timeoutMilliseconds: 10_000) else { fail("event \(next) did not arrive") }
                var r = ByteReader(e.body)
                let seq = try r.readUInt32()
                guard seq == next, e.messageID == 100 else { fail("event \(seq) arrived, expected \(next)") }
                let pad = mixed ? mixedEventPad(seq) : 64
                guard e.body.count == 4 + pad, e.body.dropFirst(4).allSatisfy({ $0 == UInt8(truncatingIfNeeded: seq) }) else {
                    fail("event \(seq) arrived with \(e.body.count) bytes or wrong contents (expected \(4 + pad))")
                }
                next += 1
            } catch {
                fail("\(error)")
            }
        }
        print("ok \(count) from batches \(fromBatches)")
    case "ignore":
        // Ask for events and never read them; the server must disconnect us rather than queue without bound.
        var w = ByteWriter()
        w.write(UInt32(args[3]) ?? 0)
        _ = call(.events, w.bytes)
        usleep(1_500_000)
        _ = call(.stats, [])
        print("still connected")
    case "stats":
        let reply = call(.stats, [])
        var r = ByteReader(reply.body)
        do {
            print("connections=\(try r.readUInt32()) disconnects=\(try r.readUInt32()) oneways=\(try r.readUInt32()) uid=\(try r.readUInt32()) pid=\(Int32(bitPattern: try r.readUInt32()))")
        } catch { fail("bad stats reply") }
    case "big":
        do {
            _ = try client.call(messageID: Op.echo.rawValue, body: [UInt8](repeating: 7, count: Int(args[3]) ?? 0))
            print("ok")
        } catch {
            print("error: \(error)")
            exit(4)
        }
    case "oneway":
        let count = Int(args[3]) ?? 1
        // Optionally wait after connecting, so the server has surely seen the connection before the first send.
        if args.count > 4, let pause = UInt32(args[4]) { usleep(pause * 1_000) }
        var sent = 0
        var refused = 0
        while sent < count {
            do {
                try client.send(messageID: Op.oneway.rawValue, body: [1, 2, 3])
                sent += 1
            } catch IPCError.tryAgain {
                refused += 1
                usleep(100)
            } catch {
                fail("\(error)")
            }
        }
        let reply = call(.stats, [])
        var r = ByteReader(reply.body)
        _ = try? r.readUInt32(); _ = try? r.readUInt32() // connections, disconnects: not needed here
        print("oneways=\((try? r.readUInt32()) ?? 0) refused=\(refused)")
    case "ahead":
        // COUNT one-way messages of SIZE bytes, numbered, with GroupClient's send-ahead bound; on "try again" a wait
        // for events of at most 1 ms, as cpgload does. Prints when the first refusal came and the server's counts.
        let count = Int(args[3]) ?? 1, size = max(Int(args[4]) ?? 4, 4)
        var sent = 0, refused = 0
        var firstRefusal = -1
        while sent < count {
            var w = ByteWriter()
            w.write(UInt32(truncatingIfNeeded: sent))
            w.writeRaw([UInt8](repeating: 9, count: size - 4))
            do {
                try client.send(messageID: Op.oneway.rawValue, body: w.bytes)
                sent += 1
            } catch IPCError.tryAgain {
                if firstRefusal < 0 { firstRefusal = sent }
                refused += 1
                var p = pollfd(fd: client.eventFD ?? -1, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, 1)
            } catch {
                fail("\(error)")
            }
        }
        let reply = call(.stats, [])
        var r = ByteReader(reply.body)
        _ = try? r.readUInt32(); _ = try? r.readUInt32() // connections, disconnects: not needed here
        let oneways = (try? r.readUInt32()) ?? 0
        _ = try? r.readUInt32(); _ = try? r.readUInt32() // uid, pid
        let misordered = (try? r.readUInt32()) ?? 0
        print("oneways=\(oneways) misordered=\(misordered) firstRefusal=\(firstRefusal) refused=\(refused) heldBack=\(client.sendsHeldBack)")
    case "race":
        // One connection, two threads: the way a control daemon uses its CmanClient (events read on a dispatch
        // queue, calls made by its loop).
        let rounds = Int(args[3]) ?? 100
        let burst: UInt32 = 40
        guard let fd = client.eventFD else { fail("no event descriptor") }
        let reader = RaceReader(client: client, burst: burst, expected: rounds * Int(burst))
        let queue = DispatchQueue(label: "ipc-peer.events")
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        source.setEventHandler { @Sendable [reader] in reader.drain() }
        source.resume()
        var calls = 0
        for round in 0..<rounds {
            var w = ByteWriter()
            w.write(burst)
            let reply = call(.events, w.bytes)
            guard reply.status == .ok, reply.messageID == Op.events.rawValue, reply.body.isEmpty else {
                fail("round \(round): the events request got \(reply.messageID) \(reply.status) with \(reply.body.count) bytes")
            }
            calls += 1
            for i in 0..<4 {
                let payload = (0..<(200 + 97 * i)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ round &+ i) }
                let echo = call(.echo, payload)
                guard echo.status == .ok, echo.messageID == Op.echo.rawValue, echo.body == payload else {
                    fail("round \(round): echo \(i) came back wrong (\(echo.messageID), \(echo.body.count) bytes)")
                }
                calls += 1
            }
        }
        guard reader.allArrived.wait(timeout: .now() + 30) == .success else { fail("events missing after the calls") }
        source.cancel()
        print("ok \(reader.expected) events, \(calls) calls")
    default:
        fail("unknown operation \(args[2])")
    }
    exit(0)

default:
    fail("unknown mode \(args[0])")
}
