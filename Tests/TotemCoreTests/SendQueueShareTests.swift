// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterTypes
import Testing
@testable import TotemCore

/// The send queue is sized from the node's share of the ring: two of its visits, not two visits of max_messages.
@Suite("send queue sized by the node's share")
struct SendQueueShareTests {
    /// Five nodes on one ring at the defaults (window 120, max_messages 60, MTU 1500); `flooding` keep their
    /// queues topped up with 1 KiB messages for `duration`.
    static func flood(_ flooding: [Int], for duration: Duration) -> Lockstep {
        var net = Lockstep(count: 5, settings: Totem.Settings(config: TotemConfig(), nodeCount: 5))
        net.startAll()
        net.run(for: .seconds(3))
        #expect(net.isOneRing([0, 1, 2, 3, 4]))
        let payload = [UInt8](repeating: 1, count: 1_024)
        var elapsed = Duration.zero
        while elapsed < duration {
            for i in flooding {
                while true {
                    net.handle(i, .submit(channel: 1, payload: payload, guarantee: .agreed))
                    if net.submitted[i].last != .accepted { break }
                }
            }
            net.run(for: .microseconds(200))
            elapsed += .microseconds(200)
        }
        return net
    }

    @Test("alone on the ring a sender keeps two visits of max_messages; with five sending, about two of its fifth")
    func queueFollowsShare() throws {
        let alone = Self.flood([0], for: .milliseconds(300))
        let one = try #require(alone.nodes[0])
        #expect(one.visitShare == one.settings.maxMessages)
        #expect(one.sendQueueBytesLimit == one.settings.sendQueueBytesMax)

        var all = Self.flood([0, 1, 2, 3, 4], for: .milliseconds(300))
        for i in 0..<5 {
            let node = try #require(all.nodes[i])
            // A fifth of the window each (24), give or take a message: two visits of that, not of 60.
            #expect((20...30).contains(node.visitShare), "node \(i + 1): share \(node.visitShare)")
            #expect(node.sendQueueBytesLimit < node.settings.sendQueueBytesMax / 2)
            #expect(node.sendQueueBytesLimit >= Totem.Settings.sendQueueBytesMin)
            #expect(node.sendQueue.bytes <= node.sendQueueBytesLimit + 1_100, "node \(i + 1) queued \(node.sendQueue.bytes)")
        }
        // The flood over and the queues drained, a visit with nothing to send gives the whole bound back.
        all.run(for: .seconds(1))
        for i in 0..<5 {
            let node = try #require(all.nodes[i])
            #expect(node.sendQueue.isEmpty && node.visitShare == node.settings.maxMessages, "node \(i + 1)")
            #expect(!node.backPressured, "node \(i + 1): pressure released")
        }
        #expect(all.deliveries(0).count == all.deliveries(4).count && all.deliveries(0).count > 1_000)
    }
}
