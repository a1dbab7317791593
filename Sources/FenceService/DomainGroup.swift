// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import ClusterIPC
import ClusterTypes
import FenceCore
import GroupCore

/// fenced's membership of the fence domain's process group (`fenced:default`) through groupd, driven from the
/// daemon's loop: joins (asking again while groupd says "try again", as libcpg users do), leaves, hands every view
/// and message to the daemon in groupd's agreed order, and multicasts in order, holding messages while groupd pushes
/// back. A message is never dropped while this process is in the group: the domain's agreement depends on every
/// member's `start` and on the master's resolutions.
final class DomainGroup {
    /// Messages held while groupd pushes back. A domain sends a handful per view (a start, the master's attempts and
    /// resolutions), so this many waiting means groupd has stopped taking messages for good; the daemon then stops
    /// rather than fall silent in the domain (its peers see it go and fence the node).
    static let outboxCountMax = 4096
    /// How soon a multicast refused with "try again" is sent again.
    static let resendInterval: Duration = .milliseconds(20)
    /// How soon a join refused with "try again" (groupd not synchronised yet) is asked again.
    static let rejoinInterval: Duration = .milliseconds(100)

    let instance: NodeInstance
    private let loop: EventLoop
    private(set) var client: GroupClient?
    private var outbox: [[UInt8]] = []  // at most outboxCountMax
    private var outboxHead = 0
    private var resendTimer: EventLoop.Timer?
    private var joinTimer: EventLoop.Timer?
    /// groupd accepted our join and no leave was asked since.
    private(set) var inGroup = false

    /// A view of the domain's group.
    var onView: (Fence.DomainView) -> Void = { _ in }
    /// A domain message, in agreed order.
    var onMessage: (Fence.Member, [UInt8]) -> Void = { _, _ in }
    /// groupd refused the join for a reason asking again will not cure.
    var onJoinRefused: (ClusterError) -> Void = { _ in }
    /// A leave groupd says has nothing to leave (the join never took effect).
    var onNotMember: () -> Void = {}
    /// groupd went away, or the outbox overflowed: fenced cannot go on.
    var onFailure: (String) -> Void = { _ in }
    /// Diagnostics for the daemon's log (debug).
    var onDebug: (String) -> Void = { _ in }

    init(instance: NodeInstance, loop: EventLoop) {
        self.instance = instance
        self.loop = loop
    }

    /// Messages waiting for groupd to take them.
    var backlog: Int { outbox.count - outboxHead }

    /// Connects and starts reading events. `.notRunning` means groupd is not up yet.
    func connect() throws(ClusterError) {
        let c = try GroupClient(instance: instance)
        guard let fd = c.eventFD else { throw ClusterError(.disconnected, "\(c.service): the connection has no event descriptor") }
        client = c
        loop.watch(fd: fd, events: [.readable, .error, .hangup]) { [unowned self] _ in readable() }
    }

    private func readable() {
        guard let c = client else { return }
        do {
            while let e = try c.nextEvent(timeoutMilliseconds: 0) { handle(e) }
        } catch {
            fail("lost groupd: \(error)")
        }
    }

    private func handle(_ event: GroupIPC.Event) {
        switch event {
        case .configurationChange(let group, let members, let joined, let left, let ring, _):
            guard group == Fence.groupName else { return }
            let departures = left.map { change -> Fence.Departure in
                let reason: Fence.LeaveReason
                switch change.reason {
                case .leave: reason = .clean
                case .processDown: reason = .processDown
                case .nodeDown, .join, .nodeUp: reason = .nodeDown
                }
                return Fence.Departure(Self.member(change.address), reason)
            }
            onView(Fence.DomainView(members: members.map(Self.member), joined: joined.map { Self.member($0.address) }, left: departures,
                                    ringSequence: ring))
        case .delivery(let group, let sender, let payload):
            guard group == Fence.groupName else { return }
            onMessage(Self.member(sender), payload)
        case .totemConfiguration:
            break
        }
    }

    static func member(_ a: GroupIPC.Address) -> Fence.Member { Fence.Member(node: a.node, pid: a.pid) }

    // MARK: - Join and leave

    /// Joins the domain's group, asking again while groupd says "try again" (it has not synchronised yet, or this
    /// process's previous membership has not settled).
    func join() {
        if let t = joinTimer { loop.cancel(t) }
        joinTimer = nil
        guard let c = client else { return }
        do {
            try c.join(Fence.groupName)
            inGroup = true
        } catch {
            if error.code == .tryAgain || error.code == .busy || error.code == .notReady {
                onDebug("groupd: join \(Fence.groupName): \(error); asking again")
                joinTimer = loop.schedule(after: Self.rejoinInterval) { [weak self] in self?.join() }
            } else if error.code == .exists {
                inGroup = true
            } else if error.code == .disconnected || error.code == .notRunning {
                fail("lost groupd: \(error)")
            } else {
                onJoinRefused(error)
            }
        }
    }

    /// Leaves the domain's group cleanly. A join still being retried is given up.
    func leave() {
        if let t = joinTimer {
            loop.cancel(t)
            joinTimer = nil
        }
        guard let c = client else { return }
        let wasIn = inGroup
        inGroup = false
        do {
            try c.leave(Fence.groupName)
        } catch {
            if error.code == .notMember {
                onDebug("groupd: leave \(Fence.groupName): \(error)\(wasIn ? "" : " (the join had not taken effect)")")
                onNotMember()
            } else if error.code == .disconnected || error.code == .notRunning {
                fail("lost groupd: \(error)")
            } else {
                onDebug("groupd: leave \(Fence.groupName): \(error)")
            }
        }
    }

    // MARK: - Multicast

    /// Multicasts `payload` to the domain after everything queued before it.
    func multicast(_ payload: [UInt8]) {
        guard backlog < Self.outboxCountMax else {
            fail("groupd has taken none of the last \(Self.outboxCountMax) fence domain messages")
            return
        }
        outbox.append(payload)
        flush()
    }

    private func flush() {
        guard let c = client, resendTimer == nil else { return }
        while outboxHead < outbox.count {
            do {
                try c.multicast(Fence.groupName, outbox[outboxHead])
            } catch {
                if error.code == .tryAgain || error.code == .busy {
                    resendTimer = loop.schedule(after: Self.resendInterval) { [weak self] in
                        self?.resendTimer = nil
                        self?.flush()
                    }
                    return
                }
                if error.code == .notMember {
                    // Not (or no longer) in the group: nobody would receive it.
                    onDebug("groupd: a fence domain message was not sent: \(error)")
                } else {
                    fail("lost groupd: \(error)")
                    return
                }
            }
            outbox[outboxHead] = []
            outboxHead += 1
        }
        outbox.removeAll(keepingCapacity: true)
        outboxHead = 0
    }

    private func fail(_ why: String) {
        if let fd = client?.eventFD { loop.unwatch(fd: fd) }
        client?.close()
        client = nil
        onFailure(why)
    }

    func close() {
        if let fd = client?.eventFD { loop.unwatch(fd: fd) }
        client?.close()
        client = nil
    }
}
