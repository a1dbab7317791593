// SPDX-License-Identifier: Apache-2.0
import CXML2
import ClusterConfigModel

/// Process-wide libxml2 set-up, done once.
enum LibXML {
    private static let initialized: Bool = {
        xmlInitParser()
        return true
    }()

    static func initialize() { _ = initialized }
}

/// Collects libxml2's structured errors (parser and RelaxNG) as diagnostics while a closure runs.
///
/// libxml2's structured error handler is per thread; it is installed for the duration of `capturing` and removed
/// afterwards, so concurrent parses on different threads do not mix their errors.
final class ErrorCollector {
    let file: String
    var diagnostics: [ConfigDiagnostic] = []
    var severity: ConfigDiagnostic.Severity = .error

    init(file: String) { self.file = file }

    func capturing<T>(_ body: () -> T) -> T {
        let context = Unmanaged.passUnretained(self).toOpaque()
        xmlSetStructuredErrorFunc(context, errorCallback)
        defer { xmlSetStructuredErrorFunc(nil, nil) }
        return body()
    }

    func record(_ error: UnsafePointer<xmlError>) {
        let e = error.pointee
        var line = Int(e.line)
        if line == 0, let node = e.node { line = Int(xmlGetLineNo(node.assumingMemoryBound(to: xmlNode.self))) }
        var message = e.message.map { String(cString: $0) } ?? "unknown XML error"
        message = message.trimmingWhitespace
        if e.int2 > 0 && e.domain == Int32(XML_FROM_PARSER.rawValue) { message = "column \(e.int2): " + message }
        diagnostics.append(ConfigDiagnostic(severity, file: file, line: line, path: "", message: message))
    }
}

private let errorCallback: xmlStructuredErrorFunc = { context, error in
    guard let context, let error else { return }
    Unmanaged<ErrorCollector>.fromOpaque(context).takeUnretainedValue().record(error)
}
