public enum ClusterIPCProtocolPlaceholder {}
