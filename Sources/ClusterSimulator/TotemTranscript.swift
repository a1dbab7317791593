// SPDX-License-Identifier: Apache-2.0
import ClusterTypes
import TotemCore

/// Scripted Totem scenarios whose operator-visible output is compared with a checked-in golden file (etcd raft's
/// datadriven tests): each block of a script is a command, `----`, and the lines every node logged or delivered while
/// it ran, with the virtual time. The network is deterministic (every packet takes 100 µs unless cut), so a change of
/// behaviour shows as a diff of the file.
///
/// Commands: `start N [token=MS]`, `run DURATION` (`250ms`, `2s`), `crash K [icmp]` (icmp: its host answers with
/// port unreachable), `restart K`, `leave K`, `partition 1,2 3` (sides), `heal`, `send K TEXT`, `send-safe K TEXT`,
/// `unreachable K about J [xN]` (spurious reports), `status`.
public struct TotemTranscript {
    private var nodes: [Totem.StateMachine?] = []
    private var logs: [Totem.OperatorLog] = []
    private var persisted: [UInt64] = []
    private var closed: Set<Int> = []
    private var side: [Int] = []
    private var now = MonotonicInstant(nanoseconds: 1_000_000_000)
    private var inflight: [(at: MonotonicInstant, to: Int, bytes: [UInt8]?, unreachableFrom: Int?)] = []
    private var settings = Totem.Settings()
    private var output: [String] = []

    public init() {}

    /// Runs `command` and returns what it printed.
    public mutating func run(_ command: String) -> String {
        output = []
        let words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { return "error: empty command" }
        let args = Array(words.dropFirst())
        switch verb {
        case "start":
            guard let n = args.first.flatMap(Int.init), (1...16).contains(n) else { return "error: start N (1...16)" }
            let token = args.dropFirst().first { $0.hasPrefix("token=") }.flatMap { Int64($0.dropFirst(6)) } ?? 1000
            settings = Totem.Settings(token: .milliseconds(token))
            nodes = (1...n).map { Totem.StateMachine(nodeID: NodeID(UInt32($0)), clusterID: 1, settings: settings) }
            logs = Array(repeating: Totem.OperatorLog(), count: n)
            persisted = Array(repeating: 0, count: n)
            side = Array(repeating: 0, count: n)
            for i in 0..<n { handle(i, .start) }
            advance(until: { t in t.nodes.allSatisfy { $0?.state == .operational && $0?.members.count == n } }, limit: .seconds(10))
        case "run":
            guard let d = args.first.flatMap(Self.duration) else { return "error: run DURATION (e.g. 500ms, 2s)" }
            advance(until: { _ in false }, limit: d)
        case "crash":
            guard let k = node(args) else { return "error: crash K [icmp]" }
            nodes[k] = nil
            if args.contains("icmp") { closed.insert(k) }
            output.append(stamp("n\(k + 1) crashed\(args.contains("icmp") ? " (its port is closed)" : " (silently)")"))
        case "restart":
            guard let k = node(args) else { return "error: restart K" }
            closed.remove(k)
            nodes[k] = Totem.StateMachine(nodeID: NodeID(UInt32(k + 1)), clusterID: 1, settings: settings,
                                          persistedRingSequence: persisted[k])
            logs[k] = Totem.OperatorLog()
            handle(k, .start)
        case "leave":
            guard let k = node(args) else { return "error: leave K" }
            handle(k, .leave)
        case "partition":
            guard !args.isEmpty else { return "error: partition 1,2 3" }
            side = Array(repeating: -1, count: nodes.count)
            for (s, group) in args.enumerated() {
                for k in group.split(separator: ",").compactMap({ Int($0) }) where (1...nodes.count).contains(k) { side[k - 1] = s }
            }
            output.append(stamp("partition \(args.joined(separator: " | "))"))
        case "heal":
            side = Array(repeating: 0, count: nodes.count)
            output.append(stamp("healed"))
        case "send", "send-safe":
            guard let k = node(args), args.count >= 2 else { return "error: \(verb) K TEXT" }
            let text = args.dropFirst().joined(separator: " ")
            handle(k, .submit(channel: 1, payload: Array(text.utf8), guarantee: verb == "send" ? .agreed : .safe))
        case "unreachable":
            guard let k = node(args), args.count >= 3, args[1] == "about", let j = Int(args[2]) else {
                return "error: unreachable K about J [xN]"
            }
            let times = args.dropFirst(3).first.flatMap { Int($0.dropFirst()) } ?? 1
            for _ in 0..<times { handle(k, .peerUnreachable(NodeID(UInt32(j)))) }
        case "status":
            for (i, m) in nodes.enumerated() {
                guard let m else {
                    output.append("n\(i + 1) down")
                    continue
                }
                output.append("n\(i + 1) \(m.state.rawValue) ring \(m.ringID) members \(Totem.OperatorLog.list(m.members))")
            }
        default:
            return "error: unknown command \(verb)"
        }
        return output.isEmpty ? "ok" : output.joined(separator: "\n")
    }

