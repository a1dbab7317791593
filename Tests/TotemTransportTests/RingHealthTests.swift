// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import Testing
import TotemTransport

@Suite("redundant ring health")
struct RingHealthTests {
    let t0 = MonotonicInstant(nanoseconds: 1_000_000_000)
    func at(_ ms: Int64) -> MonotonicInstant { t0 + .milliseconds(ms) }
    let two = NodeID(2), three = NodeID(3)

    @Test("a ring that stops hearing a peer the other ring hears is faulty, and recovers when it hears it again")
    func faultAndRecovery() {
        var h = RingHealth(ringCount: 2, window: .seconds(1), now: t0)
        for ms in stride(from: Int64(0), through: 3_000, by: 100) {
            h.heard(two, on: 0, at: at(ms))
            if ms < 1_000 { h.heard(two, on: 1, at: at(ms)) }
        }
        let r1 = h.evaluate(at: at(1_500))
        #expect(r1 == [])
        let r2 = h.evaluate(at: at(2_100))
        #expect(r2 == [.faulty(ring: 1, peers: [two])])
        #expect(!h.isHealthy(1) && h.isHealthy(0))
        let r3 = h.evaluate(at: at(2_200))
        #expect(r3 == [], "reported once")
        h.heard(two, on: 1, at: at(3_000))
        let r4 = h.evaluate(at: at(3_000))
        #expect(r4 == [.recovered(ring: 1)])
        #expect(h.isHealthy(1))
    }

    @Test("silence on every ring (a dead or idle peer) faults no ring")
    func silenceEverywhere() {
        var h = RingHealth(ringCount: 2, window: .seconds(1), now: t0)
        h.heard(two, on: 0, at: at(0))
        h.heard(two, on: 1, at: at(0))
        let r5 = h.evaluate(at: at(5_000))
        #expect(r5 == [])
    }

    @Test("a ring that never heard a peer the other ring hears is faulty once the start-up grace has passed")
    func neverHeard() {
        var h = RingHealth(ringCount: 2, window: .seconds(1), now: t0)
        h.heard(three, on: 1, at: at(500))
        let r6 = h.evaluate(at: at(600))
        #expect(r6 == [], "still within the start-up grace")
        h.heard(three, on: 1, at: at(1_200))
        let r7 = h.evaluate(at: at(1_300))
        #expect(r7 == [.faulty(ring: 0, peers: [three])])
    }

    @Test("port unreachable is believed only when every ring reports it")
    func unreachableOnEveryRing() {
        var h = RingHealth(ringCount: 2, window: .seconds(1), now: t0)
        let r8 = h.unreachable(two, on: 0, at: at(100))
        #expect(!r8)
        let r9 = h.unreachable(two, on: 0, at: at(200))
        #expect(!r9)
        h.heard(two, on: 0, at: at(300)) // alive after all
        let r10 = h.unreachable(two, on: 1, at: at(400))
        #expect(!r10)
        let r11 = h.unreachable(two, on: 0, at: at(500))
        #expect(r11)
        var single = RingHealth(ringCount: 1, window: .seconds(1), now: t0)
        let r12 = single.unreachable(two, on: 0, at: at(0))
        #expect(r12)
    }
}
