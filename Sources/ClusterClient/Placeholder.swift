public enum ClusterClientPlaceholder {}
