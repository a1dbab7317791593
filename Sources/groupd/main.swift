// SPDX-License-Identifier: Apache-2.0
// groupd: closed process groups (CPG) for this node's processes, on top of totemd.
import ClusterDaemonSupport
import GroupService

DaemonRunner.main(name: "groupd", label: "cluster.groups",
                  abstract: "Closed process groups in virtual synchrony for local processes (the CPG role).",
                  discussion: "Runs in the foreground (systemd Type=notify) as a client of this node's totemd. Stops on SIGTERM after telling the other groupds.") { runner throws(StartupError) in
    let daemon = GroupDaemon(runner: runner)
    try daemon.start()
    return daemon
}
