// SPDX-License-Identifier: Apache-2.0
// o2cb_tool: joins, leaves and lists o2cb_controld's mount groups, lists its nodes and pins (see ControlTool).
import ClusterClient

ControlTool.main(tool: "o2cb_tool", daemon: "o2cb_controld")
