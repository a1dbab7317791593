public enum ClusterIPCPlaceholder {}
