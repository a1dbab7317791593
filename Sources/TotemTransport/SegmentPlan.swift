// SPDX-License-Identifier: Apache-2.0

/// How a batch of sealed packets is cut into `sendmmsg` entries when the kernel segments UDP for us (`UDP_SEGMENT`,
/// Linux's UDP GSO): one entry carries several datagrams to one address as one buffer, and the kernel sends them as
/// separate datagrams of `segmentBytes` each (the last may be shorter), every one within the MTU as before. The
/// stack below the socket (IP, the device, a veth's peer and a bridge) then handles the run once instead of once per
/// datagram; receivers see the same datagrams as without it.
///
/// Order is kept where Totem needs it: the batch is taken in stretches of consecutive packets with the same
/// addresses (a token visit's frames to every peer, then the token to the next node), and a stretch goes out to
/// every address before the next stretch starts, so the token still leaves after every frame of its visit. Within
/// a stretch, each address gets its packets in order.
struct SegmentPlan {
    /// One `sendmmsg` entry: packets `packets` (consecutive batch indices, so one contiguous buffer) to address
    /// `address`, cut by the kernel into datagrams of `segmentBytes` when there are several.
    struct Entry: Equatable {
        var address: Int
        var packets: Range<Int>
        var segmentBytes: Int? { packets.count > 1 ? firstBytes : nil }
        var firstBytes: Int
    }

    /// The kernel's limit on datagrams in one segmented send (UDP_MAX_SEGMENTS; 64 before Linux 6.x raised it).
    static let segmentsMax = 64
    /// The limit on one segmented send's bytes: it is one UDP datagram to the stack above the device.
    static let bytesMax = 65_000

    private(set) var entries: [Entry] = []

    /// `sizes[i]` is packet i's length, `addresses[i]` the addresses (indices into the caller's table) it goes to.
    /// With `segmenting` false every packet is an entry of its own, in the same order.
    init(sizes: [Int], addresses: [[Int]], segmenting: Bool) {
        precondition(sizes.count == addresses.count)
        var start = 0
        while start < sizes.count {
            var end = start + 1
            while end < sizes.count && addresses[end] == addresses[start] { end += 1 }
            for address in addresses[start] {
                cut(start..<end, to: address, sizes: sizes, segmenting: segmenting)
            }
            start = end
        }
    }

    /// Runs of equal sizes (the last of a run may be shorter), within the kernel's limits.
    private mutating func cut(_ stretch: Range<Int>, to address: Int, sizes: [Int], segmenting: Bool) {
        var i = stretch.lowerBound
        while i < stretch.upperBound {
            let size = sizes[i]
            var end = i + 1
            var bytes = size
            if segmenting {
                while end < stretch.upperBound, end - i < Self.segmentsMax, sizes[end] <= size, bytes + sizes[end] <= Self.bytesMax {
                    bytes += sizes[end]
                    end += 1
                    if sizes[end - 1] < size { break }  // a shorter one ends the run
                }
            }
            entries.append(Entry(address: address, packets: i..<end, firstBytes: size))
            i = end
        }
    }
}
