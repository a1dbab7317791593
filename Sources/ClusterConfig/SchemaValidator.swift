// SPDX-License-Identifier: Apache-2.0
import CXML2
import ClusterConfigModel
import ClusterSystem

/// Validates cluster.conf text against the RelaxNG schema shipped as `etc/cluster.rng`.
public enum SchemaValidator {
    /// Where the schema is looked for, in order: `$CLUSTER_SCHEMA`; the source tree, but only for a binary that runs
    /// from inside that tree (tests, `tools/localcluster`); `share/cluster/cluster.rng` beside the executable's
    /// `sbin` or `bin` (what `tools/install` lays out for any `--prefix`); and `/usr/share/cluster/cluster.rng`.
    /// An installed binary never reads the build tree it was compiled in, even if that tree still exists.
    public static var searchPaths: [String] {
        searchPaths(environment: ProcessEnvironment.current, executable: ProcessEnvironment.executablePath)
    }

    /// The search paths for a process with `environment` running `executable` (nil if unknown).
    public static func searchPaths(environment: [String: String], executable: String?) -> [String] {
        var paths: [String] = []
        if let env = environment["CLUSTER_SCHEMA"] { paths.append(env) }
        // #filePath is .../Sources/ClusterConfig/SchemaValidator.swift in the checkout that built us.
        let source = FileIO.directory(of: FileIO.directory(of: FileIO.directory(of: #filePath)))
        if let executable, executable.hasPrefix(source + "/") { paths.append(source + "/etc/cluster.rng") }
        if let executable {
            let prefix = FileIO.directory(of: FileIO.directory(of: executable))
            paths.append((prefix == "/" ? "" : prefix) + "/share/cluster/cluster.rng")
        }
        if !paths.contains(defaultPath) { paths.append(defaultPath) }
        return paths
    }

    /// Where a package installed with prefix `/usr` puts the schema.
    public static let defaultPath = "/usr/share/cluster/cluster.rng"

    /// The first schema path that exists.
    public static func locate() -> String? { searchPaths.first(where: FileIO.exists) }

    /// Schema problems in the document `bytes`, or a single warning if no schema could be found or loaded.
    public static func validate(_ bytes: [UInt8], file: String, schemaPath: String? = nil) -> [ConfigDiagnostic] {
        LibXML.initialize()
        guard let path = schemaPath ?? locate() else {
            return [ConfigDiagnostic(.warning, file: file, line: 0, path: "",
                                     message: "RelaxNG schema not found (looked in \(searchPaths.joined(separator: ", "))); schema checks skipped")]
        }
        let collector = ErrorCollector(file: file)
        return collector.capturing {
            guard let schemaBytes = try? FileIO.read(path) else { // The path was just located; a race only loses schema checks.
                return [ConfigDiagnostic(.warning, file: file, line: 0, path: "", message: "cannot read RelaxNG schema \(path); schema checks skipped")]
            }
            let schemaCollector = ErrorCollector(file: path)
            let schema: xmlRelaxNGPtr? = schemaCollector.capturing {
                guard let pctxt = schemaBytes.withUnsafeBufferPointer({ buf in
                    buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { xmlRelaxNGNewMemParserCtxt($0, Int32(buf.count)) }
                }) else { return nil }
                defer { xmlRelaxNGFreeParserCtxt(pctxt) }
                cxml_quiet_generic_errors(1)
                defer { cxml_quiet_generic_errors(0) }
                return xmlRelaxNGParse(pctxt)
            }
            guard let schema else {
                let detail = schemaCollector.diagnostics.first.map { ": \($0.description)" } ?? ""
                return [ConfigDiagnostic(.warning, file: file, line: 0, path: "", message: "RelaxNG schema \(path) is invalid\(detail); schema checks skipped")]
            }
            defer { xmlRelaxNGFree(schema) }
            guard let ctxt = xmlNewParserCtxt() else { return [] }
            defer { xmlFreeParserCtxt(ctxt) }
            let doc = bytes.withUnsafeBufferPointer { buf in
                buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buf.count, 1)) {
                    xmlCtxtReadMemory(ctxt, $0, Int32(buf.count), file, nil, Int32(XML_PARSE_NONET.rawValue))
                }
            }
            guard let doc else { return collector.diagnostics }
            defer { xmlFreeDoc(doc) }
            guard let vctxt = xmlRelaxNGNewValidCtxt(schema) else { return [] }
            defer { xmlRelaxNGFreeValidCtxt(vctxt) }
            let context = Unmanaged.passUnretained(collector).toOpaque()
            xmlRelaxNGSetValidStructuredErrors(vctxt, relaxCallback, context)
            _ = xmlRelaxNGValidateDoc(vctxt, doc)
            return collector.diagnostics.map { d in
                var d = d
                d.message = "schema: " + d.message
                return d
            }
        }
    }
}

private let relaxCallback: xmlStructuredErrorFunc = { context, error in
    guard let context, let error else { return }
    Unmanaged<ErrorCollector>.fromOpaque(context).takeUnretainedValue().record(error)
}
