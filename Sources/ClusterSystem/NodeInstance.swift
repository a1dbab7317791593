// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where one node's daemons keep their files and how their IPC services are named.
///
/// The default instance (no name) is the classic single-node-per-host layout: `/etc/cluster/cluster.conf`,
/// run files in `/var/run/cluster`, state in `/var/lib/cluster`, logs in `/var/log/cluster`, and IPC service names
/// such as `totemd`. A named instance (flag `-I NAME` / `--instance`, or `CLUSTER_INSTANCE`) prefixes every IPC
/// name with `NAME.` so that several nodes can run on one machine; its directories come from `CLUSTER_RUN_DIR`,
/// `CLUSTER_STATE_DIR` and `CLUSTER_LOG_DIR`, defaulting to `/var/run/cluster/NAME` and so on.
public struct NodeInstance: Sendable, Hashable {
    /// The instance name; empty for the default instance.
    public var name: String
    public var configPath: String
    public var runDirectory: String
    public var stateDirectory: String
    public var logDirectory: String

    public static let defaultConfigPath = "/etc/cluster/cluster.conf"

    /// The longest instance name; IPC names must stay well inside libqb's limits.
    public static let nameLengthMax = 32

    public init(name: String, configPath: String, runDirectory: String, stateDirectory: String, logDirectory: String) {
        self.name = name
        self.configPath = configPath
        self.runDirectory = runDirectory
        self.stateDirectory = stateDirectory
        self.logDirectory = logDirectory
    }

    /// The instance chosen by flags (nil when not given) and the environment.
    public static func resolve(instance flag: String? = nil, config configFlag: String? = nil,
                               environment: [String: String] = ProcessEnvironment.current) throws(InstanceError) -> NodeInstance {
        let name = flag ?? environment["CLUSTER_INSTANCE"] ?? ""
        guard name.utf8.count <= nameLengthMax else { throw InstanceError("instance name \"\(name)\" is longer than \(nameLengthMax) bytes") }
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw InstanceError("instance name \"\(name)\" may contain only letters, digits, '-' and '_'")
        }
        let suffix = name.isEmpty ? "" : "/\(name)"
        return NodeInstance(
            name: name,
            configPath: configFlag ?? environment["CLUSTER_CONF"] ?? defaultConfigPath,
            runDirectory: environment["CLUSTER_RUN_DIR"] ?? "/var/run/cluster\(suffix)",
            stateDirectory: environment["CLUSTER_STATE_DIR"] ?? "/var/lib/cluster\(suffix)",
            logDirectory: environment["CLUSTER_LOG_DIR"] ?? "/var/log/cluster\(suffix)")
    }

    /// The libqb IPC service name for `service` in this instance.
    public func ipcName(_ service: String) -> String { name.isEmpty ? service : "\(name).\(service)" }
}

/// A bad instance setting.
public struct InstanceError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The process environment as a dictionary.
public enum ProcessEnvironment {
    public static var current: [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }

    /// The absolute path of the running executable (`/proc/self/exe`), or nil if it cannot be read.
    public static var executablePath: String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
