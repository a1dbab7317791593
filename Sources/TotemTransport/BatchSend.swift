// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// How a run of datagrams goes out through system calls that each send a prefix of what is left (`sendmmsg`, or
/// `sendto` for one). Kept apart from the sockets so the error handling is tested with scripted results.
///
/// `sendmmsg` returns how many datagrams went, or -1 and errno for the first of those left when none went. An error
/// after the first is kept by the kernel for the next call, so each datagram meets its own error:
/// - `EINTR`: the same datagram again;
/// - `ECONNREFUSED`: an ICMP port-unreachable report for an earlier datagram surfaced, and this one was not sent:
///   the error queue is read (the caller's `refused`, which tells the protocol which peer) and the same datagram goes
///   again;
/// - anything else (`EAGAIN` with a full send buffer, `EMSGSIZE`, `ENETUNREACH`, `EPERM` from a firewall, …): that
///   datagram is lost and counted, and the next goes, as one `sendto` per datagram would have done. Totem's
///   retransmission and token loss detection cope with the loss.
/// A datagram is retried at most `retriesPerDatagramMax` times, and each call is at most `datagramsPerCallMax`.
enum BatchSend {
    enum CallResult: Equatable {
        /// This many datagrams went (at least one).
        case sent(Int)
        /// None went; errno for the first.
        case failed(Int32)
    }

    struct Outcome: Equatable {
        var sent = 0
        var lost = 0
        var calls = 0
    }

    /// The kernel's limit on one `sendmmsg` (UIO_MAXIOV).
    static let datagramsPerCallMax = 1_024
    /// `EINTR` and `ECONNREFUSED` retries of one datagram before it is counted lost.
    static let retriesPerDatagramMax = 8

    /// Sends `count` entries; `call(start, n)` tries entries `start..<start + n`. An entry is one datagram, or
    /// `weight(entry)` datagrams the kernel cuts one buffer into (`SegmentPlan`); `Outcome` counts datagrams, and a
    /// failed entry loses all of its own.
    static func run(count: Int, weight: (Int) -> Int = { _ in 1 }, refused: () -> Void,
                    call: (_ start: Int, _ count: Int) -> CallResult) -> Outcome {
        var outcome = Outcome()
        var start = 0
        var retries = 0
        while start < count {
            let result = call(start, min(count - start, datagramsPerCallMax))
            outcome.calls += 1
            switch result {
            case .sent(let n):
                precondition(n > 0 && n <= count - start, "sendmmsg reported \(n) of \(count - start) sent")
                for entry in start..<(start + n) { outcome.sent += weight(entry) }
                start += n
                retries = 0
                continue
            case .failed(let e) where (e == EINTR || e == ECONNREFUSED) && retries < retriesPerDatagramMax:
                retries += 1
                if e == ECONNREFUSED { refused() }
            case .failed:
                outcome.lost += weight(start)
                start += 1
                retries = 0
            }
        }
        return outcome
    }
}
