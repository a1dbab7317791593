// SPDX-License-Identifier: Apache-2.0
// Step 4 of docs/controld.md: the administrator's tool. join/leave/ls/nodes/pin/unpin come with the framework;
// `state NAME` is the subsystem's own request.
import ClusterClient

ControlTool.main(tool: "toyfs_tool", daemon: "toyfs_controld")
