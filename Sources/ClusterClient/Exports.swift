// SPDX-License-Identifier: Apache-2.0
// The types the client library's API uses, made visible to every program that imports ClusterClient, and nothing of
// the IPC plumbing beneath it (connections, the event loop, totem's channel stay internal).

@_exported import struct ClusterTypes.NodeID
@_exported import struct ClusterTypes.ProcessAddress
@_exported import struct ClusterSystem.NodeInstance
@_exported import enum ClusterIPCProtocol.GroupIPC
@_exported import enum ClusterIPCProtocol.CmanIPC
@_exported import enum ClusterIPCProtocol.FenceIPC
@_exported import enum ControlCore.Control
