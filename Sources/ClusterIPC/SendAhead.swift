// SPDX-License-Identifier: Apache-2.0

/// How far a client's one-way sends may run ahead of the server's reads: at most `requests` requests and `bytes`
/// bytes (headers included) written to the connection's request ring that the server has not read yet. A send past
/// either mark throws `.tryAgain`, as flow control does; one request always goes when nothing is unread, so a message
/// larger than `bytes` still goes, alone.
///
/// Why: libqb writes a request to the shared-memory ring and then one notification byte to the connection's unix
/// socket, and loops on that `send` while it fails with EAGAIN. A client far ahead of its server (about 270
/// notifications on Linux's default socket buffer) would spin a core there, and until then fill the 1 MiB ring at
/// memcpy speed, a queue the server cannot see. The notifications the server has not read yet are the client's
/// socket's unread bytes (`SIOCOUTQ`, in units of one one-byte send's kernel size): libqb's server reads them after
/// the requests they announce, so their count bounds the unread requests from above.
public struct SendAhead: Sendable, Equatable {
    public var requests: Int
    public var bytes: Int

    public init(requests: Int, bytes: Int) {
        precondition(requests >= 1 && bytes >= 1, "a send-ahead bound needs room for one request")
        self.requests = requests
        self.bytes = bytes
    }

    /// This bound with at most `requests` requests (at least one).
    public func capped(requests cap: Int) -> SendAhead { SendAhead(requests: max(1, min(requests, cap)), bytes: bytes) }

    /// CPG clients (`GroupClient`): 192 requests or 64 KiB, inside the socket's room for notifications (about 277 on
    /// Linux's default buffer; `IPCClient` caps the count at three quarters of it) and a sixteenth of the request ring.
    /// Measured at 64 B × 1 on loopback: 64 requests gave 10–30 % fewer messages per second than 192 (groupd read
    /// fewer requests per wake-up); 128 KiB against 256 or 384 KiB at 16 KiB × 5: throughput within the noise, p99
    /// lower; 64 KiB with the smaller marks of groupd and totemd (issue 14, cpg-compare): the median latency with all
    /// five nodes sending 1 KiB about halved, throughput within the noise.
    public static let groupClient = SendAhead(requests: 192, bytes: 64 << 10)

    /// totemd's clients (`TotemClient`: groupd and the other daemons): the same 192 requests or 64 KiB. totemd's own
    /// flow control engages only once it has read the requests that fill its intake, so without a bound here groupd,
    /// forwarding its clients' multicasts every turn, filled totemd's 1 MiB request ring whenever totemd was busy for a
    /// few milliseconds: with five nodes sending 1 KiB, a node's client had about 1,200 messages accepted in 50 ms and
    /// then waited 150 ms while they drained (issue 14: that was the p99 at 1 KiB × 5). groupd's queue and its own
    /// flow control to its clients hold what totemd has not read instead.
    public static let totemClient = SendAhead(requests: 192, bytes: 64 << 10)
}

/// The sizes of the latest requests a client sent, oldest first, and whether the next one may go given how many of
/// them the server has not read yet. Pure: the caller supplies the socket's unread byte count.
struct SendAheadWindow {
    let limit: SendAhead
    /// The kernel's size of one unread one-byte notification.
    let notificationBytes: Int
    private var sizes: [Int]
    private var head = 0
    private var count = 0
    private var total = 0

    init(limit: SendAhead, notificationBytes: Int) {
        self.limit = limit
        self.notificationBytes = notificationBytes
        sizes = [Int](repeating: 0, count: limit.requests + 1)
    }

    /// The requests and bytes still unread, after forgetting those the server has read.
    mutating func unread(socketBytes: Int) -> (requests: Int, bytes: Int) {
        let announced = (max(socketBytes, 0) + notificationBytes - 1) / notificationBytes
        while count > announced {
            total -= sizes[head]
            head = (head + 1) % sizes.count
            count -= 1
        }
        return (count, total)
    }

    /// Whether a request of `size` bytes may go now, with `socketBytes` unread on the client's socket. The sends
    /// remembered are an upper bound of those unread, so the socket is asked (an ioctl) only once they reach a mark:
    /// one system call in about a hundred sends instead of one a send.
    mutating func admits(_ size: Int, socketBytes: @autoclosure () -> Int) -> Bool {
        if count == 0 || (count < limit.requests && total + size <= limit.bytes) { return true }
        let (requests, bytes) = unread(socketBytes: socketBytes())
        return requests == 0 || (requests < limit.requests && bytes + size <= limit.bytes)
    }

    /// Records a request just sent; the oldest is forgotten when the window is full (calls are not held back).
    mutating func sent(_ size: Int) {
        if count == sizes.count {
            total -= sizes[head]
            head = (head + 1) % sizes.count
            count -= 1
        }
        sizes[(head + count) % sizes.count] = size
        count += 1
        total += size
    }
}
