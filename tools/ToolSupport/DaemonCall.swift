// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import ClusterClient

extension ToolError {
    /// A failed call to `daemon` as a tool reports it: "not running" exits 69, "permission denied" 77, the rest 1.
    public init(_ error: ClusterError, daemon: String) {
        switch error.code {
        case .notRunning:
            self.init("\(daemon) is not running on this node (\(error.message))", exit: .unavailable)
        case .accessDenied:
            self.init("\(daemon) refused the call: it needs root (\(error.message))", exit: .noPermission)
        case .disconnected:
            self.init("\(daemon) went away during the call (\(error.message))")
        case .timedOut:
            self.init("\(daemon) did not answer in time (\(error.message))")
        default:
            self.init("\(daemon): \(error.message)")
        }
    }
}

/// Runs a call to `daemon`, turning a `ClusterError` into the tool's error.
public func daemonCall<T>(_ daemon: String, _ body: () throws(ClusterError) -> T) throws(ToolError) -> T {
    do { return try body() } catch { throw ToolError(error, daemon: daemon) }
}

extension ParsableCommand {
    /// Runs a command's body: a `ToolError` is printed as "TOOL: message" on stderr and ends the command with its
    /// exit code; ArgumentParser reports anything else.
    public func reportingToolErrors(_ tool: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as ToolError {
            ToolOutput.error("\(tool): \(e.message)")
            throw ExitCode(e.exit.rawValue)
        }
    }
}
