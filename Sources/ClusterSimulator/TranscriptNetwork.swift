// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import TotemCore

/// The deterministic network the transcript tests run totem cores on: every packet takes 100 µs unless a partition
/// cuts it, and a crashed node's port is either closed (its host answers with port unreachable) or silent. Every
/// output of every totem core goes to `onOutput`, so an upper layer (quorum) can be stacked on top; an upper layer
/// with deadlines of its own gives them through `upperDeadline` and is woken with `onUpperDeadline`.
final class TranscriptNetwork {
    private(set) var nodes: [Totem.StateMachine?] = []
    private var persisted: [UInt64] = []
    private var closed: Set<Int> = []
    private var side: [Int] = []
    private(set) var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    private var inflight: [(at: MonotonicInstant, to: Int, bytes: [UInt8]?, unreachableFrom: Int?)] = []
    private(set) var settings = Totem.Settings()
    /// Packets in flight at once before the script is called runaway.
    static let inflightCountMax = 1 << 16

    /// Each totem output, after the network took its datagrams: node index and output.
    var onOutput: (Int, Totem.Output) -> Void = { _, _ in }
    var upperDeadline: () -> MonotonicInstant? = { nil }
    var onUpperDeadline: () -> Void = {}

    var count: Int { nodes.count }

    /// `[1234ms] text`, stamped with the virtual time.
    func stamp(_ text: String) -> String { "[\(now.nanoseconds / 1_000_000)ms] \(text)" }

    /// Starts `n` nodes and runs until they form one ring (at most 10 s).
    func start(_ n: Int, token: Duration) {
        settings = Totem.Settings(token: token)
        nodes = (1...n).map { Totem.StateMachine(nodeID: NodeID(UInt32($0)), clusterID: 1, settings: settings) }
        persisted = Array(repeating: 0, count: n)
        side = Array(repeating: 0, count: n)
        for i in 0..<n { handle(i, .start) }
        advance(until: { [unowned self] in nodes.allSatisfy { $0?.state == .operational && $0?.members.count == n } }, limit: .seconds(10))
    }

    /// Node `k` (0-based) stops; with `icmp` its host answers its peers' packets with port unreachable.
    func crash(_ k: Int, icmp: Bool) {
        nodes[k] = nil
        if icmp { closed.insert(k) }
    }

    /// Node `k` starts again with only its persisted ring sequence.
    func restart(_ k: Int) {
        closed.remove(k)
        nodes[k] = Totem.StateMachine(nodeID: NodeID(UInt32(k + 1)), clusterID: 1, settings: settings, persistedRingSequence: persisted[k])
        handle(k, .start)
    }

    /// Cuts the network into sides (lists of 1-based node numbers); a node in no side hears nobody.
    func partition(_ sides: [[Int]]) {
        side = Array(repeating: -1, count: nodes.count)
        for (s, group) in sides.enumerated() {
            for k in group where (1...nodes.count).contains(k) { side[k - 1] = s }
        }
    }

    func heal() { side = Array(repeating: 0, count: nodes.count) }

    /// What a shared command did.
    enum Outcome: Equatable {
        /// Not one of the shared commands.
        case unknown
        /// Done; the lines it printed itself (what the nodes printed meanwhile went to `onOutput`).
        case done([String])
        case failed(usage: String)
    }

    /// The commands every transcript takes: `run DURATION` (`250ms`, `2s`), `partition 1,2 3` (sides), `heal`.
    func common(_ verb: String, _ args: [String]) -> Outcome {
        switch verb {
        case "run":
            guard let d = args.first.flatMap(TranscriptScript.duration) else { return .failed(usage: "run DURATION (e.g. 500ms, 2s)") }
            advance(until: { false }, limit: d)
            return .done([])
        case "partition":
            guard !args.isEmpty else { return .failed(usage: "partition 1,2 3") }
            partition(args.map { $0.split(separator: ",").compactMap { Int($0) } })
            return .done([stamp("partition \(args.joined(separator: " | "))")])
        case "heal":
            heal()
            return .done([stamp("healed")])
        default:
            return .unknown
        }
    }

