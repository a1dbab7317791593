// SPDX-License-Identifier: Apache-2.0

extension Quorum {
    /// What a running quorumd requires that its cluster.conf does not say, kept in its state directory so that a
    /// restarted quorumd starts from it: the cluster's sticky expected votes (raised by totals seen, reloads and
    /// `cman_tool expected`/`votes`) and this node's votes after `cman_tool votes`, for the configuration version
    /// they apply to. A fresh quorumd that started from its file alone could count a quorum the running cluster no
    /// longer allows (issue 9's seed 16490: expected votes raised with another node's votes at runtime).
    public struct PersistedState: Hashable, Sendable {
        /// The cluster.conf version this state goes with: a file of another version (an administrator wrote a newer
        /// one) discards it.
        public var configVersion: UInt64
        /// The cluster-wide expected votes (`StateMachine.expectedVotes`).
        public var expectedVotes: UInt32
        /// This node's votes.
        public var votes: UInt32

        public init(configVersion: UInt64, expectedVotes: UInt32, votes: UInt32) {
            self.configVersion = configVersion
            self.expectedVotes = expectedVotes
            self.votes = votes
        }

        /// The state file's text: one `key value` line each.
        public var text: String {
            "config_version \(configVersion)\nexpected_votes \(expectedVotes)\nvotes \(votes)\n"
        }

        /// Reads `text`; nil if it is not exactly what `text` writes (a garbled file).
        public init?(text: String) {
            var values: [String: UInt64] = [:]
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                guard words.count == 2, let v = UInt64(words[1]), values[String(words[0])] == nil else { return nil }
                values[String(words[0])] = v
            }
            guard values.count == 3, let c = values["config_version"], let e = values["expected_votes"].flatMap(UInt32.init(exactly:)),
                  let v = values["votes"].flatMap(UInt32.init(exactly:)) else { return nil }
            self.init(configVersion: c, expectedVotes: e, votes: v)
        }
    }
}

extension Quorum.StateMachine {
    /// The state to persist now.
    var persistedState: Quorum.PersistedState {
        Quorum.PersistedState(configVersion: configVersion, expectedVotes: expectedVotes, votes: nodes[nodeID]!.votes)
    }

    /// Starts from a predecessor's persisted state if it goes with this file's version: the higher of the file's and
    /// the persisted expected votes, and the persisted votes of this node.
    mutating func resume(from p: Quorum.PersistedState?) {
        if let p, p.configVersion == configVersion, !settings.mutations.contains(.persistedStateIgnored) {
            expectedVotes = max(expectedVotes, p.expectedVotes)
            nodes[nodeID]!.votes = p.votes
            for id in nodes.keys.sorted() { nodes[id]!.expectedVotes = max(nodes[id]!.expectedVotes, expectedVotes) }
        }
        lastPersisted = persistedState
    }

    /// Asks the shell to persist the state if it changed since last time.
    mutating func persistIfChanged(out: inout Quorum.Output) {
        let s = persistedState
        guard s != lastPersisted else { return }
        lastPersisted = s
        out.effects.append(.persistState(s))
    }
}
