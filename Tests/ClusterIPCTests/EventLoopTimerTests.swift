// SPDX-License-Identifier: Apache-2.0
@testable import ClusterIPC
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The loop's timers: order, cancellation, timers scheduled by timers, and sleeping until the deadline.
@Suite("EventLoop timers")
struct EventLoopTimerTests {
    /// CPU time of the calling thread, in nanoseconds.
    static func threadCPU() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// A pipe whose read end the loop watches, calling `readable` once per byte read.
    static func watchedPipe(_ loop: EventLoop, _ readable: @escaping () -> Void) -> [Int32] {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let readEnd = fds[0]
        loop.watch(fd: readEnd) { _ in
            var b: UInt8 = 0
            _ = read(readEnd, &b, 1)
            readable()
        }
        return fds
    }

    /// Writes one byte into the pipe `fds`.
    static func poke(_ fds: [Int32]) {
        var b: UInt8 = 1
        _ = write(fds[1], &b, 1)
    }

    @Test("timers fire by deadline, ties in the order scheduled; cancelled ones never")
    func order() {
        let loop = EventLoop()
        var fired: [String] = []
        loop.schedule(after: .milliseconds(30)) { fired.append("c"); loop.stop() }
        loop.schedule(after: .milliseconds(10)) { fired.append("a1") }
        loop.schedule(after: .milliseconds(10)) { fired.append("a2") }
        let dropped = loop.schedule(after: .milliseconds(5)) { fired.append("cancelled") }
        loop.schedule(after: .milliseconds(20)) { fired.append("b") }
        loop.cancel(dropped)
        loop.cancel(dropped)  // twice: nothing
        loop.run()
        #expect(fired == ["a1", "a2", "b", "c"])
    }

    @Test("a timer scheduled for now by a timer runs in a later round, after file descriptors had their turn")
    func zeroDelayFromATimerWaitsForTheNextRound() {
        let loop = EventLoop()
        var events: [String] = []
        let fds = Self.watchedPipe(loop) { events.append("fd") }
        defer { close(fds[0]); close(fds[1]) }
        var spins = 0
        func spin() {
            spins += 1
            events.append("timer")
            if spins < 3 { loop.soon(spin) } else { loop.stop() }
        }
        loop.schedule(after: .milliseconds(2)) {
            Self.poke(fds)
            spin()
        }
        loop.run()
        #expect(spins == 3)
        #expect(events.first == "timer" && events.contains("fd"), "\(events)")
        #expect(events.firstIndex(of: "fd")! < events.lastIndex(of: "timer")!, "a self-rescheduling timer starved the fd: \(events)")
    }

    @Test("soon: bodies in the order given, after the round's file descriptors, one asked for by a body later, no timer set")
    func soonWithoutTheTimer() {
        let loop = EventLoop()
        var events: [String] = []
        let fds = Self.watchedPipe(loop) { events.append("fd") }
        defer { close(fds[0]); close(fds[1]) }
        loop.schedule(after: .milliseconds(2)) {
            Self.poke(fds)
            events.append("timer")
            loop.soon { events.append("s1") }
            loop.soon {
                events.append("s2")
                loop.soon {
                    events.append("s3")
                    loop.stop()
                }
            }
        }
        let armedBefore = loop.timerArmings  // the timer above
        loop.run()
        #expect(events == ["timer", "fd", "s1", "s2", "s3"])
        // The 2 ms timer set the timerfd once; no body given to `soon` set it again (each would have twice).
        #expect(loop.timerArmings == armedBefore, "soon set the timerfd \(loop.timerArmings - armedBefore) times")
    }

    @Test("many timers, most cancelled and re-armed, fire once each at or after their deadline")
    func rearmedTimers() {
        let loop = EventLoop()
        var fired = 0, early = 0
        var pending: [EventLoop.Timer] = []
        let start = EventLoop.now()
        for i in 0..<2000 {
            let delay = Duration.microseconds(100 * (i % 50) + 50)
            let due = start.nanoseconds + UInt64(delay.components.attoseconds / 1_000_000_000)
            let t = loop.schedule(after: delay) {
                fired += 1
                if EventLoop.now().nanoseconds < due { early += 1 }
            }
            if i % 4 != 0 { pending.append(t) }
        }
        for t in pending { loop.cancel(t) }
        loop.schedule(after: .milliseconds(20)) { loop.stop() }
        loop.run()
        #expect(fired == 500)
        #expect(early == 0)
    }

    /// libqb's own timers wait in whole milliseconds rounded down, so the loop polled without sleeping for the last
    /// millisecond before each one: a daemon re-arming 1 ms retries spent its whole CPU waiting.
    @Test("waiting for a chain of 1 ms timers sleeps instead of polling")
    func timersSleep() {
        let loop = EventLoop()
        var left = 200
        func next() {
            left -= 1
            if left == 0 { loop.stop() } else { loop.schedule(after: .milliseconds(1), next) }
        }
        let wall0 = EventLoop.now().nanoseconds, cpu0 = Self.threadCPU()
        loop.schedule(after: .milliseconds(1), next)
        loop.run()
        let wall = EventLoop.now().nanoseconds - wall0, cpu = Self.threadCPU() - cpu0
        #expect(wall >= 200_000_000)
        // Polling would use about one CPU for the whole wait; sleeping, a small part of it.
        #expect(Double(cpu) < 0.5 * Double(wall), "CPU \(cpu / 1000) µs over \(wall / 1000) µs of waiting")
    }
}
