// SPDX-License-Identifier: Apache-2.0
import Testing
@testable import TotemTransport

@Suite("segmented sends: how a batch is cut")
struct SegmentPlanTests {
    private typealias Entry = SegmentPlan.Entry

    @Test("a token visit: each peer gets the frames as one run, and the token goes after every frame")
    func tokenVisit() {
        let sizes = [1_400, 1_400, 1_400, 1_400, 1_400, 900, 80]
        let addresses = Array(repeating: [0, 1], count: 6) + [[1]]
        let plan = SegmentPlan(sizes: sizes, addresses: addresses, segmenting: true)
        #expect(plan.entries == [Entry(address: 0, packets: 0..<6, firstBytes: 1_400),
                                 Entry(address: 1, packets: 0..<6, firstBytes: 1_400),
                                 Entry(address: 1, packets: 6..<7, firstBytes: 80)])
        #expect(plan.entries.map(\.segmentBytes) == [1_400, 1_400, nil])
    }

    @Test("a run is of equal sizes; a shorter packet ends it, a longer one starts the next")
    func equalSizes() {
        let sizes = [1_000, 1_000, 1_200, 1_200, 500, 1_200, 700]
        let plan = SegmentPlan(sizes: sizes, addresses: Array(repeating: [3], count: sizes.count), segmenting: true)
        #expect(plan.entries.map(\.packets) == [0..<2, 2..<5, 5..<7])
        #expect(plan.entries.map(\.segmentBytes) == [1_000, 1_200, 1_200])
    }

    @Test("a run stays within the kernel's limits: 64 datagrams, 65,000 bytes")
    func limits() {
        let small = SegmentPlan(sizes: Array(repeating: 100, count: 70), addresses: Array(repeating: [0], count: 70), segmenting: true)
        #expect(small.entries.map(\.packets) == [0..<64, 64..<70])
        let full = SegmentPlan(sizes: Array(repeating: 1_400, count: 60), addresses: Array(repeating: [0], count: 60), segmenting: true)
        #expect(full.entries.map(\.packets) == [0..<46, 46..<60])
        #expect(full.entries.allSatisfy { $0.packets.count * 1_400 <= SegmentPlan.bytesMax })
    }

    @Test("without segmentation every datagram is an entry of its own, in the same order per address")
    func notSegmenting() {
        let sizes = [1_400, 1_400, 80]
        let plan = SegmentPlan(sizes: sizes, addresses: [[0, 1], [0, 1], [1]], segmenting: false)
        #expect(plan.entries.map(\.packets) == [0..<1, 1..<2, 0..<1, 1..<2, 2..<3])
        #expect(plan.entries.map(\.address) == [0, 0, 1, 1, 1])
        #expect(plan.entries.allSatisfy { $0.segmentBytes == nil })
    }

    @Test("a packet to nobody (this node itself) is skipped; stretches split where the addresses change")
    func stretches() {
        let plan = SegmentPlan(sizes: [500, 500, 500, 500], addresses: [[0], [0], [], [0]], segmenting: true)
        #expect(plan.entries.map(\.packets) == [0..<2, 3..<4])
    }
}
