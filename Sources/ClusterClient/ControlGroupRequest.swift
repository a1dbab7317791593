// SPDX-License-Identifier: Apache-2.0

/// A request to join or leave a managed group that comes from outside the administrative socket — for dlm_controld,
/// the kernel's `online` and `offline` uevents of a lockspace. `ControlDaemon.run(requests:)` takes them; one that
/// cannot be carried out is handed to `ControlSubsystem.refused(_:error:)`, so the requester hears of it.
public enum ControlGroupRequest: Sendable, Equatable, CustomStringConvertible {
    case join(String)
    case leave(String)

    /// The group the request is about.
    public var group: String {
        switch self {
        case .join(let name), .leave(let name): name
        }
    }

    public var description: String {
        switch self {
        case .join(let name): "join \(name)"
        case .leave(let name): "leave \(name)"
        }
    }
}
