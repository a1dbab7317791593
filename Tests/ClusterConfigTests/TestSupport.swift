// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import Foundation

/// The repository root, found from this file's location.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// A fresh temporary directory for one test.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "cluster-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Loads configuration text as if from `file`.
func load(_ text: String, file: String = "test.conf", schema: Bool = true) -> LoadedConfiguration {
    ConfigLoader.load(bytes: Array(text.utf8), file: file, useSchema: schema)
}

extension LoadedConfiguration {
    /// The error diagnostics as `LINE: message` strings.
    var errorLines: [String] { diagnostics.errors.map { "\($0.line): \($0.message)" } }
}
