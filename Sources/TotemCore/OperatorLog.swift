// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

extension Totem {
    /// Words what an output means for an operator: the stable lines totemd logs (admins grep for them), defined in
    /// one place so the daemon and the transcript tests print the same text.
    public struct OperatorLog: Sendable {
        /// How loud a line is; the shell maps it to its logger's levels.
        public typealias Level = OperatorLine.Level
        public typealias Line = OperatorLine

        /// Who left, from the transitional configuration, until the regular one names who joined.
        private var lastLeft: [NodeID] = []

        public init() {}

        /// The lines for one output, in order.
        public mutating func lines(for out: Output) -> [Line] {
            var lines: [Line] = []
            for n in out.notices { lines.append(Self.line(for: n)) }
            for u in out.upcalls {
                guard case .configurationChange(let c) = u else { continue }
                switch c.kind {
                case .transitional:
                    lastLeft = c.left
                case .regular:
                    let text = "A new membership (\(c.ringID)) was formed. Members joined: \(Self.list(c.joined)) left: \(Self.list(lastLeft))"
                    lines.append(Line(level: .notice, text: text.replacingOccurrences(of: "  ", with: " ").trimmingTrailingSpaces))
                    lines.append(Line(level: .notice, text: "Members: \(Self.list(c.members))"))
                    lastLeft = []
                }
            }
            if out.stateChanged == .left { lines.append(Line(level: .notice, text: "Left the ring")) }
            return lines
        }

        static func line(for notice: Notice) -> Line {
            switch notice {
            case .gatherEntered(.start, _):
                return Line(level: .info, text: "Joining the cluster: gathering members")
            case .gatherEntered(let reason, let from):
                return Line(level: .notice, text: "Forming a new ring (\(from.rawValue.uppercased()) → GATHER): \(reason.rawValue)")
            case .consensusTimeout(let failed):
                return Line(level: .warning, text: "No agreement from node(s) \(list(failed)) within the consensus timeout: declared failed")
            case .unreachableFailed(let failed):
                return Line(level: .warning, text: "Node(s) \(list(failed)): port unreachable and silent to probes and joins: declared failed")
            case .failedToReceive:
                return Line(level: .error, text: "FAILED TO RECEIVE: messages missing for fail_recv_const token visits; going on alone until the ring takes this node back")
            }
        }

        /// Node ids as the log shows them: space-separated.
        public static func list(_ nodes: [NodeID]) -> String { nodes.map(\.description).joined(separator: " ") }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }

    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
