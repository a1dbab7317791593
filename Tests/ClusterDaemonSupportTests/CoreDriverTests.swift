// SPDX-License-Identifier: Apache-2.0
import ClusterDaemonSupport
import ClusterIPC
import ClusterTypes
import Testing

/// A core that records what it handles and asks for follow-ups and deadlines.
struct EchoCore: DaemonCore {
    enum Input: Equatable { case ping(Int), deadline }
    struct Output { var echo: [Int] = []; var wantsFollowUp: Int? }
    var handledInputs: [Input] = []
    var nextDeadline: MonotonicInstant?
    var deadlines = 0
    static var deadlineReached: Input { .deadline }

    mutating func handle(_ input: Input, at now: MonotonicInstant) -> Output {
        handledInputs.append(input)
        switch input {
        case .ping(let n):
            // Even pings ask for a follow-up (n + 1) and a deadline 20 ms on.
            if n % 2 == 0 {
                nextDeadline = now + .milliseconds(20)
                return Output(echo: [n], wantsFollowUp: n + 1)
            }
            return Output(echo: [n])
        case .deadline:
            deadlines += 1
            nextDeadline = nil
            return Output()
        }
    }
}

@Suite("CoreDriver: outputs carried out in order, never re-entered; deadlines on the loop")
struct CoreDriverTests {
    @Test("an effect that feeds the core waits until the current output is carried out completely")
    func neverReentered() {
        let loop = EventLoop()
        let driver = CoreDriver(core: EchoCore(), loop: loop)
        var trace: [String] = []
        driver.perform = { out in
            for e in out.echo { trace.append("start \(e)") }
            if let next = out.wantsFollowUp {
                let immediate = driver.feed(.ping(next))
                trace.append("fed \(next) -> \(immediate == nil ? "queued" : "handled at once")")
            }
            for e in out.echo { trace.append("end \(e)") }
        }
        let out = driver.feed(.ping(0))
        #expect(out?.echo == [0], "a feed from the loop returns its own output")
        #expect(trace == ["start 0", "fed 1 -> queued", "end 0", "start 1", "end 1"])
        #expect(driver.core.handledInputs == [.ping(0), .ping(1)])
        #expect(driver.pendingHighWater == 1)
    }

    @Test("the core's deadline becomes one timer on the loop, and deadlineReached arrives when it passes")
    func deadlines() {
        let loop = EventLoop()
        let driver = CoreDriver(core: EchoCore(), loop: loop)
        let started = EventLoop.now()
        _ = loop.schedule(after: .zero) { driver.feed(.ping(2)) }
        _ = loop.schedule(after: .milliseconds(5)) { driver.feed(.ping(4)) }  // moves the deadline later
        _ = loop.schedule(after: .milliseconds(200)) { loop.stop() }
        loop.run()
        #expect(driver.core.deadlines == 1, "one deadline, after the later of the two")
        #expect(driver.core.handledInputs.last == .deadline)
        #expect(EventLoop.now() - started >= .milliseconds(25))
    }

    @Test("a driver released with its deadline armed takes its timer with it: the loop runs on past the deadline")
    func releasedWithDeadline() {
        let loop = EventLoop()
        var driver: CoreDriver<EchoCore>? = CoreDriver(core: EchoCore(), loop: loop)
        weak let released = driver
        driver?.feed(.ping(2))  // arms a deadline 20 ms on
        driver = nil
        #expect(released == nil, "nothing but the driver's owner keeps it")
        var ranPast = false
        _ = loop.schedule(after: .milliseconds(60)) { ranPast = true; loop.stop() }
        loop.run()  // the driver's timer, had it stayed, would have fired at 20 ms on a released driver
        #expect(ranPast)
    }
}
