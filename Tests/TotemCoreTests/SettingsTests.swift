// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import Testing
@testable import TotemCore

/// The settings totemd derives from `<totem>`: token scaling, the idle hold and the send queue's size.
@Suite struct SettingsTests {
    @Test("token_coefficient scales the token for three or more nodes")
    func tokenScaled() {
        #expect(Totem.Settings(config: TotemConfig(), nodeCount: 2).token == .milliseconds(1000))
        #expect(Totem.Settings(config: TotemConfig(), nodeCount: 3).token == .milliseconds(1650))
        #expect(Totem.Settings(config: TotemConfig(), nodeCount: 5).token == .milliseconds(2950))
    }

    @Test("an idle token is held at most 50 ms when <totem hold> is silent, whatever the node count")
    func idleHoldCapped() {
        for nodes in [2, 3, 5, 16] {
            let s = Totem.Settings(config: TotemConfig(), nodeCount: nodes)
            #expect(s.hold == Totem.Settings.idleHoldMax, "\(nodes) nodes: hold \(s.hold)")
            #expect(s.hold < s.tokenRetransmit)
        }
        // openais's rule alone would hold it 294 ms with 3 nodes (token 1650 ms, retransmit 392.9 ms).
        let plain = Totem.Settings(token: .milliseconds(1650))
        #expect(plain.hold > .milliseconds(290) && plain.hold < .milliseconds(300))
    }

    @Test("<totem hold> is taken as given, and a short token keeps openais's shorter hold")
    func explicitHoldKept() {
        var t = TotemConfig()
        t.hold = .milliseconds(200)
        #expect(Totem.Settings(config: t, nodeCount: 3).hold == .milliseconds(200))
        var short = TotemConfig()
        short.token = .milliseconds(100)
        let s = Totem.Settings(config: short, nodeCount: 2)
        #expect(s.hold == Totem.Settings(token: .milliseconds(100)).hold)
        #expect(s.hold < Totem.Settings.idleHoldMax)
    }

    @Test("the send queue holds two visits of full frames (at least 64 KiB), at any MTU and max_messages")
    func sendQueueFromWindow() {
        let plain = Totem.Settings(config: TotemConfig(), nodeCount: 3)
        #expect(plain.sendQueueBytesMax == 2 * 60 * (1500 - Totem.Settings.datagramOverheadBytes))
        var jumbo = TotemConfig()
        jumbo.netmtu = 9000
        #expect(Totem.Settings(config: jumbo, nodeCount: 3).sendQueueBytesMax == 2 * 60 * (9000 - Totem.Settings.datagramOverheadBytes))
        var small = TotemConfig()
        small.maxMessages = 17
        #expect(Totem.Settings(config: small, nodeCount: 3).sendQueueBytesMax == Totem.Settings.sendQueueBytesMin)
    }

    @Test("on a jumbo-frame ring a node queues two visits of full frames before it pushes back")
    func jumboVisitQueued() {
        let accepted = Self.acceptedUntilRefused(Totem.Settings(token: .milliseconds(400), netmtu: 9000), payloadBytes: 8_000)
        #expect(accepted >= 2 * Totem.Settings.defaultMaxMessages, "\(accepted) messages of 8,000 bytes queued")
    }

    @Test("small messages: the queue holds 512 of them before it pushes back (256 left a visit's frames mostly empty at 64 B)")
    func smallMessagesQueued() {
        #expect(Self.acceptedUntilRefused(Totem.Settings(token: .milliseconds(400)), payloadBytes: 64) == 512)
    }

    /// How many messages of `payloadBytes` node 2 of a two-node ring queues before "try again" (none leaves
    /// meanwhile: node 2 does not hold the token and the network does not run); -1 if it was never refused.
    static func acceptedUntilRefused(_ settings: Totem.Settings, payloadBytes: Int) -> Int {
        var net = Lockstep(count: 2, settings: settings)
        net.startAll()
        net.run(for: .seconds(3))
        #expect(net.isOneRing([0, 1]))
        let payload = [UInt8](repeating: 7, count: payloadBytes)
        while net.submitted[1].last != .tryAgain && net.submitted[1].count < 5_000 {
            net.handle(1, .submit(channel: 1, payload: payload, guarantee: .agreed))
        }
        guard net.submitted[1].last == .tryAgain else { return -1 }
        return net.submitted[1].filter { $0 == .accepted }.count
    }
}
