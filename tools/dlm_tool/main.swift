// SPDX-License-Identifier: Apache-2.0
// dlm_tool: joins, leaves and lists dlm_controld's lockspaces, lists its nodes and pins (see ControlTool).
import ClusterClient

ControlTool.main(tool: "dlm_tool", daemon: "dlm_controld")
