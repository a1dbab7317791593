// SPDX-License-Identifier: Apache-2.0
import ClusterSystem
import Logging
import QuorumCore

/// quorumd's state file (`quorumd.state` in the node's state directory): what the running cluster requires that
/// cluster.conf does not say (`Quorum.PersistedState`), read at start and written atomically on each change.
struct QuorumStateStore {
    let directory: String
    var path: String { directory + "/quorumd.state" }

    init(stateDirectory: String) { directory = stateDirectory }

    /// The stored state; nil if there is none. A garbled or unreadable file is logged (with its path) and ignored:
    /// quorumd then starts from cluster.conf alone, as it did before it ever wrote one.
    func load(logger: Logger) -> Quorum.PersistedState? {
        guard FileIO.exists(path) else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path, limit: 4096) } catch {
            logger.error("cannot read the quorum state file \(path): \(error); ignored, starting from cluster.conf")
            return nil
        }
        guard let state = Quorum.PersistedState(text: String(decoding: bytes, as: UTF8.self)) else {
            logger.error("garbled quorum state file \(path); ignored, starting from cluster.conf")
            return nil
        }
        return state
    }

    /// Writes `state` durably (temp file, fsync, rename); a failure is logged, not fatal.
    func store(_ state: Quorum.PersistedState, logger: Logger) {
        do {
            try FileIO.makeDirectories(directory, mode: 0o700)
            try FileIO.writeAtomically(path, Array(state.text.utf8), mode: 0o600)
        } catch {
            logger.error("cannot write the quorum state file \(path): \(error)")
        }
    }
}
