// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import Foundation
import SimulationTestSupport
import Testing

/// Golden transcripts of Totem scenarios (testdata/*.txt): each is replayed and must print exactly what the file
/// holds. After an intended change, regenerate with `UPDATE_TRANSCRIPTS=1 swift test --filter TranscriptTests` and
/// review the diff like code.
@Suite("Totem transcripts")
struct TranscriptTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata").path
    static var files: [String] { GoldenTranscript.files(in: directory) }

    @Test("there are transcripts to check")
    func present() { #expect(Self.files.count >= 3, "testdata holds \(Self.files)") }

    @Test("each transcript replays to exactly its golden output", arguments: files)
    func replay(file: String) throws {
        if let difference = try GoldenTranscript.check(Self.directory + "/" + file, render: TotemTranscript.render) {
            Issue.record("\(difference)")
        }
    }
}
