// SPDX-License-Identifier: Apache-2.0
import ClusterSimulator
import Foundation
import SimulationTestSupport
import Testing

/// Golden transcripts of quorum scenarios (testdata/*.txt): totem and quorum cores on a deterministic network,
/// printing every line quorumd logs for an operator and `cman_tool` output. Each is replayed and must print exactly
/// what the file holds. After an intended change, regenerate with
/// `UPDATE_TRANSCRIPTS=1 swift test --filter QuorumScenarioTests` and review the diff like code.
@Suite("Quorum transcripts")
struct QuorumTranscriptTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata").path
    static var files: [String] { GoldenTranscript.files(in: directory) }

    @Test("there are transcripts to check")
    func present() { #expect(Self.files.count >= 5, "testdata holds \(Self.files)") }

    @Test("each transcript replays to exactly its golden output", arguments: files)
    func replay(file: String) throws {
        if let difference = try GoldenTranscript.check(Self.directory + "/" + file, render: QuorumTranscript.render) {
            Issue.record("\(difference)")
        }
    }

    @Test("a transcript renders the same twice (determinism)")
    func deterministic() throws {
        for file in Self.files {
            let golden = try String(contentsOfFile: Self.directory + "/" + file, encoding: .utf8)
            #expect(QuorumTranscript.render(golden) == QuorumTranscript.render(golden), "\(file)")
        }
    }
}
