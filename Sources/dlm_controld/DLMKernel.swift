// SPDX-License-Identifier: Apache-2.0
import ClusterClient
import Glibc

/// The DLM's kernel side as dlm_controld drives it:
///
/// - configfs (`<configfs>/dlm/cluster`): `comms/<nodeid>/{nodeid,local,addr}` for every cluster member (`addr` is
///   a binary `struct sockaddr_storage`, as the kernel reads it), cluster attributes `cluster_name`, `protocol`
///   (0 TCP, 1 SCTP), `timewarn_cs`, and each lockspace's members as `spaces/<name>/nodes/<nodeid>/{nodeid,weight}`;
/// - sysfs (`<sysfs>/dlm/<lockspace>`): `id` (the lockspace's global id, written before its first start), `control`
///   (0 stops the lockspace, 1 starts its recovery with the members configured) and `event_done` (0: the join or leave the kernel waits for is complete; a negative errno: it
///   failed).
struct DLMKernel: ControlSubsystem {
    let configfs: ConfigfsTree
    let sysfs: ConfigfsTree
    /// `<dlm protocol=>`: 0 TCP (also for "detect" on a single ring), 1 SCTP.
    let protocolNumber: Int
    /// `<dlm timewarn=>` in centiseconds.
    let timewarn: UInt32
    /// Lockspaces whose join the kernel still waits for.
    var joining: Set<String> = []
    /// Lockspaces whose sysfs directory was there before the join (the kernel's).
    var kernelOwned: Set<String> = []
    var clusterNameWritten = false

    init(configfsRoot: String, sysfsRoot: String, protocolNumber: Int, timewarn: UInt32) {
        configfs = ConfigfsTree(root: configfsRoot + "/dlm/cluster")
        sysfs = ConfigfsTree(root: sysfsRoot + "/dlm")
        self.protocolNumber = protocolNumber
        self.timewarn = timewarn
    }

    mutating func apply(_ changes: [Control.Topology.Change], cluster: ControlCluster) throws {
        if !clusterNameWritten {
            try configfs.makeItem("comms")
            try configfs.makeItem("spaces")
            try configfs.write("cluster_name", cluster.name)
            try configfs.write("protocol", "\(protocolNumber)")
            try configfs.write("timewarn_cs", "\(timewarn)")
            clusterNameWritten = true
        }
        for change in changes {
            switch change {
            case .add(let node):
                let dir = "comms/\(node.id)"
                try configfs.makeItem(dir)
                try configfs.write(dir + "/nodeid", "\(node.id)")
                if let address = Self.sockaddrStorage(node.address) { try configfs.write(dir + "/addr", bytes: address) }
                if node.id == cluster.localNode { try configfs.write(dir + "/local", "1") }
            case .remove(let id):
                try configfs.removeItem("comms/\(id)")
            case .removalDeferred:
                break
            }
        }
    }

    mutating func created(group: String) throws {
        try configfs.makeItem("spaces/\(group)/nodes")
        // The kernel makes a lockspace's sysfs directory before it asks to join (and removes it itself); for a
        // dlm_tool join without the kernel a plain directory stands in, made and removed here.
        if sysfs.exists(group) { kernelOwned.insert(group) } else { try sysfs.makeItem(group) }
        // Before the first start: the lockspace's id on every node (the kernel puts it in its recovery messages).
        try sysfs.write(group + "/id", "\(Self.globalID(group))")
        try sysfs.write(group + "/control", "0")
        joining.insert(group)
    }

    mutating func stop(group: String) throws { try sysfs.write(group + "/control", "0") }

    mutating func start(group: String, members: [NodeID]) throws {
        let wanted = Set(members.map(\.description))
        for present in configfs.items("spaces/\(group)/nodes") where !wanted.contains(present) {
            try configfs.removeItem("spaces/\(group)/nodes/\(present)")
        }
        for id in members where !configfs.exists("spaces/\(group)/nodes/\(id)") {
            try configfs.makeItem("spaces/\(group)/nodes/\(id)")
            try configfs.write("spaces/\(group)/nodes/\(id)/nodeid", "\(id)")
            try configfs.write("spaces/\(group)/nodes/\(id)/weight", "1")
        }
        try sysfs.write(group + "/control", "1")
    }

    mutating func recovered(group: String, members: [NodeID]) throws {
        if joining.remove(group) != nil { try sysfs.write(group + "/event_done", "0") }
    }

    mutating func removed(group: String) throws {
        // A lockspace removed before its join completed answers nothing here: the join failed, and `refused` (or
        // nobody, for a dlm_tool join) says so.
        let wasJoining = joining.remove(group) != nil
        try configfs.removeItem("spaces/\(group)")
        if sysfs.exists(group) {
            if !wasJoining { try sysfs.write(group + "/event_done", "0") }
            if kernelOwned.remove(group) == nil { try sysfs.removeItem(group) }
        }
    }

    /// The kernel's join or leave could not be carried out: `event_done` gets a negative errno, so
    /// `dlm_new_lockspace` fails instead of waiting (dlm_controld does the same).
    mutating func refused(_ request: ControlGroupRequest, error: ClusterError) throws {
        guard sysfs.exists(request.group) else { return }
        try sysfs.write(request.group + "/event_done", "\(DLMUEvents.eventResult(error))")
    }

    /// A lockspace's global id as dlm_controld computes it, the same on every node: the CRC-32 (IEEE 802.3, as zlib's
    /// `crc32` and the kernel's `crc32_le(~0, …) ^ ~0`) of its group name `dlm:ls:<name>` with the terminating NUL.
    static func globalID(_ lockspace: String) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in Array("dlm:ls:\(lockspace)".utf8) + [0] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// A node's address as the kernel's `addr` attribute takes it: a `struct sockaddr_storage` (port 0).
    static func sockaddrStorage(_ text: String) -> [UInt8]? {
        var storage = [UInt8](repeating: 0, count: MemoryLayout<sockaddr_storage>.size)
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr = v4
            withUnsafeBytes(of: a) { for (i, b) in $0.enumerated() { storage[i] = b } }
            return storage
        }
        if inet_pton(AF_INET6, text, &v6) == 1 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_addr = v6
            withUnsafeBytes(of: a) { for (i, b) in $0.enumerated() { storage[i] = b } }
            return storage
        }
        return nil
    }
}
