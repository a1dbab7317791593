// SPDX-License-Identifier: Apache-2.0
// totemd: the Totem single-ring ordering and membership protocol for this node.
import ClusterDaemonSupport
import TotemService

DaemonRunner.main(name: "totemd", label: "cluster.totem",
                  abstract: "Totem ordering and membership: the only cluster process on the network.",
                  discussion: "Runs in the foreground (systemd Type=notify). Stops on SIGTERM after announcing its departure.") { runner throws(StartupError) in
    let daemon = try TotemDaemon(runner: runner)
    try daemon.start()
    return daemon
}
