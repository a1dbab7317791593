// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import ClusterIPCProtocol
import ClusterWire
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// A server process and several client processes over real libqb IPC.
@Suite("libqb IPC between processes", .serialized)
struct MultiProcessIPCTests {
    let peer = TestBinaries.path("ipc-peer")

    func startServer(_ name: String, admin: Bool = false, extra: [String] = [], environment: [String: String] = [:]) throws -> ChildProcess {
        let server = try ChildProcess(peer, ["server", name] + (admin ? ["--admin"] : []) + extra, environment: environment)
        try server.waitForOutput("ready")
        return server
    }

    func client(_ name: String, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try ChildProcess.run(peer, ["client", name] + args, timeout: .seconds(30))
    }

    @Test("several clients at once get their own replies and events, with their credentials known")
    func concurrentClients() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name)
        let clients = try (0..<4).map { i in
            try ChildProcess(peer, ["client", name, i % 2 == 0 ? "echo" : "events", i % 2 == 0 ? "700" : "20000", "300"])
        }
        for c in clients {
            #expect(try c.wait() == 0, "\(c.stdout) \(c.stderr)")
            #expect(c.stdout.hasPrefix("ok"))
        }
        let stats = try client(name, ["stats"])
        #expect(stats.stdout.contains("connections=1 disconnects=4"), "\(stats)")
        #expect(stats.stdout.contains("uid=0") || getuid() != 0)
        server.signal(SIGTERM)
        #expect(try server.wait(timeout: .seconds(10)) == 0)
    }

    @Test("one connection used from two threads (events on a dispatch queue, calls from another) stays intact")
    func eventsWhileCalling() throws {
        // Before IPCClient had a lock, the reply buffer, the batch of unread events and libqb's connection were
        // shared unguarded: replies came back wrong or the client crashed in the Swift runtime (dlm_controld did so
        // at start, its CmanClient read by the events task while its loop called nodes()).
        let name = uniqueName("ipc")
        let server = try startServer(name)
        for _ in 0..<3 {
            let r = try client(name, ["race", "400"])
            #expect(r.status == 0 && r.stdout.hasPrefix("ok 16000 events, 2000 calls"), "\(r)")
        }
        server.signal(SIGTERM)
        #expect(try server.wait(timeout: .seconds(10)) == 0)
    }

    @Test("a burst of events goes as batches (one libqb event for many) and arrives complete and in order")
    func eventBatches() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name)
        let r = try client(name, ["events", "5000"])
        #expect(r.status == 0, "\(r)")
        let fromBatches = Int(r.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "") ?? 0
        #expect(r.stdout.hasPrefix("ok 5000 from batches"), "\(r)")
        #expect(fromBatches > 4000, "events sent in one turn should mostly come from batches: \(r.stdout)")
        server.signal(SIGTERM)
        #expect(try server.wait(timeout: .seconds(10)) == 0)
    }

    @Test("all events of a turn go together at its end: two as one batch, one alone")
    func turnEndsOneBatch() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name)
        // The second event is read from the batch the first came in: one notification and one wake-up for both.
        let two = try client(name, ["events", "2"])
        #expect(two.status == 0 && two.stdout.hasPrefix("ok 2 from batches 1"), "\(two)")
        let one = try client(name, ["events", "1"])
        #expect(one.status == 0 && one.stdout.hasPrefix("ok 1 from batches 0"), "\(one)")
        server.signal(SIGTERM)
        #expect(try server.wait(timeout: .seconds(10)) == 0)
    }

    @Test("a burst of mixed sizes (small, exactly a batch, larger than a batch; raw and typed) arrives whole and in order")
    func mixedEventBatches() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name)
        let r = try client(name, ["mixed-events", "1500"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.hasPrefix("ok 1500 from batches"), "\(r)")
        server.signal(SIGTERM)
        #expect(try server.wait(timeout: .seconds(10)) == 0)
    }

    @Test("a second server of the same name fails with 'already served', without aborting, and the first serves on")
    func nameInUse() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name)
        let second = try ChildProcess.run(peer, ["server", name], timeout: .seconds(10))
        #expect(second.status == 1 && second.stderr.contains("already served by another process"), "\(second)")
        #expect(try client(name, ["echo", "64", "5"]).status == 0)
        server.signal(SIGTERM)
        #expect(try server.wait(timeout: .seconds(10)) == 0)
    }

    @Test("sendReady round-trips with an empty body; a body where none belongs is not read as one")
    func sendReadyCodec() throws {
        let e = TotemIPC.Event.sendReady
        #expect(e.messageID == 12 && e.body.isEmpty)
        #expect(try TotemIPC.Event.decode(messageID: 12, body: []) == e)
        #expect(throws: WireError.self) { try TotemIPC.Event.decode(messageID: 12, body: [0]) }
        #expect(throws: WireError.self) { try TotemIPC.Event.decode(messageID: 13, body: []) }
    }

    @Test("a batch of multicasts round-trips; an empty-count lie, too many or too many bytes are refused")
    func multicastBatchCodec() throws {
        let list = (0..<3).map { TotemIPC.Multicast(channel: UInt16($0), safe: $0 == 1, payload: [UInt8](repeating: UInt8($0), count: $0 * 10)) }
        let request = TotemIPC.Request.multicastBatch(list)
        #expect(request.messageID == 5 && !request.expectsReply)
        #expect(try TotemIPC.Request.decode(messageID: 5, body: request.body) == request)
        var tooMany = ByteWriter()
        tooMany.write(UInt32(TotemIPC.batchCountMax + 1))
        #expect(throws: WireError.self) { try TotemIPC.Request.decode(messageID: 5, body: tooMany.bytes) }
        let big = TotemIPC.Request.multicastBatch([TotemIPC.Multicast(channel: 1, payload: [UInt8](repeating: 0, count: TotemIPC.batchBytesMax)),
                                                   TotemIPC.Multicast(channel: 1, payload: [1])])
        #expect(throws: WireError.self) { try TotemIPC.Request.decode(messageID: 5, body: big.body) }
        #expect(IPCLimits.eventBatchMessageID > 1 << 30 && IPCLimits.eventBatchBytesMax < IPCLimits.bufferBytes)
    }

    @Test("a client killed mid-call does not disturb the server or other clients")
    func clientKilledMidCall() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name)
        let victim = try ChildProcess(peer, ["client", name, "delayed", "400"])
        // Killed once connected (on a loaded machine it may take longer than 100 ms to start): every stats call below
        // is one more connection and disconnection of its own.
        var polls = 0
        while try !client(name, ["stats"]).stdout.hasPrefix("connections=2"), polls < 250 {
            polls += 1
            usleep(20_000)
        }
        usleep(50_000) // its request is out
        victim.signal(SIGKILL)
        _ = try victim.wait()
        // The server answers the dead client's request later; that must be harmless.
        usleep(600_000)
        let other = try client(name, ["echo", "64", "50"])
        #expect(other.status == 0 && other.stdout.hasPrefix("ok"), "\(other)")
        let stats = try client(name, ["stats"])
        #expect(stats.stdout.contains("disconnects=\(polls + 3)"), "the polls, the victim and the echo client: \(stats)")
        #expect(server.process.isRunning)
        server.signal(SIGTERM)
        #expect(try server.wait(timeout: .seconds(10)) == 0)
    }

    @Test("clear errors: not running, permission denied, message too large, peer gone")
    func errors() throws {
        let missing = try client(uniqueName("nobody-serves-this"), ["stats"])
        #expect(missing.status == 2)
        #expect(missing.stdout.contains("the daemon is not running"), "\(missing)")

        let adminName = uniqueName("ipc-admin")
        let admin = try startServer(adminName, admin: true)
        if getuid() == 0 {
            let denied = try client(adminName, ["--as-uid", "65534", "stats"])
            #expect(denied.status == 2)
            #expect(denied.stdout.contains("permission denied"), "\(denied)")
            let allowed = try client(adminName, ["stats"])
            #expect(allowed.status == 0, "\(allowed)")
        }
        let big = try client(adminName, ["big", "2000000"])
        #expect(big.status == 4)
        #expect(big.stdout.contains("exceeds the limit"), "\(big)")

        let waiting = try ChildProcess(peer, ["client", adminName, "delayed", "5000"])
        usleep(200_000)
        admin.signal(SIGKILL)
        #expect(try waiting.wait(timeout: .seconds(10)) == 3)
        #expect(waiting.stdout.contains("went away"), "\(waiting.stdout)")
    }

    @Test("a client that never reads its events is disconnected, and the server carries on")
    func slowReaderDisconnected() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name, extra: ["--stall-ms", "500"])
        let flood = try client(name, ["ignore", "100000"])
        #expect(flood.status == 3, "\(flood)")
        #expect(flood.stdout.contains("went away"), "\(flood)")
        #expect(server.stderr.contains("not reading its events"), "\(server.stderr)")
        let ok = try client(name, ["echo", "16", "10"])
        #expect(ok.status == 0)
        server.signal(SIGTERM)
        _ = try server.wait()
    }

    @Test("one-way messages all arrive, with flow control retries if needed")
    func oneWay() throws {
        let name = uniqueName("ipc")
        let server = try startServer(name)
        let result = try client(name, ["oneway", "20000"])
        #expect(result.stdout.contains("oneways=20000"), "\(result)")
        server.signal(SIGTERM)
        _ = try server.wait()
    }

    @Test("a client that connects while flow control is on is told to back off too")
    func flowControlForNewConnections() throws {
        let name = uniqueName("ipc")
        // libqb answers the client's connect just before it reports the connection created (and the server applies
        // flow control to it): a client that sends at once can slip sends in meanwhile, all of them on a loaded machine
        // where the server is descheduled in between. The client waits 200 ms after connecting, so what is tested is
        // the connection being flow-controlled, not that race.
        let server = try startServer(name, extra: ["--flow-control-ms", "1500"])
        let result = try client(name, ["oneway", "50", "200"])
        #expect(result.stdout.contains("oneways=50"), "\(result)")
        let refused = result.stdout.split(separator: "=").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        #expect(refused > 0, "the first sends went through while the server had flow control on: \(result)")
        server.signal(SIGTERM)
        _ = try server.wait()
    }

    /// Runs `ahead COUNT SIZE` against a server that stops reading for a second at the first one-way message and
    /// returns the client's report as numbers by name.
    func aheadOfAStalledServer(count: Int, size: Int) throws -> [String: Int] {
        let name = uniqueName("ipc")
        let server = try startServer(name, extra: ["--stall-first-oneway-ms", "1000"])
        let result = try client(name, ["ahead", "\(count)", "\(size)"])
        server.signal(SIGTERM)
        _ = try server.wait()
        #expect(result.status == 0, "\(result)")
        var report: [String: Int] = [:]
        for field in result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = field.split(separator: "=")
            if parts.count == 2, let n = Int(parts[1]) { report[String(parts[0])] = n }
        }
        return report
    }

    @Test("a client far ahead of a server that reads nothing is told to try again after a bounded number of requests; all arrive once, in order")
    func sendAheadBoundedByRequests() throws {
        let r = try aheadOfAStalledServer(count: 3000, size: 64)
        #expect(r["oneways"] == 3000 && r["misordered"] == 0, "\(r)")
        // GroupClient's bound: 64 requests (64 B each is far below its bytes). Without it, libqb takes every send
        // (about 270 notifications fill the socket, then it spins on sendto until the server reads again).
        let first = r["firstRefusal"] ?? -1
        #expect(first >= 1 && first <= SendAhead.groupClient.requests, "\(r)")
        #expect((r["refused"] ?? 0) > 0 && r["refused"] == r["heldBack"], "\(r)")
    }

    @Test("the send-ahead bound counts bytes: 16 KiB requests are refused after 64 KiB, and all arrive once, in order")
    func sendAheadBoundedByBytes() throws {
        let r = try aheadOfAStalledServer(count: 300, size: 16384)
        #expect(r["oneways"] == 300 && r["misordered"] == 0, "\(r)")
        let first = r["firstRefusal"] ?? -1
        #expect(first >= 1 && first <= SendAhead.groupClient.bytes / (16384 + 16), "\(r)")
        #expect((r["refused"] ?? 0) > 0, "\(r)")
    }
}

