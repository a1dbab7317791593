// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// rgmanager: resource trees, their start/stop order, and the cluster-wide service table, as pure values.
///
/// Terminology (rgmanager's):
/// - a *resource rule* is what an agent's `meta-data` says about a resource type: its parameters (primary, unique,
///   required, inherited, defaults), its actions (timeouts, status intervals and depths) and, for container types,
///   the table of child types with their start and stop levels;
/// - a *resource tree* is one `<service>` with its resources nested inline or by `ref=`, every attribute resolved;
/// - the *service table* is what every rgmanager agrees on through its process group: each service's state, owner,
///   last owner, restarts and flags.
///
/// Deviations from rgmanager:
/// - placement is decided by one node, the lowest member of the rgmanager group (clustat's RG-Master), and carried
///   to the others as an agreed message, instead of rgmanager's per-service DLM locks;
/// - a resource element with no rule (an agent that is not installed) is an error, not silently skipped;
/// - after a reload, an added service is placed only once every member's configuration defines it (rgmanager's
///   per-service locks let any node start it at once);
/// - a node's lock (`clusvcadm -l`) is announced in the group, so the coordinator places nothing there, besides the
///   node itself refusing to start anything as rgmanager's did.
public enum ResourceManager {
    /// The deepest typed level a child table may use (RESOURCE_MAX_LEVELS).
    public static let levelsMax = 100
    /// Resources one service tree may hold (a bound on plans and status checks).
    public static let resourcesPerServiceMax = 1_000
    /// Services one table may hold.
    public static let servicesMax = 10_000
    /// The timeout used when an agent's metadata gives none (or 0, rgmanager's "no limit").
    public static let defaultActionTimeout: Duration = .seconds(300)
    /// The name of the process group every rgmanager joins.
    public static let groupName = "rgmanager"
}

extension ResourceManager {
    /// A service's state, with rgmanager's numbers (`RG_STATE_*`, base 110) and names (rg_strings.c).
    public enum ServiceState: UInt16, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case stopped = 110
        case starting = 111
        case started = 112
        case stopping = 113
        case failed = 114
        case uninitialized = 115
        case checking = 116
        case recoverable = 117
        case recovering = 118
        case disabled = 119
        case migrating = 120

        public var description: String {
            switch self {
            case .stopped: "stopped"
            case .starting: "starting"
            case .started: "started"
            case .stopping: "stopping"
            case .failed: "failed"
            case .uninitialized: "uninitialized"
            case .checking: "checking"
            case .recoverable: "recoverable"
            case .recovering: "recovering"
            case .disabled: "disabled"
            case .migrating: "migrating"
            }
        }

        /// States in which the owner may hold some of the service's resources.
        public var holdsResources: Bool {
            switch self {
            case .starting, .started, .stopping, .recovering, .migrating, .checking, .failed: true
            case .stopped, .disabled, .uninitialized, .recoverable: false
            }
        }
    }

    /// Service flags (`RG_FLAG_*`): frozen (`Z`) and partial (`P`).
    public struct ServiceFlags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// No status checks, no failover (`clusvcadm -Z`).
        public static let frozen = ServiceFlags(rawValue: 1)
        /// A non-critical part failed and is stopped.
        public static let partial = ServiceFlags(rawValue: 2)

        /// clustat's letters: `Z`, `P`.
        public var letters: String { (contains(.frozen) ? "Z" : "") + (contains(.partial) ? "P" : "") }
        /// clustat -l's words.
        public var words: String {
            [contains(.frozen) ? "frozen" : nil, contains(.partial) ? "partial" : nil].compactMap { $0 }.joined(separator: ", ")
        }
    }

    /// An agent action the tree can be walked for.
    public enum Action: String, Sendable, Hashable, CaseIterable {
        case start
        case stop
        case status
    }
}
