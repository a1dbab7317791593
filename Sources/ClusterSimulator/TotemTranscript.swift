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
public final class TotemTranscript {
    private let network = TranscriptNetwork()
    private var logs: [Totem.OperatorLog] = []
    private var output: [String] = []

    public init() {
        network.onOutput = { [unowned self] i, out in printed(i, out) }
    }

    /// Runs `command` and returns what it printed.
    public func run(_ command: String) -> String {
        output = []
        let words = command.split(separator: " ").map(String.init)
        guard let verb = words.first else { return "error: empty command" }
        let args = Array(words.dropFirst())
        switch verb {
        case "start":
            guard let n = args.first.flatMap(Int.init), (1...16).contains(n) else { return "error: start N (1...16)" }
            let token = args.dropFirst().first { $0.hasPrefix("token=") }.flatMap { Int64($0.dropFirst(6)) } ?? 1000
            logs = Array(repeating: Totem.OperatorLog(), count: n)
            network.start(n, token: .milliseconds(token))
        case "crash":
            guard let k = node(args) else { return "error: crash K [icmp]" }
            network.crash(k, icmp: args.contains("icmp"))
            output.append(network.stamp("n\(k + 1) crashed\(args.contains("icmp") ? " (its port is closed)" : " (silently)")"))
        case "restart":
            guard let k = node(args) else { return "error: restart K" }
            logs[k] = Totem.OperatorLog()
            network.restart(k)
        case "leave":
            guard let k = node(args) else { return "error: leave K" }
            network.handle(k, .leave)
        case "send", "send-safe":
            guard let k = node(args), args.count >= 2 else { return "error: \(verb) K TEXT" }
            let text = args.dropFirst().joined(separator: " ")
            network.handle(k, .submit(channel: 1, payload: Array(text.utf8), guarantee: verb == "send" ? .agreed : .safe))
        case "unreachable":
            guard let k = node(args), args.count >= 3, args[1] == "about", let j = Int(args[2]) else {
                return "error: unreachable K about J [xN]"
            }
            let times = args.dropFirst(3).first.flatMap { Int($0.dropFirst()) } ?? 1
            for _ in 0..<times { network.handle(k, .peerUnreachable(NodeID(UInt32(j)))) }
        case "status":
            for (i, m) in network.nodes.enumerated() {
                guard let m else {
                    output.append("n\(i + 1) down")
                    continue
                }
                output.append("n\(i + 1) \(m.state.rawValue) ring \(m.ringID) members \(Totem.OperatorLog.list(m.members))")
            }
        default:
            switch network.common(verb, args) {
            case .unknown: return "error: unknown command \(verb)"
            case .failed(let usage): return "error: \(usage)"
            case .done(let lines): output += lines
            }
        }
        return output.isEmpty ? "ok" : output.joined(separator: "\n")
    }

    /// Runs every block of `script` and returns the script with each block's output (the golden file's text).
    public static func render(_ script: String) -> String {
        let t = TotemTranscript()
        return TranscriptScript.render(script) { t.run($0) }
    }

    private func node(_ args: [String]) -> Int? {
        guard let k = args.first.flatMap(Int.init), (1...network.count).contains(k) else { return nil }
        return k - 1
    }

    /// What a node logged or delivered in one output.
    private func printed(_ i: Int, _ out: Totem.Output) {
        for line in logs[i].lines(for: out) { output.append(network.stamp("n\(i + 1) \(line.level.rawValue): \(line.text)")) }
        for case .message(let d) in out.upcalls {
            output.append(network.stamp("n\(i + 1) delivered \"\(String(decoding: d.payload, as: UTF8.self))\" from n\(d.sender) (\(d.guarantee == .safe ? "safe" : "agreed"))"))
        }
    }
}
