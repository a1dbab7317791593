// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import Foundation
import Testing

/// Golden transcripts of Totem scenarios (testdata/*.txt): each is replayed and must print exactly what the file
/// holds. After an intended change, regenerate with `UPDATE_TRANSCRIPTS=1 swift test --filter TranscriptTests` and
/// review the diff like code.
@Suite("Totem transcripts")
struct TranscriptTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata").path

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".txt") }.sorted()
    }

    @Test("there are transcripts to check")
    func present() { #expect(Self.files.count >= 3, "testdata holds \(Self.files)") }

    @Test("each transcript replays to exactly its golden output", arguments: files)
    func replay(file: String) throws {
        let path = Self.directory + "/" + file
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        let rendered = TotemTranscript.render(golden)
        if ProcessInfo.processInfo.environment["UPDATE_TRANSCRIPTS"] == "1" {
            try rendered.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let a = golden.split(separator: "\n", omittingEmptySubsequences: false)
        let b = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
        #expect(golden == rendered, """
            \(file) differs from line \(first + 1):
              expected: \(first < a.count ? String(a[first]) : "<end>")
              got:      \(first < b.count ? String(b[first]) : "<end>")
            regenerate with UPDATE_TRANSCRIPTS=1 and review the diff
            """)
    }
}
