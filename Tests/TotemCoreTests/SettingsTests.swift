// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import Testing
@testable import TotemCore

/// The settings totemd derives from `<totem>`: token scaling and the idle hold.
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
}