    /// Runs every block of `script` and returns the script with each block's output (the golden file's text).
    public static func render(_ script: String) -> String {
        var t = TotemTranscript()
        var rendered: [String] = []
        for block in blocks(script) {
            if block.command.isEmpty {
                rendered.append(block.comments.joined(separator: "\n"))
            } else {
                rendered.append((block.comments + [block.command, "----", t.run(block.command)]).joined(separator: "\n"))
            }
        }
        return rendered.joined(separator: "\n\n") + "\n"
    }

    struct Block {
        var comments: [String]
        var command: String
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

    // MARK: - The deterministic network

    private func node(_ args: [String]) -> Int? {
        guard let k = args.first.flatMap(Int.init), (1...nodes.count).contains(k) else { return nil }
        return k - 1
    }

    static func duration(_ s: String) -> Duration? {
        if s.hasSuffix("ms"), let v = Int64(s.dropLast(2)) { return .milliseconds(v) }
        if s.hasSuffix("s"), let v = Int64(s.dropLast()) { return .seconds(v) }
        return nil
    }

    private func stamp(_ text: String) -> String { "[\(now.nanoseconds / 1_000_000)ms] \(text)" }

    private mutating func handle(_ i: Int, _ event: Totem.Event) {
        guard var m = nodes[i] else { return }
        let out = m.handle(event, at: now)
        nodes[i] = m
        if let seq = out.ringSequenceToPersist { persisted[i] = seq }
        for line in logs[i].lines(for: out) { output.append(stamp("n\(i + 1) \(line.level.rawValue): \(line.text)")) }
        for case .message(let d) in out.upcalls {
            output.append(stamp("n\(i + 1) delivered \"\(String(decoding: d.payload, as: UTF8.self))\" from n\(d.sender) (\(d.guarantee == .safe ? "safe" : "agreed"))"))
        }
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
    }

    private mutating func advance(until done: (TotemTranscript) -> Bool, limit: Duration) {
        let end = now + limit
        while !done(self) {
            let nextPacket = inflight.first?.at
            let nextDeadline = nodes.compactMap { $0?.nextDeadline }.min()
            guard let at = [nextPacket, nextDeadline].compactMap({ $0 }).min(), at <= end else { break }
            now = max(now, at)
            if let p = nextPacket, p <= now {
                let item = inflight.removeFirst()
                if let about = item.unreachableFrom {
                    handle(item.to, .peerUnreachable(NodeID(UInt32(about + 1))))
                } else if let bytes = item.bytes {
                    handle(item.to, .datagram(bytes))
                }
            } else {
                for i in nodes.indices where (nodes[i]?.nextDeadline).map({ $0 <= now }) ?? false { handle(i, .deadlineReached) }
            }
        }
        if !done(self) || limit == .zero { now = max(now, end) }
    }
}
