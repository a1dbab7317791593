// SPDX-License-Identifier: Apache-2.0
import ClusterTypes

/// One problem found in a cluster.conf, with where it is.
public struct ConfigDiagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Hashable, Sendable, Comparable {
        case warning
        case error

        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs == .warning && rhs == .error }
    }

    public var severity: Severity
    /// The file the problem is in, as given by the caller.
    public var file: String
    /// The 1-based line, or 0 when the problem is about the file as a whole.
    public var line: Int
    /// The element path, e.g. `/cluster/clusternodes/clusternode[2]`.
    public var path: String
    public var message: String

    public init(_ severity: Severity, file: String, line: Int, path: String, message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    /// `FILE:LINE: message` for errors and `FILE:LINE: warning: message` for warnings.
    public var description: String {
        let location = line > 0 ? "\(file):\(line)" : file
        return severity == .error ? "\(location): \(message)" : "\(location): warning: \(message)"
    }
}

extension Array where Element == ConfigDiagnostic {
    /// True if any diagnostic is an error.
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// Errors only.
    public var errors: [ConfigDiagnostic] { filter { $0.severity == .error } }

    /// Sorted by line, errors before warnings on the same line, duplicates removed.
    public var sortedForDisplay: [ConfigDiagnostic] {
        var seen = Set<ConfigDiagnostic>()
        return sorted { ($0.line, $1.severity, $0.message) < ($1.line, $0.severity, $1.message) }
            .filter { seen.insert($0).inserted }
    }
}

/// Collects diagnostics while a document is decoded and validated.
public final class DiagnosticSink {
    public let file: String
    public private(set) var diagnostics: [ConfigDiagnostic] = []

    public init(file: String) { self.file = file }

    public func error(_ line: Int, _ path: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(.error, file: file, line: line, path: path, message: message))
    }

    public func warning(_ line: Int, _ path: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(.warning, file: file, line: line, path: path, message: message))
    }
}
