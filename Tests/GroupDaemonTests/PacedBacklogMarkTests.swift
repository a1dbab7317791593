// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
@testable import GroupService
import Testing

/// groupd's mark for messages waiting for totemd, paced by what totemd takes (`PacedBacklogMark`).
@Suite("groupd's backlog mark, paced by totemd")
struct PacedBacklogMarkTests {
    static func at(_ ms: UInt64) -> MonotonicInstant { MonotonicInstant(nanoseconds: ms * 1_000_000) }

    /// Feeds `perSecond` messages a second for `windows` windows of 100 ms, clients held or not, from `start` ms.
    static func run(_ m: inout PacedBacklogMark, perSecond: Int, holding: Bool, windows: Int, start: UInt64 = 0,
                    taken: inout Int) {
        for step in 0...(windows * 10) {
            m.observe(taken: taken, holding: holding, at: at(start + UInt64(step) * 10))
            taken += perSecond / 100
        }
    }

    @Test("held clients: the mark is 7.5 ms of totemd's pace, between 64 and 256")
    func pacedWhileHeld() {
        var taken = 0
        var slow = PacedBacklogMark()
        #expect(slow.value == PacedBacklogMark.maximum)
        Self.run(&slow, perSecond: 17_000, holding: true, windows: 3, taken: &taken)
        #expect(slow.value == 127, "one of five 64 B senders: ~17k a second")
        var fast = PacedBacklogMark()
        Self.run(&fast, perSecond: 100_000, holding: true, windows: 3, taken: &taken)
        #expect(fast.value == PacedBacklogMark.maximum, "a lone sender keeps the whole queue")
        var stalled = PacedBacklogMark()
        Self.run(&stalled, perSecond: 0, holding: true, windows: 3, taken: &taken)
        #expect(stalled.value == PacedBacklogMark.minimum)
    }

    /// A mark after two windows of 10k messages a second with clients held (75), and what totemd has taken by then.
    static func heldAtTenThousand() -> (PacedBacklogMark, Int) {
        var taken = 0
        var m = PacedBacklogMark()
        run(&m, perSecond: 10_000, holding: true, windows: 2, taken: &taken)
        #expect(m.value == 75)
        return (m, taken)
    }

    @Test("a window without holding puts the mark back to the maximum; shorter than a window changes nothing")
    func quietWindowResets() {
        var (m, taken) = Self.heldAtTenThousand()
        m.observe(taken: taken, holding: false, at: Self.at(250))
        #expect(m.value == 75, "within the window")
        Self.run(&m, perSecond: 10_000, holding: false, windows: 2, start: 300, taken: &taken)
        #expect(m.value == PacedBacklogMark.maximum)
    }

    @Test("a burst after a quiet gap starts at the maximum, even if clients were held when the last one ended")
    func quietGapResets() {
        var (m, taken) = Self.heldAtTenThousand()
        m.observe(taken: taken, holding: true, at: Self.at(250))  // the burst ends while clients are held
        m.observe(taken: taken, holding: true, at: Self.at(10_250))  // ten quiet seconds later, the next one starts
        #expect(m.value == PacedBacklogMark.maximum)
    }
}
