// SPDX-License-Identifier: Apache-2.0
// Step 3 of docs/controld.md: the daemon. ControlDaemon does the cluster side (membership, groups, recovery,
// fencing waits, staged shutdown, signals, the administrative socket); we give it our subsystem and run it.
//
//   toyfs_controld -R ROOT [-I INSTANCE] [--no-fencing]
import ClusterClient
import Glibc

var root: String?
var instanceName: String?
var fencing = true
var arguments = CommandLine.arguments.dropFirst()
while let a = arguments.popFirst() {
    switch a {
    case "-R": root = arguments.popFirst()
    case "-I": instanceName = arguments.popFirst()
    case "--no-fencing": fencing = false
    default:
        ControlDaemonLog.standardError("usage: toyfs_controld -R ROOT [-I INSTANCE] [--no-fencing]")
        exit(64)
    }
}
guard let root else {
    ControlDaemonLog.standardError("toyfs_controld: -R ROOT is required")
    exit(64)
}

do {
    let instance = try NodeInstance.resolve(instance: instanceName)
    let configuration = ControlDaemon<ToyfsKernel>.Configuration(
        name: "toyfs_controld",     // quorumd knows us by this name; our socket is toyfs_controld.sock
        groupPrefix: "toyfs",       // our groups are toyfs:<mount> in groupd
        level: 2,                   // file-system mounts recover after fencing (0) and lockspaces (1)
        requireFencing: fencing,    // never recover before a failed member is fenced
        instance: instance)
    try await ControlDaemon(configuration, subsystem: ToyfsKernel(tree: ConfigfsTree(root: root))).run()
} catch {
    ControlDaemonLog.standardError("toyfs_controld: \(error)")
    exit(1)
}
