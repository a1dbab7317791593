// SPDX-License-Identifier: Apache-2.0

/// A reason a daemon cannot start, with the exit code it should end with.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public var exitCode: DaemonExitCode
    public init(_ description: String, _ exitCode: DaemonExitCode) {
        self.description = description
        self.exitCode = exitCode
    }
}