    /// Feeds node `i`'s totem core, sends its datagrams, then hands the output to `onOutput`.
    func handle(_ i: Int, _ event: Totem.Event) {
        guard var m = nodes[i] else { return }
        let out = m.handle(event, at: now)
        nodes[i] = m
        if let seq = out.ringSequenceToPersist { persisted[i] = seq }
        for d in out.datagrams {
            let targets: [Int]
            switch d.destination {
            case .all: targets = nodes.indices.filter { $0 != i }
            case .node(let n): targets = [Int(n.rawValue) - 1].filter { nodes.indices.contains($0) }
            }
            for t in targets where side[t] == side[i] {
                if nodes[t] == nil {
                    if closed.contains(t) { inflight.append((now + .microseconds(100), i, nil, t)) }
                    continue
                }
                inflight.append((now + .microseconds(100), t, d.bytes, nil))
            }
        }
        precondition(inflight.count <= Self.inflightCountMax, "transcript network: \(inflight.count) packets in flight")
        onOutput(i, out)
    }

    /// Runs the network until `done` or for `limit` of virtual time, whichever is first.
    func advance(until done: () -> Bool, limit: Duration) {
        let end = now + limit
        while !done() {
            let nextPacket = inflight.first?.at
            let nextDeadline = nodes.compactMap { $0?.nextDeadline }.min()
            let nextUpper = upperDeadline()
            guard let at = [nextPacket, nextDeadline, nextUpper].compactMap({ $0 }).min(), at <= end else { break }
            now = max(now, at)
            if let p = nextPacket, p <= now {
                let item = inflight.removeFirst()
                if let about = item.unreachableFrom {
                    handle(item.to, .peerUnreachable(NodeID(UInt32(about + 1))))
                } else if let bytes = item.bytes {
                    handle(item.to, .datagram(bytes))
                }
            } else if let d = nextDeadline, d <= now {
                for i in nodes.indices where (nodes[i]?.nextDeadline).map({ $0 <= now }) ?? false { handle(i, .deadlineReached) }
            } else {
                onUpperDeadline()
            }
        }
        if !done() || limit == .zero { now = max(now, end) }
    }
}

/// The script format of the transcript tests (etcd raft's datadriven): blocks of comment lines (#), a command line,
/// and, after `----`, the output the command printed; rendering runs each command and rewrites the output.
enum TranscriptScript {
    struct Block {
        var comments: [String]
        var command: String
    }

    /// Runs every block of `script` through `run` and returns the script with each block's output (the golden
    /// file's text).
    static func render(_ script: String, run: (String) -> String) -> String {
        var rendered: [String] = []
        for block in blocks(script) {
            if block.command.isEmpty {
                rendered.append(block.comments.joined(separator: "\n"))
            } else {
                rendered.append((block.comments + [block.command, "----", run(block.command)]).joined(separator: "\n"))
            }
        }
        return rendered.joined(separator: "\n\n") + "\n"
    }

    /// The blocks of a script: comment lines (#), a command line, and (ignored) previous output after `----`.
    static func blocks(_ text: String) -> [Block] {
        var result: [Block] = []
        for chunk in text.split(separator: "\n\n", omittingEmptySubsequences: true) {
            let lines = chunk.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let head = lines.prefix { $0 != "----" }
            let comments = head.filter { $0.hasPrefix("#") }
            let command = head.filter { !$0.hasPrefix("#") && !$0.isEmpty }.joined(separator: " ")
            if !command.isEmpty || !comments.isEmpty { result.append(Block(comments: comments, command: command)) }
        }
        return result
    }

    /// `250ms`, `2s`.
    static func duration(_ s: String) -> Duration? {
        if s.hasSuffix("ms"), let v = Int64(s.dropLast(2)) { return .milliseconds(v) }
        if s.hasSuffix("s"), let v = Int64(s.dropLast()) { return .seconds(v) }
        return nil
    }
}
