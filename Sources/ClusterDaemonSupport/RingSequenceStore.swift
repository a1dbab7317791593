// SPDX-License-Identifier: Apache-2.0
import ClusterSystem

/// Where totemd keeps the highest ring sequence it has used, so a restarted node never reuses a ring id.
public struct RingSequenceStore: Sendable {
    public let path: String

    public init(stateDirectory: String) { path = stateDirectory + "/ringseq" }

    /// The stored sequence (0 if there is none yet). A corrupt file is an error, not a silent 0.
    public func load() throws(SystemError) -> UInt64 {
        guard FileIO.exists(path) else { return 0 }
        let bytes = try FileIO.read(path, limit: 64)
        let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        guard let value = UInt64(text) else { throw SystemError("corrupt ring sequence file (not a number)", path: path, errno: 74) }
        return value
    }

    /// Stores `sequence` durably (temp file, fsync, rename, fsync of the directory).
    public func store(_ sequence: UInt64) throws(SystemError) {
        try FileIO.writeAtomically(path, Array("\(sequence)\n".utf8), mode: 0o600)
    }
}
