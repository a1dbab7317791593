// SPDX-License-Identifier: Apache-2.0

/// The IPC services the daemons offer. Each name is prefixed with the node instance (`NAME.`) when one is set.
public enum ServiceName {
    /// totemd: ordered multicast and membership for local clients.
    public static let totem = "totemd"
    /// totemd's root-only service.
    public static let totemAdmin = "totemd-admin"
    /// quorumd: the cman API.
    public static let quorum = "cman_client"
    /// quorumd's root-only service (cman_admin_init).
    public static let quorumAdmin = "cman_admin"
    /// groupd: closed process groups.
    public static let groups = "groupd"
    /// fenced: the fence domain's status and events.
    public static let fence = "fenced"
    /// fenced's root-only service (join, leave, acknowledge, report an external fence).
    public static let fenceAdmin = "fenced-admin"
}
