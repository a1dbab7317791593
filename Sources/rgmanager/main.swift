// SPDX-License-Identifier: Apache-2.0
// rgmanager: the resource group manager, which runs the services of cluster.conf's <rm> on this node.
import ClusterDaemonSupport
import ResourceService

DaemonRunner.main(name: "rgmanager", label: "cluster.rgmanager",
                  abstract: "Resource group manager: starts, checks, stops and moves the services of <rm>.",
                  discussion: "Runs in the foreground (systemd Type=notify). SIGTERM stops this node's services (the other nodes start them elsewhere), then leaves; SIGHUP re-reads cluster.conf and reports what changed.") { runner throws(StartupError) in
    let daemon = try ResourceDaemon(runner: runner)
    try daemon.start()
    return daemon
}
