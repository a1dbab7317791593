// SPDX-License-Identifier: Apache-2.0
// fenced: the fence domain's daemon for this node.
import ClusterDaemonSupport
import FenceService

DaemonRunner.main(name: "fenced", label: "cluster.fence",
                  abstract: "The fence domain: cuts failed nodes off with their fence agents before their work is recovered.",
                  discussion: """
                  Runs in the foreground (systemd Type=notify). A client of quorumd and groupd; joins the fence domain \
                  once the cluster is quorate (FENCE_JOIN=no: only when fence_tool join asks). SIGTERM leaves the domain \
                  cleanly, then stops.
                  """) { runner throws(StartupError) in
    let daemon = try FenceDaemon(runner: runner)
    try daemon.start()
    return daemon
}
