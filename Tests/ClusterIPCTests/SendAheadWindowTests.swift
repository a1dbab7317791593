// SPDX-License-Identifier: Apache-2.0
@testable import ClusterIPC
import Testing

/// The send-ahead window's arithmetic, with the socket's unread bytes given (768 per notification, as on Linux 6).
@Suite("IPCClient's send-ahead window")
struct SendAheadWindowTests {
    let unit = 768

    @Test("requests the server has read are forgotten; past the request mark a send waits")
    func requests() {
        var w = SendAheadWindow(limit: SendAhead(requests: 4, bytes: 1 << 20), notificationBytes: unit)
        for i in 0..<4 {
            let admitted = w.admits(100, socketBytes: i * unit)
            #expect(admitted)
            w.sent(100)
        }
        let full = w.admits(100, socketBytes: 4 * unit)
        #expect(!full)
        let unread = w.unread(socketBytes: 4 * unit)
        #expect(unread.requests == 4 && unread.bytes == 400)
        // The server read one request (and its notification): one more may go.
        let afterRead = w.admits(100, socketBytes: 3 * unit)
        #expect(afterRead)
        let left = w.unread(socketBytes: 3 * unit)
        #expect(left.requests == 3 && left.bytes == 300)
    }

    @Test("bytes count as written: a large request waits for room, but goes alone when nothing is unread")
    func bytes() {
        var w = SendAheadWindow(limit: SendAhead(requests: 64, bytes: 32_768), notificationBytes: unit)
        w.sent(16_400)
        let fits = w.admits(16_368, socketBytes: unit)
        let over = w.admits(16_369, socketBytes: unit)
        #expect(fits && !over)
        let alone = w.admits(1 << 20, socketBytes: 0)
        #expect(alone, "a message above the byte mark must still go when nothing is unread")
        w.sent(1 << 20)
        let behindLarge = w.admits(1, socketBytes: unit)
        #expect(!behindLarge)
    }

    @Test("more notifications unread than sends remembered (calls, a full window): bounded by what is remembered")
    func forgottenSends() {
        var w = SendAheadWindow(limit: SendAhead(requests: 2, bytes: 1 << 20), notificationBytes: unit)
        for size in [10, 20, 30, 40] { w.sent(size) }  // the window keeps the latest 3
        let all = w.unread(socketBytes: 10 * unit)
        #expect(all.requests == 3 && all.bytes == 90)
        let held = w.admits(1, socketBytes: 10 * unit)
        #expect(!held)
        let one = w.unread(socketBytes: unit)
        #expect(one.requests == 1 && one.bytes == 40)
        let goes = w.admits(1, socketBytes: unit)
        #expect(goes)
    }

    @Test("the socket is asked only once the sends remembered reach a mark, and then forgets what the server read")
    func asksTheSocketOnlyAtAMark() {
        var w = SendAheadWindow(limit: SendAhead(requests: 8, bytes: 1 << 20), notificationBytes: unit)
        var asked = 0
        func socket(_ unread: Int) -> Int { asked += 1; return unread * unit }
        for _ in 0..<8 {
            let admitted = w.admits(100, socketBytes: socket(0))
            #expect(admitted)
            w.sent(100)
        }
        #expect(asked == 0, "below both marks nothing is unread beyond what is remembered")
        // At the mark: the server has read all but two, so the next goes, and the window remembers two.
        let atMark = w.admits(100, socketBytes: socket(2))
        #expect(atMark && asked == 1)
        w.sent(100)
        for _ in 0..<5 {
            let again = w.admits(100, socketBytes: socket(0))
            #expect(again)
            w.sent(100)
        }
        #expect(asked == 1)
        let held = w.admits(100, socketBytes: socket(8))
        #expect(!held && asked == 2)
    }
}
