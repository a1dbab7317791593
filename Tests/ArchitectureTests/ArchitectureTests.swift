// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

/// The repository's "tidy" (TigerBeetle's tidy.zig): rules of the house checked on the sources and the manifest, so
/// they hold by test rather than by review.
@Suite("architecture rules")
struct ArchitectureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Modules that must stay pure: no I/O, no OS, no C, no clocks (STYLE.md §1, §11).
    static func isPure(_ module: String) -> Bool {
        module.hasSuffix("Core") || ["ClusterTypes", "ClusterWire", "ClusterConfigModel", "ClusterIPCProtocol", "ClusterSimulator"].contains(module)
    }

    static func swiftFiles(under directory: String) -> [String] {
        let base = root + "/" + directory
        guard let e = FileManager.default.enumerator(atPath: base) else { return [] }
        return e.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") && !$0.contains(".build") }.map { base + "/" + $0 }.sorted()
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").components(separatedBy: "\n") // unreadable: no lines
    }

    @Test("pure modules import no Foundation, Glibc, Dispatch, NIO or C module, and read no clock")
    func pureModules() throws {
        let modules = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/Sources").filter(Self.isPure).sorted()
        #expect(modules.contains("TotemCore") && modules.contains("QuorumCore"), "found \(modules)")
        var checked = 0
        var offences: [String] = []
        let banned = ["Foundation", "Glibc", "Musl", "Darwin", "Dispatch", "NIO"]
        for module in modules {
            for file in Self.swiftFiles(under: "Sources/\(module)") {
                checked += 1
                for (n, line) in Self.lines(file).enumerated() {
                    let t = line.trimmingCharacters(in: .whitespaces)
                    if t.hasPrefix("import ") || t.hasPrefix("@_exported import ") {
                        let name = t.split(separator: " ").last.map(String.init) ?? ""
                        if banned.contains(where: { name.hasPrefix($0) }) || (name.first == "C" && name.dropFirst().first?.isUppercase == true) {
                            offences.append("\(file):\(n + 1): \(t)")
                        }
                    }
                    for clock in ["ContinuousClock", "SuspendingClock", "Date()", "DispatchQueue", "Task.detached", "Task {"] where t.contains(clock) && !t.hasPrefix("//") && !t.hasPrefix("///") {
                        offences.append("\(file):\(n + 1): uses \(clock)")
                    }
                }
            }
        }
        #expect(checked > 20, "checked only \(checked) files")
        #expect(offences.isEmpty, "\(offences.joined(separator: "\n"))")
    }

    @Test("no file over 600 lines and no function over 80, in Sources and tools")
    func sizes() {
        var offences: [String] = []
        var functions = 0
        let files = Self.swiftFiles(under: "Sources") + Self.swiftFiles(under: "tools")
        for file in files {
            let lines = Self.lines(file)
            if lines.count > 600 { offences.append("\(file): \(lines.count) lines (at most 600)") }
            for (start, length) in Self.functionSpans(lines) {
                functions += 1
                if length > 80 { offences.append("\(file):\(start + 1): function of \(length) lines (at most 80)") }
            }
        }
        #expect(files.count > 50 && functions > 500, "checked \(files.count) files, \(functions) functions")
        #expect(offences.isEmpty, "\(offences.joined(separator: "\n"))")
    }

    /// Start line and length of every `func`/`init` body (braces counted outside strings and comments).
    static func functionSpans(_ lines: [String]) -> [(Int, Int)] {
        var spans: [(Int, Int)] = []
        for (i, line) in lines.enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard !t.hasPrefix("//"), t.range(of: #"(^|\s)(func\s|init[(<?])"#, options: .regularExpression) != nil else { continue }
            var depth = 0, started = false, j = i
            while j < lines.count {
                for ch in Self.code(lines[j]) {
                    if ch == "{" { depth += 1; started = true } else if ch == "}" { depth -= 1 }
                }
                if started && depth <= 0 { break }
                if !started && j > i + 8 { break }  // a declaration without a body (protocol requirement)
                j += 1
            }
            if started { spans.append((i, j - i + 1)) }
        }
        return spans
    }

    /// A line without string literals and comments, for counting braces.
    static func code(_ line: String) -> String {
        var out = "", inString = false, escaped = false
        var chars = Array(line)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                continue
            }
            if c == "\"" { inString = true; continue }
            if c == "/" && chars.first == "/" { break }
            out.append(c)
        }
        return out
    }

    @Test("nothing a product reaches carries unsafe build flags, so packages can depend on this one by version")
    func productsFreeOfUnsafeFlags() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Its own scratch path: the running `swift test` holds the lock on .build.
        let scratch = NSTemporaryDirectory() + "/arch-dump-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        p.arguments = ["swift", "package", "--package-path", Self.root, "--scratch-path", scratch, "dump-package"]
        var env = ProcessInfo.processInfo.environment
        env["CLUSTER_DEBUG_OPTIMIZE"] = nil  // what a dependent package sees
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let targets = try #require(manifest["targets"] as? [[String: Any]])
        let products = try #require(manifest["products"] as? [[String: Any]])
        var byName: [String: [String: Any]] = [:]
        for t in targets { if let n = t["name"] as? String { byName[n] = t } }
        func dependencies(_ t: [String: Any]) -> [String] {
            ((t["dependencies"] as? [[String: Any]]) ?? []).compactMap { d in
                (d["byName"] as? [Any])?.first as? String ?? (d["target"] as? [Any])?.first as? String
            }
        }
        var offences: [String] = []
        var reached = Set<String>()
        for product in products {
            var stack = (product["targets"] as? [String]) ?? []
            while let name = stack.popLast() {
                guard reached.insert(name).inserted, let t = byName[name] else { continue }
                let settings = (t["settings"] as? [[String: Any]]) ?? []
                if settings.contains(where: { ($0["kind"] as? [String: Any])?["unsafeFlags"] != nil }) {
                    offences.append("\(name), reached by product \(product["name"] ?? "?"), has unsafe flags")
                }
                stack += dependencies(t)
            }
        }
        #expect(reached.contains("ClusterClient") && reached.contains("ClusterTypes"), "reached \(reached.sorted())")
        #expect(offences.isEmpty, "\(offences)")
    }

    @Test("control daemons, their tools and the SDK examples use the public SDK only")
    func controlDaemonsUseTheSDKOnly() {
        let allowed: Set<String> = ["ClusterClient", "Glibc", "Dispatch", "Foundation"]
        let files = ["Sources/dlm_controld", "Sources/o2cb_controld", "tools/dlm_tool", "tools/o2cb_tool", "docs/examples"]
            .flatMap(Self.swiftFiles(under:)).filter { !$0.hasSuffix("Package.swift") }
        var offences: [String] = []
        for file in files {
            for line in Self.lines(file) where line.hasPrefix("import ") || line.hasPrefix("@testable import ") {
                let module = line.split(separator: " ").last.map(String.init) ?? ""
                if !allowed.contains(module) { offences.append("\(file): \(line)") }
            }
        }
        #expect(files.count >= 4, "found only \(files)")
        #expect(offences.isEmpty, "\(offences.joined(separator: "\n"))")
    }

    @Test("docs/controld.md's Swift blocks are in the example package word for word (so the tutorial is what CI builds)")
    func tutorialMatchesExample() throws {
        let doc = try String(contentsOfFile: Self.root + "/docs/controld.md", encoding: .utf8)
        let example = (Self.swiftFiles(under: "docs/examples/ExampleControlDaemon/Sources") + [Self.root + "/docs/examples/ExampleControlDaemon/Package.swift"])
            .map { Self.lines($0).joined(separator: "\n") }.joined(separator: "\n")
        let blocks = doc.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count >= 5, "found \(blocks.count) Swift blocks")
        for block in blocks {
            let code = block.hasSuffix("\n") ? String(block.dropLast()) : block
            #expect(example.contains(code), "not in the example package:\n\(code)")
        }
    }

    @Test("queues in daemons and IPC say what bounds them")
    func boundedQueues() {
        var offences: [String] = []
        var seen = 0
        let dirs = ["Sources"]
        for file in dirs.flatMap(Self.swiftFiles(under:)) where !file.contains("Core/") && !file.contains("ClusterSimulator") {
            let lines = Self.lines(file)
            for (n, line) in lines.enumerated() where line.range(of: #"var \w*([qQ]ueue|[pP]ending|[bB]acklog|queued)\w*\s*[:=]\s*\["#, options: .regularExpression) != nil {
                seen += 1
                let context = lines[max(0, n - 6)...n].joined(separator: "\n") + "\n" + lines[n...min(lines.count - 1, n + 40)].joined(separator: "\n")
                if context.range(of: #"Max\b|[Mm]ax\w*\b|at most|bounded|unbounded because"#, options: .regularExpression) == nil {
                    offences.append("\(file):\(n + 1): \(line.trimmingCharacters(in: .whitespaces)) (no bound in sight)")
                }
            }
        }
        #expect(seen >= 3, "found only \(seen) queues")
        #expect(offences.isEmpty, "\(offences.joined(separator: "\n"))")
    }
}
