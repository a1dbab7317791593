// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// A min-heap of scheduled items keyed by (instant, insertion order): ties break by insertion, deterministically.
struct EventQueue<Item> {
    private var heap: [(at: MonotonicInstant, order: UInt64, item: Item)] = []
    private var nextOrder: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextInstant: MonotonicInstant? { heap.first?.at }

    mutating func push(_ item: Item, at: MonotonicInstant) {
        heap.append((at, nextOrder, item))
        nextOrder += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (at: MonotonicInstant, item: Item)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && less(l, m) { m = l }
            if r < heap.count && less(r, m) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.at, top.item)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (heap[a].at, heap[a].order) < (heap[b].at, heap[b].order)
    }
}
