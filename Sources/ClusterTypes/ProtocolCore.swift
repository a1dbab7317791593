// SPDX-License-Identifier: Apache-2.0

/// A pure protocol core as its hosts drive it (a daemon's `CoreDriver`, the simulator's `CoreHost`): inputs and the
/// current instant in through the single entry point, an output of effects back, and the next instant it wants to
/// be woken at. Hosts carry out every output completely before handing the core its next input.
public protocol ProtocolCore {
    associatedtype Input
    associatedtype Output
    /// The single entry point.
    mutating func handle(_ input: Input, at now: MonotonicInstant) -> Output
    /// When the core next needs `deadlineReached` (nil: never).
    var nextDeadline: MonotonicInstant? { get }
    /// The input that tells the core its deadline has passed.
    static var deadlineReached: Input { get }
}
