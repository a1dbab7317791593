// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterSystem
import Foundation

/// Exit codes shared by the command-line tools (sysexits-style where one fits).
public enum ToolExit: Int32, Sendable {
    case success = 0
    /// The operation failed (validation errors, refused edit, daemon said no).
    case failure = 1
    /// Bad command-line usage.
    case usage = 64
    /// The configuration is invalid.
    case configInvalid = 78
    /// A daemon the tool needs is not running.
    case unavailable = 69
    /// Permission denied.
    case noPermission = 77
}

/// An error a tool reports on stderr before exiting with `exit`.
public struct ToolError: Error, CustomStringConvertible {
    public var message: String
    public var exit: ToolExit
    public init(_ message: String, exit: ToolExit = .failure) {
        self.message = message
        self.exit = exit
    }
    public var description: String { message }
}

/// Output helpers for tools: human text on stdout, errors on stderr, JSON on request.
public enum ToolOutput {
    /// Writes `message` and a newline to stderr.
    public static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Prints `value` as pretty, key-sorted JSON.
    public static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Runs a tool body: prints a `ToolError` on stderr and exits with its code.
    public static func run(_ tool: String, _ body: () throws -> Void) -> Never {
        do {
            try body()
            exit(ToolExit.success.rawValue)
        } catch let e as ToolError {
            error("\(tool): \(e.message)")
            exit(e.exit.rawValue)
        } catch {
            ToolOutput.error("\(tool): \(error)")
            exit(ToolExit.failure.rawValue)
        }
    }
}

/// Finds the cluster.conf a tool should use: an explicit flag, else `CLUSTER_CONF`, else /etc/cluster/cluster.conf.
public enum ConfigPath {
    public static func resolve(_ flag: String?) -> String {
        flag ?? ProcessInfo.processInfo.environment["CLUSTER_CONF"] ?? NodeInstance.defaultConfigPath
    }
}

/// Loading of cluster.conf for tools, turning problems into `ToolError`s.
public enum ToolConfig {
    /// The configuration at `path`, which must be free of errors; warnings go to stderr unless `quiet`.
    public static func loadValid(_ path: String, quiet: Bool = false) throws -> ClusterConfiguration {
        let loaded = ConfigLoader.load(path: path)
        if !quiet { for d in loaded.diagnostics where d.severity == .warning { ToolOutput.error(d.description) } }
        guard let config = loaded.valid else {
            for d in loaded.diagnostics.errors { ToolOutput.error(d.description) }
            throw ToolError("\(path) is not valid (\(loaded.diagnostics.errors.count) error(s))", exit: .configInvalid)
        }
        return config
    }
}
