// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel

/// Reads and validates cluster.conf for reloads, as one value with the problems in one line.
enum ConfigReader {
    static func read(_ path: String) -> (config: ClusterConfiguration?, bytes: [UInt8], problems: String) {
        let loaded = ConfigLoader.load(path: path)
        return (loaded.valid, loaded.bytes, loaded.diagnostics.errors.prefix(5).map(\.description).joined(separator: "; "))
    }
}
