// SPDX-License-Identifier: Apache-2.0

/// What a control daemon drives: a kernel subsystem (the DLM, OCFS2's node manager) or anything else that must be
/// told the cluster's nodes and, for each managed group, when to stop and with which members to start.
///
/// `ControlDaemon` calls these from its one loop, in the order the cluster's events dictate. A call that throws is
/// fatal: the daemon stops, since the subsystem's state is then unknown (as dlm_controld exits when configfs fails;
/// its groups see the process go and the node is fenced before they recover).
public protocol ControlSubsystem {
    /// The cluster's member nodes changed (seed 003's STATECHANGE, as a diff): add and remove them in the subsystem.
    /// Called once at start with every member as an addition.
    mutating func apply(_ changes: [Control.Topology.Change], cluster: ControlCluster) throws

    /// A group is being joined: create it in the subsystem (stopped).
    mutating func created(group: String) throws

    /// The group's membership changed: suspend it.
    mutating func stop(group: String) throws

    /// Every member has stopped and the failed nodes are fenced: set the group's members and start its recovery.
    /// Return once the local part has started.
    mutating func start(group: String, members: [NodeID]) throws

    /// Every member has started: the group runs with `members` (the kernel is told recovery is done).
    mutating func recovered(group: String, members: [NodeID]) throws

    /// The group was left: remove it from the subsystem.
    mutating func removed(group: String) throws

    /// A request on the administrative socket the framework does not handle itself (`join`, `leave`, `ls`, `nodes`,
    /// `pin`, `unpin` are the framework's). Return the answer's body, or nil for "unknown request".
    mutating func handle(request: [String], cluster: ControlCluster) throws -> String?

    /// A join or leave that came through `ControlDaemon.run(requests:)` cannot be carried out (an invalid name, a
    /// group joined already or not joined, groupd refusing): tell whoever asked (the DLM's kernel waits on
    /// `event_done`). The default does nothing; the daemon logs the refusal either way.
    mutating func refused(_ request: ControlGroupRequest, error: ClusterError) throws
}

extension ControlSubsystem {
    public mutating func handle(request: [String], cluster: ControlCluster) throws -> String? { nil }
    public mutating func refused(_ request: ControlGroupRequest, error: ClusterError) throws {}
}

/// The cluster as a control daemon sees it.
public struct ControlCluster: Sendable {
    /// cluster.conf's cluster name.
    public var name: String
    /// This node.
    public var localNode: NodeID
    public var quorate: Bool
    /// The member nodes (and the pins holding departed ones).
    public var topology: Control.Topology

    public init(name: String, localNode: NodeID, quorate: Bool, topology: Control.Topology) {
        self.name = name
        self.localNode = localNode
        self.quorate = quorate
        self.topology = topology
    }
}
