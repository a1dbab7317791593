// SPDX-License-Identifier: Apache-2.0
import ClusterConfigModel
import ClusterSystem

/// The result of loading a cluster.conf: the configuration (nil if the file could not be parsed at all) and every
/// problem found, sorted by line.
public struct LoadedConfiguration: Sendable {
    public var path: String
    public var configuration: ClusterConfiguration?
    public var diagnostics: [ConfigDiagnostic]
    /// The file's bytes, for writing back unchanged or distributing.
    public var bytes: [UInt8]

    /// The configuration if it has no errors.
    public var valid: ClusterConfiguration? { diagnostics.hasErrors ? nil : configuration }
}

/// Reads, parses and validates cluster.conf.
public enum ConfigLoader {
    /// Loads `path`: parse with libxml2, decode and validate the model, then check the RelaxNG schema. Schema
    /// complaints on lines that already have a model error are dropped, since they describe the same mistake.
    public static func load(path: String, useSchema: Bool = true) -> LoadedConfiguration {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path)
        } catch {
            return LoadedConfiguration(path: path, configuration: nil,
                                       diagnostics: [ConfigDiagnostic(.error, file: path, line: 0, path: "", message: error.description)], bytes: [])
        }
        return load(bytes: bytes, file: path, useSchema: useSchema)
    }

    /// Loads a configuration from bytes (`file` names it in diagnostics).
    public static func load(bytes: [UInt8], file: String, useSchema: Bool = true) -> LoadedConfiguration {
        switch XMLDocumentParser.parse(bytes, file: file) {
        case .failure(let failure):
            return LoadedConfiguration(path: file, configuration: nil, diagnostics: failure.diagnostics.sortedForDisplay, bytes: bytes)
        case .success(let document):
            let (config, modelDiagnostics) = ClusterConfiguration.decode(document, file: file)
            var diagnostics = modelDiagnostics
            if useSchema {
                let errorLines = Set(modelDiagnostics.filter { $0.severity == .error }.map(\.line))
                let schema = SchemaValidator.validate(bytes, file: file)
                diagnostics += schema.filter { !($0.severity == .error && errorLines.contains($0.line)) }
            }
            return LoadedConfiguration(path: file, configuration: config, diagnostics: diagnostics.sortedForDisplay, bytes: bytes)
        }
    }
}

/// Writes cluster.conf documents.
public enum ConfigWriter {
    /// Serialises `document` and replaces `path` atomically (temp file, fsync, rename, fsync of the directory).
    public static func write(_ document: XMLDocument, to path: String) throws(SystemError) {
        try FileIO.writeAtomically(path, Array(XMLWriter.serialize(document).utf8))
    }
}
