public enum ClusterDaemonSupportPlaceholder {}
