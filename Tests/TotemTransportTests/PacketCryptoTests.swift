// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
@testable import TotemTransport

/// The packet sealing of totemd: what an outsider or a damaged network cannot do to a sealed packet.
@Suite("packet crypto")
struct PacketCryptoTests {
    static let key = Array("a cluster key of at least 128 bits".utf8)
    static func node(_ id: UInt32, session: UInt64 = 7, key: [UInt8]? = PacketCryptoTests.key, cluster: UInt16 = 9) -> PacketCrypto {
        PacketCrypto(keyMaterial: key, clusterID: cluster, nodeID: NodeID(id), session: session)
    }

    @Test("a sealed packet opens to its plaintext, naming its sender, session and counter")
    func roundTrip() throws {
        let a = Self.node(1), b = Self.node(2)
        let sealed = a.seal(Array("plain text".utf8))
        #expect(!sealed.contains(subsequence: Array("plain text".utf8)), "the payload travels encrypted")
        _ = b.open(sealed[...])
        let opened = try #require(b.open(a.seal([1, 2, 3])[...]))
        #expect(opened == PacketCrypto.Opened(sender: NodeID(1), session: 7, counter: 2, plaintext: [1, 2, 3]))
        #expect(b.open(a.seal([4])[...])?.counter == 3)
    }

    @Test("any flipped bit, in the header, the ciphertext or the tag, makes the packet unauthentic")
    func tampering() {
        let a = Self.node(1), b = Self.node(2)
        let sealed = a.seal(Array(0..<40))
        for i in sealed.indices {
            for bit in [0, 3, 7] {
                var t = sealed
                t[i] ^= UInt8(1 << bit)
                #expect(b.open(t[...]) == nil, "byte \(i) bit \(bit)")
            }
        }
    }

    @Test("a damaged packet from a known session leaves that session's kept context working for the next ones")
    func damageKeepsSession() throws {
        let a = Self.node(1), b = Self.node(2)
        #expect(b.open(a.seal([1])[...])?.plaintext == [1], "the session is now known (its context kept)")
        var damaged = a.seal(Array(0..<200))
        damaged[damaged.count / 2] ^= 0x40
        #expect(b.open(damaged[...]) == nil)
        #expect(b.open(Array(a.seal([2, 3]).prefix(30))[...]) == nil, "truncated")
        // The next packet, and one read from the middle of a larger buffer, open as before.
        #expect(b.open(a.seal([4, 5, 6])[...])?.plaintext == [4, 5, 6])
        let inBuffer = [0xEE, 0xEE] + a.seal(Array(0..<100)) + [0xEE]
        let opened = try #require(b.open(inBuffer[2..<(inBuffer.count - 1)]))
        #expect(opened.plaintext == Array(0..<100) && opened.counter == 5)
    }

    @Test("every truncation is refused, never trapping")
    func truncation() {
        let a = Self.node(1), b = Self.node(2)
        let sealed = a.seal(Array(0..<40))
        for n in 0..<sealed.count { #expect(b.open(sealed[0..<n]) == nil, "\(n) bytes") }
    }

    @Test("another key, another cluster id, or clear mode cannot open it (and the reverse)")
    func wrongKey() {
        let sealed = Self.node(1).seal([9, 9])
        #expect(Self.node(2, key: Array("another key, also long enough".utf8)).open(sealed[...]) == nil)
        #expect(Self.node(2, cluster: 10).open(sealed[...]) == nil)
        #expect(Self.node(2, key: nil).open(sealed[...]) == nil)
        #expect(Self.node(2).open(Self.node(1, key: nil).seal([9])[...]) == nil)
    }

    @Test("the node id in the header is bound to the key: rewriting it to another member's fails")
    func wrongNodeID() {
        var sealed = Self.node(1).seal([5])
        sealed[4] = 3  // node id 1 -> 3 (big-endian, bytes 1...4)
        #expect(Self.node(2).open(sealed[...]) == nil)
    }

    @Test("each process start seals under its own key, so a restart with the counter back at 1 never repeats a nonce")
    func sessionsDiffer() throws {
        let before = Self.node(1, session: 100).seal([1])
        let after = Self.node(1, session: 101).seal([1])
        #expect(before != after)
        let b = Self.node(2)
        let first = try #require(b.open(before[...])), second = try #require(b.open(after[...]))
        #expect(first.counter == second.counter && first.session != second.session)
        #expect(PacketCrypto(keyMaterial: Self.key, clusterID: 9, nodeID: NodeID(1)).session
                != PacketCrypto(keyMaterial: Self.key, clusterID: 9, nodeID: NodeID(1)).session)
    }

    @Test("replays inside the window are refused once seen; older than the window, always; a new session starts afresh")
    func replayWindow() {
        var w = ReplayWindow()
        let n = NodeID(1)
        #expect(w.check(sender: n, session: 1, counter: 1) == .fresh)
        #expect(w.check(sender: n, session: 1, counter: 1) == .duplicate)
        #expect(w.check(sender: n, session: 1, counter: 5) == .fresh)
        #expect(w.check(sender: n, session: 1, counter: 3) == .fresh, "late but inside the window")
        #expect(w.check(sender: n, session: 1, counter: 3) == .duplicate)
        #expect(w.check(sender: n, session: 1, counter: 5 + ReplayWindow.width + 100) == .fresh)
        #expect(w.check(sender: n, session: 1, counter: 5) == .tooOld)
        #expect(w.check(sender: n, session: 2, counter: 1) == .fresh, "a restarted peer")
        #expect(w.check(sender: NodeID(2), session: 1, counter: 1) == .fresh, "per peer")
        // Shifts of every size keep what is inside the window.
        var v = ReplayWindow()
        var seen: [UInt64] = []
        var c: UInt64 = 0
        for step in [1, 63, 64, 65, 127, 300, 1, 2] {
            c += UInt64(step)
            #expect(v.check(sender: n, session: 9, counter: c) == .fresh)
            seen.append(c)
            for old in seen where c - old < ReplayWindow.width {
                #expect(v.check(sender: n, session: 9, counter: old) == .duplicate, "counter \(old) after \(c)")
            }
        }
    }

    @Test("clear mode frames without sealing and opens only clear packets")
    func clear() {
        let a = Self.node(1, key: nil), b = Self.node(2, key: nil)
        #expect(b.open(a.seal([1, 2])[...])?.plaintext == [1, 2])
        #expect(b.open(Self.node(1).seal([1])[...]) == nil)
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence s: [UInt8]) -> Bool {
        guard s.count <= count else { return false }
        return (0...(count - s.count)).contains { Array(self[$0..<($0 + s.count)]) == s }
    }
}
