// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// How many messages groupd lets wait for totemd before it holds its clients back: a few milliseconds of what totemd
/// has been taking, between `minimum` and `maximum`. Pure; the daemon feeds it totemd's running count of messages
/// taken and whether clients are held, with the time.
///
/// Why by time: a fixed count cannot serve both ends. A node sending alone on a 3-node ring takes ~100k small
/// messages a second and needs the deeper queue (128 instead of 256 cost it 12–18 % of its 64 B throughput), while one
/// of five sending nodes gets ~17k a second, so 256 queued here were 15 ms of waiting on top of totemd's queue (128:
/// its 64 B p99 88–104 → 53–70 ms). Only windows in which clients were held measure totemd's pace; after a window
/// without holding, or a quiet gap of more than two windows, the mark goes back to `maximum`, so a burst after a
/// quiet spell is not held at the floor.
struct PacedBacklogMark {
    static let minimum = 64
    static let maximum = 256
    /// How long a full queue should take totemd to drain.
    static let holdTime: Duration = .microseconds(7500)
    /// How long totemd's pace is measured over.
    static let window: Duration = .milliseconds(100)

    /// The mark now.
    private(set) var value = maximum
    private var windowStart: MonotonicInstant?
    private var takenAtStart = 0
    private var heldInWindow = false

    /// `taken`: how many messages totemd has taken from this daemon so far; `holding`: whether clients are held now.
    mutating func observe(taken: Int, holding: Bool, at now: MonotonicInstant) {
        guard let start = windowStart else {
            windowStart = now
            takenAtStart = taken
            heldInWindow = holding
            return
        }
        heldInWindow = heldInWindow || holding
        let elapsed = now - start
        guard elapsed >= Self.window else { return }
        // A window much longer than `window` means no one asked for a while (groupd asks after every output, and every
        // 5 ms while it holds clients): it was quiet, whatever happened at its start, so it measures nothing.
        if heldInWindow && elapsed <= Self.window * 2 {
            let perSecond = Double(max(0, taken - takenAtStart)) / elapsed.secondsDouble
            value = min(Self.maximum, max(Self.minimum, Int(perSecond * Self.holdTime.secondsDouble)))
        } else {
            value = Self.maximum
        }
        windowStart = now
        takenAtStart = taken
        heldInWindow = holding
    }
}
