// SPDX-License-Identifier: Apache-2.0
import ClusterIPC
import Foundation
import Testing
import TestSupportKit
#if canImport(Glibc)
import Glibc
#endif

/// The ring buffers of connections whose processes were killed together are removed, and nothing else is.
@Suite("stale IPC ring buffers")
struct StaleRingBuffersTests {
    /// The id of a process that has exited and been reaped.
    func deadPID() throws -> Int32 {
        let p = try ChildProcess("/bin/true", [])
        try p.wait()
        return p.pid
    }

    func makeConnection(_ dir: String, _ name: String, bytes: Int = 4096, modified: Date? = nil) throws {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try Data(count: bytes).write(to: URL(fileURLWithPath: path + "/qb-request-x.totemd-data"))
        if let modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path) }
    }

    @Test("removes a connection whose two processes are gone; keeps one with a live end, other files, other names")
    func sweep() throws {
        let dir = try makeTemporaryDirectory("shm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (a, b) = (try deadPID(), try deadPID())
        let me = getpid()
        try makeConnection(dir, "qb-\(a)-\(b)-10-AbCdEf", bytes: 65_536)
        try makeConnection(dir, "qb-\(me)-\(a)-11-GhIjKl")
        try makeConnection(dir, "qb-\(a)-\(me)-9-MnOpQr")
        try makeConnection(dir, "qb-corosync-\(a)-blackbox")
        try Data(count: 10).write(to: URL(fileURLWithPath: dir + "/qb-\(a)-\(b)-12-file"))

        let result = StaleRingBuffers.sweep(directory: dir)
        #expect(result.removed == 1 && result.failures.isEmpty, "\(result)")
        #expect(result.bytes >= 65_536, "\(result)")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(left == ["qb-\(me)-\(a)-11-GhIjKl", "qb-\(a)-\(me)-9-MnOpQr", "qb-corosync-\(a)-blackbox", "qb-\(a)-\(b)-12-file"])
    }

    @Test("a process id reused by a later process does not keep an old connection's buffers")
    func reusedPID() throws {
        let dir = try makeTemporaryDirectory("shm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dead = try deadPID()
        // This test process runs, but started long after a directory last changed in 2001: not the one that made it.
        try makeConnection(dir, "qb-\(getpid())-\(dead)-10-old", modified: Date(timeIntervalSince1970: 1_000_000_000))
        try makeConnection(dir, "qb-\(getpid())-\(dead)-11-new")
        let result = StaleRingBuffers.sweep(directory: dir)
        #expect(result.removed == 1, "\(result)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["qb-\(getpid())-\(dead)-11-new"])
    }

    @Test("involving: only connections of the given processes")
    func involving() throws {
        let dir = try makeTemporaryDirectory("shm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (a, b, c) = (try deadPID(), try deadPID(), try deadPID())
        try makeConnection(dir, "qb-\(a)-\(b)-10-one")
        try makeConnection(dir, "qb-\(c)-\(b)-10-two")
        #expect(StaleRingBuffers.sweep(directory: dir, involving: [a]).removed == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["qb-\(c)-\(b)-10-two"])
    }
}
