// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// The messages of one ring a node holds, by sequence number: what it received, how far it has everything
/// (`aru`), what it delivered, and what it must keep for retransmission.
struct ReceiveBuffer {
    let ringID: Totem.RingID
    private(set) var messages: [UInt32: Totem.Mcast] = [:]
    /// All received up to (and including) this sequence number.
    private(set) var aru: UInt32
    private(set) var highSeqReceived: UInt32
    var highDelivered: UInt32
    /// Messages at or below this were discarded as stable.
    private(set) var floor: UInt32

    init(ringID: Totem.RingID, initialSequence: UInt32) {
        self.ringID = ringID
        aru = initialSequence
        highSeqReceived = initialSequence
        highDelivered = initialSequence
        floor = initialSequence
    }

    subscript(seq: UInt32) -> Totem.Mcast? { messages[seq] }

    var count: Int { messages.count }

    /// Stores `m` if new and inside the receive window. Returns whether it was stored.
    mutating func insert(_ m: Totem.Mcast) -> Bool {
        guard seqLT(aru, m.seq), messages[m.seq] == nil else { return false }
        guard seqDistance(aru, m.seq) <= Totem.Settings.receiveWindowMax else { return false }
        messages[m.seq] = m
        if seqLT(highSeqReceived, m.seq) { highSeqReceived = m.seq }
        while messages[aru &+ 1] != nil { aru &+= 1 }
        return true
    }

    /// Whether `seq` is beyond what this buffer would store.
    func outOfWindow(_ seq: UInt32) -> Bool { seqDistance(aru, seq) > Totem.Settings.receiveWindowMax }

    /// Sequence numbers in (aru, upTo] not received, at most `limit`.
    func missing(upTo: UInt32, limit: Int) -> [UInt32] {
        var out: [UInt32] = []
        var s = aru &+ 1
        var scanned = 0
        while seqLE(s, upTo) && out.count < limit && scanned < Totem.Settings.receiveWindowMax {
            if messages[s] == nil { out.append(s) }
            s &+= 1
            scanned += 1
        }
        return out
    }

    /// Discards messages that every member has and this node has delivered.
    mutating func discard(upTo stable: UInt32) {
        let limit = seqMin(stable, highDelivered)
        while seqLT(floor, limit) {
            floor &+= 1
            messages[floor] = nil
        }
    }
}
