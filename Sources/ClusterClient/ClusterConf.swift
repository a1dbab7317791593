// SPDX-License-Identifier: Apache-2.0
import ClusterConfig
import ClusterConfigModel
import ClusterSystem

/// cluster.conf, read-only, queried by path as libccs's `ccs_get` did: `/cluster/dlm/@protocol`,
/// `/cluster/clusternodes/clusternode[@name=node1]/@nodeid`. A path is `/`-separated element names from the root,
/// each optionally with one `[@attribute=value]` filter, ending in `@attribute`.
public struct ClusterConf: Sendable {
    /// The file it was read from.
    public let path: String
    let root: XMLElement

    /// Reads the instance's cluster.conf; a file that does not parse is an error naming the file and line.
    public static func load(instance: NodeInstance) throws(ClusterError) -> ClusterConf { try load(path: instance.configPath) }

    public static func load(path: String) throws(ClusterError) -> ClusterConf {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path) } catch { throw ClusterError(.failed, "\(path): \(error)") }
        switch XMLDocumentParser.parse(bytes, file: path) {
        case .success(let document):
            return ClusterConf(path: path, root: document.root)
        case .failure(let failure):
            let first = failure.diagnostics.first.map { "\($0)" } ?? "\(path): not well-formed"
            throw ClusterError(.failed, first)
        }
    }

    /// The first value at `path`, or nil.
    public func get(_ path: String) -> String? { values(path).first }

    /// Every value at `path`, in document order.
    public func values(_ path: String) -> [String] {
        var steps = path.split(separator: "/").map(String.init)
        guard let last = steps.popLast(), last.hasPrefix("@"), let first = steps.first else { return [] }
        guard Self.matches(root, first) else { return [] }
        var current = [root]
        for step in steps.dropFirst() { current = current.flatMap { $0.elements.filter { Self.matches($0, step) } } }
        return current.compactMap { $0[attribute: String(last.dropFirst())] }
    }

    /// `name` or `name[@attribute=value]` (the value may be quoted).
    static func matches(_ e: XMLElement, _ step: String) -> Bool {
        guard let open = step.firstIndex(of: "[") else { return e.name == step }
        guard e.name == step[..<open], step.hasSuffix("]") else { return false }
        let filter = step[step.index(after: open)..<step.index(before: step.endIndex)]
        guard filter.hasPrefix("@"), let eq = filter.firstIndex(of: "=") else { return false }
        let attribute = String(filter[filter.index(after: filter.startIndex)..<eq])
        var value = String(filter[filter.index(after: eq)...])
        if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q { value = String(value.dropFirst().dropLast()) }
        return e[attribute: attribute] == value
    }
}
