// SPDX-License-Identifier: Apache-2.0
import Glibc
import Testing
@testable import TotemTransport

/// `BatchSend` against scripted system-call results: what `sendmmsg` can answer, one answer per call.
@Suite("sendmmsg error handling, per datagram")
struct BatchSendTests {
    /// Runs `count` datagrams against `script`; records each call's (start, count) and the refusals.
    private func run(_ count: Int, _ script: [BatchSend.CallResult]) -> (BatchSend.Outcome, calls: [[Int]], refused: Int) {
        var calls: [[Int]] = []
        var refused = 0
        var next = script.makeIterator()
        let outcome = BatchSend.run(count: count, refused: { refused += 1 }) { start, n in
            calls.append([start, n])
            return next.next() ?? .sent(n)
        }
        return (outcome, calls, refused)
    }

    @Test("everything in one call")
    func oneCall() {
        let (o, calls, _) = run(5, [.sent(5)])
        #expect(o == .init(sent: 5, lost: 0, calls: 1))
        #expect(calls == [[0, 5]])
    }

    @Test("segmented entries count their datagrams: sent and lost are in datagrams, calls in entries")
    func weighted() {
        let weights = [3, 1, 46, 2]
        let outcome = BatchSend.run(count: 4, weight: { weights[$0] }, refused: {}) { start, n in
            start == 1 ? .failed(EAGAIN) : .sent(start == 0 ? 1 : n)
        }
        #expect(outcome == .init(sent: 3 + 46 + 2, lost: 1, calls: 3))
    }

    @Test("a partial send goes on from the first datagram not sent")
    func partial() {
        let (o, calls, _) = run(5, [.sent(3), .sent(2)])
        #expect(o == .init(sent: 5, lost: 0, calls: 2))
        #expect(calls == [[0, 5], [3, 2]])
    }

    @Test("EAGAIN, EMSGSIZE, ENETUNREACH, EPERM lose only their own datagram; the next goes")
    func errorsPerDatagram() {
        for e in [EAGAIN, EMSGSIZE, ENETUNREACH, EPERM] {
            let (o, calls, refused) = run(6, [.sent(2), .failed(e), .sent(1), .failed(e), .sent(1)])
            #expect(o == .init(sent: 4, lost: 2, calls: 5), "errno \(e)")
            #expect(calls == [[0, 6], [2, 4], [3, 3], [4, 2], [5, 1]], "errno \(e)")
            #expect(refused == 0)
        }
    }

    @Test("ECONNREFUSED: the error queue is read and the same datagram goes again")
    func refusedIsRetried() {
        let (o, calls, refused) = run(4, [.sent(1), .failed(ECONNREFUSED), .sent(3)])
        #expect(o == .init(sent: 4, lost: 0, calls: 3))
        #expect(calls == [[0, 4], [1, 3], [1, 3]])
        #expect(refused == 1)
    }

    @Test("EINTR: the same datagram again, without reading the error queue")
    func interrupted() {
        let (o, calls, refused) = run(2, [.failed(EINTR), .sent(2)])
        #expect(o == .init(sent: 2, lost: 0, calls: 2))
        #expect(calls == [[0, 2], [0, 2]])
        #expect(refused == 0)
    }

    @Test("retries are bounded: a datagram refused for ever is counted lost and the rest still go")
    func retriesBounded() {
        let forever = [BatchSend.CallResult](repeating: .failed(ECONNREFUSED), count: BatchSend.retriesPerDatagramMax + 1)
        let (o, calls, refused) = run(3, forever + [.sent(2)])
        #expect(o == .init(sent: 2, lost: 1, calls: BatchSend.retriesPerDatagramMax + 2))
        #expect(refused == BatchSend.retriesPerDatagramMax)
        #expect(calls.last == [1, 2])
    }

    @Test("no call asks for more than the kernel's UIO_MAXIOV datagrams")
    func callSizeBounded() {
        let (o, calls, _) = run(2_500, [])
        #expect(o == .init(sent: 2_500, lost: 0, calls: 3))
        #expect(calls == [[0, 1_024], [1_024, 1_024], [2_048, 452]])
    }
}
