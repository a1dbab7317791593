// SPDX-License-Identifier: Apache-2.0
// quorumd: votes, quorum and the cman API for this node, on top of totemd.
import ClusterDaemonSupport
import QuorumService

DaemonRunner.main(name: "quorumd", label: "cluster.quorum",
                  abstract: "The cman role: quorum, Disallowed nodes, staged shutdown, config versions, the libcman API.",
                  discussion: "Runs in the foreground (systemd Type=notify) as a client of this node's totemd. SIGTERM is a staged shutdown: it asks the registered clients first.") { runner throws(StartupError) in
    let daemon = try QuorumDaemon(runner: runner)
    try daemon.start()
    return daemon
}
