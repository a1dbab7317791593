// SPDX-License-Identifier: Apache-2.0
import ClusterIPCProtocol
import ClusterTypes

/// The last fence of each node as this node's fenced reported it (cman_node_fenced), for `cman_tool nodes -f` and
/// `CmanClient.fenceInfo()`. Every member of the fence domain settles each victim and tells its own quorumd, so the
/// record needs no distribution. Kept in memory, as cman kept it: a restarted quorumd starts with none.
struct FenceRecords {
    /// Node → its last fence; at most `CmanIPC.FenceRecord.recordsMax` nodes.
    private var records: [NodeID: CmanIPC.FenceRecord] = [:]

    /// Keeps `r` unless the node's record is newer; false when the table is full of other nodes.
    mutating func record(_ r: CmanIPC.FenceRecord) -> Bool {
        if let old = records[r.node] {
            if old.wallClockSeconds <= r.wallClockSeconds { records[r.node] = r }
            return true
        }
        guard records.count < CmanIPC.FenceRecord.recordsMax else { return false }
        records[r.node] = r
        return true
    }

    /// Every record, ascending by node.
    var all: [CmanIPC.FenceRecord] { records.values.sorted { $0.node < $1.node } }
}
