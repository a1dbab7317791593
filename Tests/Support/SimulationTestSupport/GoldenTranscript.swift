// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Golden transcript files (etcd raft's datadriven testdata): a script whose blocks hold their expected output,
/// replayed and compared byte for byte. `UPDATE_TRANSCRIPTS=1` rewrites the files instead, for review in the diff.
public enum GoldenTranscript {
    /// The `.txt` files of `directory`, sorted.
    public static func files(in directory: String) -> [String] {
        // A missing directory holds no transcripts; the callers require some.
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".txt") }.sorted()
    }

    /// Replays the file at `path` with `render`. Returns nil when the output matches (or the file was rewritten under
    /// `UPDATE_TRANSCRIPTS=1`), else a message naming the first line that differs.
    public static func check(_ path: String, render: (String) -> String) throws -> String? {
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        let rendered = render(golden)
        if ProcessInfo.processInfo.environment["UPDATE_TRANSCRIPTS"] == "1" {
            try rendered.write(toFile: path, atomically: true, encoding: .utf8)
            return nil
        }
        guard golden != rendered else { return nil }
        let a = golden.split(separator: "\n", omittingEmptySubsequences: false)
        let b = rendered.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
        return """
            \((path as NSString).lastPathComponent) differs from line \(first + 1):
              expected: \(first < a.count ? String(a[first]) : "<end>")
              got:      \(first < b.count ? String(b[first]) : "<end>")
            regenerate with UPDATE_TRANSCRIPTS=1 and review the diff
            """
    }
}
