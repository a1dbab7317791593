// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
@testable import TotemCore

/// `Deadlines.earliest` (the core's `nextDeadline`, which the daemon asks after every input): the smallest of the
/// timers that are set, whichever of them holds it.
@Suite("Totem deadlines")
struct DeadlinesTests {
    @Test("none set: nil; each timer alone is the earliest; the smallest wins wherever it is")
    func earliest() {
        let fields: [WritableKeyPath<Deadlines, MonotonicInstant?>] = [
            \.tokenLoss, \.tokenRetransmit, \.tokenHold, \.join, \.consensus, \.mergeDetect, \.commitLoss,
            \.unreachableCheck, \.unreachableProbe,
        ]
        #expect(Deadlines().earliest == nil)
        for (i, field) in fields.enumerated() {
            var alone = Deadlines()
            alone[keyPath: field] = MonotonicInstant(nanoseconds: 500 + UInt64(i))
            #expect(alone.earliest == MonotonicInstant(nanoseconds: 500 + UInt64(i)), "timer \(i) alone")
            // Every timer set, this one the smallest (and the others in rising and falling order around it).
            var all = Deadlines()
            for (j, other) in fields.enumerated() {
                all[keyPath: other] = MonotonicInstant(nanoseconds: 1_000 + UInt64(j < i ? 100 - j : j))
            }
            all[keyPath: field] = MonotonicInstant(nanoseconds: 7)
            #expect(all.earliest == MonotonicInstant(nanoseconds: 7), "timer \(i) smallest of all")
            all.clearAll()
            #expect(all.earliest == nil)
        }
    }
}
